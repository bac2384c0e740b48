"""Throughput on SAKURA: questions per hour with K workers, and what the tool cache saves.

    python -m copilot.benchmarks.throughput --data ../shared/data/sakura-dev [--clips 20] [--workers 2]

SAKURA asks two questions about every clip (single- and multi-hop). Each worker takes whole
clips and asks their two questions in turn, with a fresh tool cache, so the second question's
tools come from the cache. It prints questions per hour and the tool time the cache saved.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.items import Item, Result
from copilot.benchmarks.runner import attempt, select
from copilot.benchmarks.systems import CopilotSystem


def tool_seconds(result: Result) -> dict[str, float]:
    """Seconds per tool this answer's steps took (``step.<id>.<tool>`` timings)."""
    seconds: dict[str, float] = defaultdict(float)
    for key, value in result.timings.items():
        if key.startswith("step."):
            seconds[key.rsplit(".", 1)[1]] += value
    return seconds


def saved_seconds(results: list[Result]) -> float:
    """Tool time the cache saved a clip's later questions: what each cached tool took when it first ran."""
    ran: dict[str, float] = {}
    saved = 0.0
    for result in results:
        cached = {e["tool"] for e in result.evidence if e.get("cached")}
        saved += sum(ran.get(tool, 0.0) for tool in cached)
        ran.update({tool: s for tool, s in tool_seconds(result).items() if tool not in cached})
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="SAKURA's folder (items.jsonl + audio/)")
    parser.add_argument("--clips", type=int, default=20, help="clips to ask about, taken in turn from each track")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    by_clip: dict[tuple[str, ...], list[Item]] = defaultdict(list)
    for item in load_items("sakura", args.data):
        by_clip[tuple(map(str, item.audio))].append(item)
    firsts = select([questions[0] for questions in by_clip.values()], args.clips)
    clips = [by_clip[tuple(map(str, item.audio))] for item in firsts]
    system = CopilotSystem(cache=Path(tempfile.mkdtemp(prefix="throughput-")) / "tools.sqlite")
    system.answer(clips[0][0], clips[0][0].question)  # load every model before the clock starts, on a clip not timed
    clips = clips[1:]

    def ask_clip(questions: list[Item]) -> list[Result]:
        return [attempt(item, 0, item.question, system, None, "sakura") for item in questions]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        answered = list(pool.map(ask_clip, clips))
    hours = (time.perf_counter() - started) / 3600
    questions = sum(len(r) for r in answered)
    errors = sum(r.error is not None for results in answered for r in results)
    spent = sum(sum(tool_seconds(r).values()) for results in answered for r in results)
    saved_per_clip = [saved_seconds(results) for results in answered]
    hits = sum(bool(e.get("cached")) for results in answered for r in results[1:] for e in r.evidence if "tool" in e)
    steps = sum("tool" in e for results in answered for r in results[1:] for e in r.evidence)
    print(f"{len(answered)} clips, {questions} questions, {args.workers} workers, {errors} errors")
    print(f"throughput: {questions / hours:.0f} questions per hour ({3600 * hours / questions:.1f} s per question)")
    print(f"tools ran {spent:.1f} s; the cache answered {hits} of {steps} steps of the clips' second questions, "
          f"saving {sum(saved_per_clip):.1f} s of tool time ({statistics.mean(saved_per_clip):.2f} s per clip)")


if __name__ == "__main__":
    main()
