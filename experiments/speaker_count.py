"""Speaker counts found by the diarization tool alone (no LLM) against the true counts.

    python experiments/speaker_count.py ../shared/data/ds-dev
    python experiments/speaker_count.py /tmp/espeak-turns --make 10   # build an espeak-ng set, then count

Reads a Dynamic-SUPERB-style folder (``items.jsonl``: ``task``, ``audio``, ``instruction`` with its
options, ``answer``, ``meta.n_speakers``), runs ``diarize`` on every SpeakerCounting and
MultiSpeakerDetection clip and prints each count found against the true one, the confusion per task,
the exact-count accuracy, the accuracy of the nearest option (what the copilot answers from a
measured count) and, for MultiSpeakerDetection, of "more than one speaker".

``--make N`` first writes N clips per speaker count (1-4) into the folder in the same format: turns of
1.5-3 s cut from espeak-ng sentences (each talker a different voice variant and pitch) with sox,
0.3-0.8 s of silence between turns, a talker sometimes coming back, 8-13 s in all.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from copilot.audio import SAMPLE_RATE, load
from copilot.benchmarks.adapters import read_jsonl
from copilot.espeak import speak
from copilot.tools.diarization import diarize

TASKS = ("SpeakerCounting", "MultiSpeakerDetection")
VOICES = [  # (espeak-ng voice, pitch): a male and a female half, spread in accent, variant and pitch
    ("en-us+m1", 35), ("en-gb+m2", 50), ("en+m3", 25), ("en-gb-scotland+m4", 45), ("en-us+m5", 60),
    ("en-029+m7", 40), ("en+klatt", 30), ("en-gb-x-rp+m6", 55),
    ("en-us+f1", 65), ("en-gb+f2", 75), ("en+f3", 55), ("en-us+f4", 85), ("en-gb-scotland+f5", 70),
    ("en-029+f2", 60), ("en+klatt4", 80), ("en-gb-x-rp+f3", 90),
]
SENTENCES = [
    "The train to the coast leaves every morning at half past seven, unless it is a holiday.",
    "We should paint the kitchen a lighter colour before the new tenants arrive next month.",
    "My grandmother kept bees in the garden, and the honey tasted of clover and lime.",
    "Please remember to close the windows if it starts raining while we are out.",
    "The library has moved the history books to the second floor near the reading room.",
    "After the concert we walked home along the river and watched the boats go by.",
    "I think the meeting would be shorter if everyone read the report beforehand.",
    "Fresh bread, a little butter and some cheese make a perfectly good lunch.",
    "The children built a small wooden bridge across the stream behind the school.",
    "Our neighbour repairs old bicycles and sells them at the market on Saturdays.",
]


def make_set(folder: Path, per_count: int, seed: int) -> None:
    """Write ``per_count`` espeak-ng clips of each speaker count 1-4 and their ``items.jsonl`` into ``folder``."""
    rng = random.Random(seed)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, 5):
            for k in range(per_count):
                voices = rng.sample(VOICES, n)
                order, pieces, turns, t = _order(rng, n), [], [], 0.0
                for who in order:
                    turn = _turn(voices[who], rng.choice(SENTENCES), rng.uniform(1.5, 3.0), Path(tmp) / "turn.wav")
                    pause = np.zeros(int(rng.uniform(0.3, 0.8) * SAMPLE_RATE), np.float32)
                    turns.append({"speaker": "ABCD"[who], "voice": voices[who][0], "pitch": voices[who][1],
                                  "start_s": round(t, 2), "dur_s": round(len(turn) / SAMPLE_RATE, 2)})
                    pieces += [turn, pause]
                    t += (len(turn) + len(pause)) / SAMPLE_RATE
                name = f"audio/espeak_{n}_{k:02d}.wav"
                sf.write(folder / name, np.concatenate(pieces[:-1]), SAMPLE_RATE, subtype="PCM_16")
                items.append({"id": f"SpeakerCounting/{len(items)}", "task": "SpeakerCounting", "audio": name,
                              "meta": {"n_speakers": n, "turns": turns}})
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))


def _order(rng: random.Random, n: int) -> list[int]:
    """Who speaks each turn: everyone once in a random order, then returns (never twice in a row) up to 4-5 turns."""
    order = rng.sample(range(n), n)
    while len(order) < rng.choice((4, 5)) and (n > 1 or len(order) < 4):
        order.append(rng.choice([s for s in range(n) if s != order[-1]] or [0]))
    return order


def _turn(voice: tuple[str, int], text: str, seconds: float, tmp: Path) -> np.ndarray:
    """``seconds`` of ``text`` spoken by ``voice``, leading and trailing silence removed, at 16 kHz."""
    speak(text, tmp, voice=voice[0], pitch=voice[1], speed=160, rate=SAMPLE_RATE, trim="both", seconds=seconds)
    samples, _ = sf.read(tmp, dtype="float32")
    return samples


def _options(instruction: str) -> list[int]:
    """The numeric options of a counting question, e.g. ``(a) 3 (b) 1`` -> [3, 1]."""
    return [int(x) for x in re.findall(r"\(\w\)\s*(\d+)", instruction)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="a Dynamic-SUPERB-style folder (items.jsonl)")
    p.add_argument("--make", type=int, metavar="N", help="first build N espeak-ng clips per speaker count into DATA")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.make:
        make_set(args.data, args.make, args.seed)
    items = list(read_jsonl(args.data / "items.jsonl"))
    for task in TASKS:
        chosen = [i for i in items if i["task"] == task]
        if not chosen:
            continue
        confusion: Counter[tuple[int, int]] = Counter()
        exact = option = multi = asked = 0
        print(f"## {task}\n")
        for item in chosen:
            truth, found = item["meta"]["n_speakers"], diarize(load(args.data / item["audio"])).num_speakers
            confusion[truth, found] += 1
            exact += found == truth
            choices = _options(item.get("instruction", ""))  # none for yes/no items and the espeak set
            option += bool(choices) and min(choices, key=lambda c: (abs(c - found), c)) == truth
            asked += bool(choices)
            multi += (found > 1) == (truth > 1)
            print(f"{item['id']:28} true {truth}  found {found}{'' if found == truth else '  x'}")
        counts = sorted({t for t, _ in confusion})
        found_values = sorted({f for _, f in confusion})
        print("\ntrue \\ found " + " ".join(f"{f:>3}" for f in found_values))
        for t in counts:
            print(f"{t:>12} " + " ".join(f"{confusion[t, f]:>3}" for f in found_values))
        n = len(chosen)
        nearest = f"; nearest option {option}/{asked} = {option / asked:.0%}" if asked else ""
        print(f"\nexact count {exact}/{n} = {exact / n:.0%}{nearest}; more than one speaker {multi}/{n} = {multi / n:.0%}\n")


if __name__ == "__main__":
    main()
