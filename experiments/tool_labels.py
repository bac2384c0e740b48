"""How well one tool's labels answer a labelled benchmark's questions, with no LLM in the way.

    python experiments/tool_labels.py --data ../shared/data/sakura-dev --track Emotion --tool emotion
    python experiments/tool_labels.py --data ../shared/data/sakura-dev --track Gender --tool gender \\
        --gender f0,head,both

For each clip of a SAKURA-format track (``attribute_label`` holds the truth) it runs the tool once and
prints: the top label's accuracy, and the accuracy of the best-ranked option among each single-hop
question's options (what the answer step's label match picks), overall and per source (the clip
name's prefix: CREMA-D ``10xx_`` against MELD ``dia``). ``--backend`` sets the tool family's backend.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from copilot import backends
from copilot.answering.matching import match_option
from copilot.audio import load
from copilot.benchmarks.adapters import read_jsonl
from copilot.errors import NothingToMeasure
from copilot.question.request import split_options
from copilot.registry import default_registry


def source(audio: str) -> str:
    name = Path(audio).name
    return "MELD (TV)" if name.startswith("dia") else "CREMA-D (acted)" if name[:2] == "10" else "other"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a SAKURA-format folder (items.jsonl)")
    p.add_argument("--track", required=True)
    p.add_argument("--tool", required=True)
    p.add_argument("--family", help="the backend family to set (default: the tool's name)")
    p.add_argument("--backend", help="NAME[:PATH] of the family's backend")
    p.add_argument("--args", default="{}", help="the tool's arguments as JSON")
    args = p.parse_args()
    if args.backend:
        backends.select(args.family or args.tool, args.backend)
    tool = default_registry().get(args.tool)
    items = list(read_jsonl(args.data / "items.jsonl"))
    items = [i for i in items if i["track"] == args.track and i["hop"] == "single"]
    top: dict[str, list[bool]] = defaultdict(list)
    best: dict[str, list[bool]] = defaultdict(list)
    for item in tqdm(items, desc=args.tool, unit="clip"):
        try:
            labels = [label.lower() for label in tool(json.loads(args.args), {"audio1": load(args.data / item["audio"])}).findings().labels]
        except NothingToMeasure as exc:  # counted wrong, as the answer step would get no label
            print(f"{item['audio']}: {exc}", file=sys.stderr)
            labels = []
        truth = item["attribute_label"].lower()
        _, options = split_options(item["instruction"])
        hit = match_option(options, labels)
        right = options.index(next(o for o in options if o.lower() == truth)) if truth in map(str.lower, options) else None
        for key in ("all", source(item["audio"])):
            top[key].append(bool(labels) and labels[0] == truth)
            best[key].append(hit is not None and hit == right)
    for key in top:
        n = len(top[key])
        print(f"{key:16} {n:3d} clips  top label {sum(top[key]) / n:6.1%}  best-ranked option {sum(best[key]) / n:6.1%}")


if __name__ == "__main__":
    main()
