"""The embedded LLM's resident memory over many calls whose system prompts take turns in its slots, as a benchmark
run's planning, answering and option-linking prompts do.

    python -m copilot.benchmarks.llm_memory [--calls 120] [--prompts 5]

With more distinct system prompts than slots, each call moves a slot to another prompt. llama.cpp keeps the state
of the prompt it moved away from in RAM, up to `RAM_CACHE_MIB`; uncapped (8 GiB by default) that grew a SAKURA run
by about 20 MB a question. The figure to read is the growth after the first call, which should level off below the cap.
"""

from __future__ import annotations

import argparse

from copilot.planners import load_llm
from copilot.planners.embedded import RAM_CACHE_MIB, SLOTS

SCHEMA = {"type": "object", "properties": {"a": {"enum": ["x", "y"]}}, "required": ["a"], "additionalProperties": False}


def resident_mb() -> float:
    """This process's resident memory, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--prompts", type=int, default=5, help=f"distinct system prompts (the LLM has {SLOTS} slots)")
    args = parser.parse_args()

    llm = load_llm("embedded")
    systems = [f"You link options to attribute {n}. " + "Think about each option carefully. " * 20 for n in range(args.prompts)]
    first = 0.0
    for i in range(args.calls):
        llm.complete([{"role": "system", "content": systems[i % args.prompts]}, {"role": "user", "content": f"Pick {i}."}],
                     SCHEMA, 4)
        if i == 0:
            first = resident_mb()
        if (i + 1) % 20 == 0:
            print(f"{i + 1} calls: {resident_mb():.0f} MB resident, {resident_mb() - first:+.0f} MB since the first "
                  f"(cap on llama.cpp's prompt cache: {RAM_CACHE_MIB} MiB)", flush=True)


if __name__ == "__main__":
    main()
