"""Per-tool load time, real-time factor on a 30 s clip, and resident memory; run on a quiet machine.

    python -m copilot.benchmarks.tool_speed [AUDIO] [--seconds 30] [--llm]

The clip is tiled or cut to ``--seconds``. "load" is the first call on a 5 s piece of it (model
assembly check, loading and warm-up); "RTF" is the time of a second call on the whole clip
divided by its duration. Memory is the process's resident set after each tool.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from copilot.audio import from_array, load
from copilot.inspection import single_clip_tools
from copilot.registry import default_registry


def rss_mb() -> tuple[float, float]:
    """Current and peak resident memory of this process, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default="examples/meeting.wav")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--llm", action="store_true",
                        help="also load the embedded LLM and the sentence embedder, for the all-models memory figure")
    args = parser.parse_args()

    source = load(args.audio).samples
    n = int(args.seconds * 16000)
    clip = from_array(np.tile(source, -(-n // len(source)))[:n])
    short = {"audio1": from_array(clip.samples[2 * 16000 : 7 * 16000])}
    clips = {"audio1": clip, "audio2": clip}
    registry = default_registry()
    names = [*single_clip_tools(registry), *(["speaker_verification"] if "speaker_verification" in registry else [])]

    print(f"clip: {args.audio} tiled to {clip.duration:.1f} s; baseline RSS {rss_mb()[0]:.0f} MB\n")
    print("| tool | load (s) | time on clip (s) | RTF | RSS after (MB) |")
    print("|---|---|---|---|---|")
    for name in names:
        tool = registry.get(name)
        started = time.perf_counter()
        tool({}, {**short, "audio2": short["audio1"]})
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        tool({}, clips)
        seconds = time.perf_counter() - started
        print(f"| {name} | {loaded:.2f} | {seconds:.2f} | {seconds / clip.duration:.4f} | {rss_mb()[0]:.0f} |")
    if args.llm:
        from copilot.planners import load_llm

        started = time.perf_counter()
        load_llm("embedded")
        print(f"| embedded LLM (load only) | {time.perf_counter() - started:.2f} | - | - | {rss_mb()[0]:.0f} |")
        from copilot import sentences

        started = time.perf_counter()
        sentences.embed(["Which animal makes the sound heard in the clip?"])
        print(f"| sentence embedder, plan reuse (load, one question) | {time.perf_counter() - started:.2f} | - | - "
              f"| {rss_mb()[0]:.0f} |")
    current, peak = rss_mb()
    print(f"\nall models loaded: RSS {current:.0f} MB, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
