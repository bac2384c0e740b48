"""Agent latency on a 10 s clip: warm p50 per question, a second question through the cache, and cold start.

    python -m copilot.benchmarks.latency [AUDIO] [--planner embedded] [--repeats 3]

Each warm question runs on a clip the tool cache has never seen (a fresh cache folder per
repeat), after one warm-up question has loaded every model. It prints the breakdown: load,
plan, each tool, answer.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.agent import Copilot
from copilot.audio import from_array, load
from copilot.cache import ToolCache
from copilot.planners import load_planner

QUESTIONS = [
    "What does the speaker say?",
    "How many people speak in this recording?",
    "What is the sound in the background?",
    "How long is the recording?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default="examples/meeting.wav")
    parser.add_argument("--planner", default="embedded")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    full = load(args.audio)
    clip = from_array(full.samples[: 10 * 16000])
    loaded = load_planner(args.planner)
    load_seconds = time.perf_counter() - started
    tmp = Path(tempfile.mkdtemp(prefix="latency-"))
    warmup = Copilot(loaded.planner, loaded.llm, cache=ToolCache(tmp / "warmup.sqlite"), amend=loaded.amend)
    warmup.ask({"audio1": from_array(full.samples[-16000 * 5 :])}, QUESTIONS[0])
    print(f"clip: first 10 s of {args.audio}; planner {loaded.planner.name}; load {load_seconds:.2f} s\n")

    print("| question | total | plan | tools | answer | tools run |")
    print("|---|---|---|---|---|---|")
    totals, plans, seconds_cached = [], [], []
    for repeat in range(args.repeats):
        for i, question in enumerate(QUESTIONS):
            agent = Copilot(loaded.planner, loaded.llm, cache=ToolCache(tmp / f"r{repeat}q{i}.sqlite"), amend=loaded.amend)
            answer = agent.ask({"audio1": clip}, question)
            t = answer.trace.timings
            plan = sum(v for k, v in t.items() if k.startswith("plan."))
            tools = sum(v for k, v in t.items() if k.startswith("step."))
            totals.append(t["total"])
            plans.append(plan)
            steps = ", ".join(f"{e.tool} {e.seconds:.2f}" for e in answer.evidence)
            print(f"| {question} | {t['total']:.2f} | {plan:.2f} | {tools:.2f} | {t.get('answer', 0):.2f} | {steps} |")
            again = agent.ask({"audio1": clip}, question.replace("?", ", please?"))
            seconds_cached.append(again.trace.timings["total"])

    print(f"\nwarm p50 total {statistics.median(totals):.2f} s, p50 planning {statistics.median(plans):.2f} s")
    print(f"second question on the same clip (tool cache): p50 {statistics.median(seconds_cached):.2f} s")

    fresh = tmp / "cold.wav"  # new bytes, so the tool cache cannot answer for it
    sf.write(fresh, clip.samples + np.random.default_rng().normal(0, 1e-4, len(clip.samples)).astype(np.float32), 16000)
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "copilot.cli", "ask", str(fresh), QUESTIONS[0], "--planner", args.planner]
    subprocess.run(cmd, check=True, capture_output=True)
    # a new process: models load from disk and the planner's prompt cache is restored (saved by the runs above)
    print(f"cold start of the CLI to an answer: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
