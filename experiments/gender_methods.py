"""Gender by pitch, by a learned head, and by both: accuracy of each on a SAKURA-format Gender track.

    python experiments/gender_methods.py --data ../shared/data/sakura-dev

The pitch rule is the `gender` tool's median F0 against 159 Hz; the head is the shipped gender head; "both" adds their log-odds of ``female``, as the tool does (the
head alone where the rule finds no pitch, which the rule alone counts wrong). Each method hears the same speech.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from copilot.audio import load
from copilot.benchmarks.adapters import read_jsonl
from copilot.tools import gender
from copilot.tools.speaker import speech_samples
from copilot.tools.vad import speech_segments


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a SAKURA-format folder (items.jsonl)")
    args = p.parse_args()
    items = list(read_jsonl(args.data / "items.jsonl"))
    items = [i for i in items if i["track"] == "Gender" and i["hop"] == "single"]
    right = {"pitch": 0, "head": 0, "both": 0}
    for item in tqdm(items, unit="clip"):
        audio = load(args.data / item["audio"])
        speech = speech_samples(audio, speech_segments(audio))
        f0 = gender.median_f0(speech)
        p_pitch = gender.pitch_p_female(f0) if f0 is not None else None
        p_head = gender.head_p_female(speech)
        truth = item["attribute_label"].lower() == "female"
        for name, p_female in (("pitch", p_pitch), ("head", p_head), ("both", gender.combine(p_pitch, p_head))):
            right[name] += p_female is not None and (p_female >= 0.5) == truth
    for name, n in right.items():
        print(f"{name:6} {n}/{len(items)} = {n / len(items):.1%}")


if __name__ == "__main__":
    main()
