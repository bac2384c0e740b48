"""Seconds, real-time factor and peak memory of the long-running tools on an N-minute recording.

    python -m copilot.benchmarks.long_recording --minutes 10 30 [--tools asr voice_activity ...] [--dir DIR]

Each length gets a recording made for the purpose (`make_recording`): four espeak-ng voices taking turns (one to
three sentences a turn, pauses of 0.3-1.2 s) over quiet brown noise, with 10-30 s of noise alone every 3 minutes,
written as 16 kHz 16-bit wav in ``--dir`` (kept, so a second run reuses it). Every tool then runs in a process of
its own (`copilot run TOOL FILE`, and `copilot transcript FILE` with an empty tool cache) under ``/usr/bin/time -v``,
so "peak RSS" is that process's own high-water mark: models, the decoded clip and the tool's working memory.
Times depend on what else the machine runs; RSS does not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.audio import SAMPLE_RATE
from copilot.espeak import speak

VOICES = (("en", 45), ("en+f3", 60), ("en-us+m3", 35), ("en+f2", 75))  # espeak-ng voice, pitch
SENTENCES = (
    "Good morning everyone, let us start with the budget for the new library.",
    "The contractor says the roof will be finished by the end of March.",
    "I think we should ask the council for another twelve thousand euros.",
    "Can we move the opening to the first weekend of May instead?",
    "The parking area behind the school is still flooded after the rain.",
    "Our volunteers counted three hundred and forty visitors last Saturday.",
    "Please send me the minutes of the last meeting before Friday.",
    "The new printers arrived, but nobody has installed them yet.",
    "We agreed to invite forty people to the reopening ceremony.",
    "The children's corner needs more shelves and two new carpets.",
    "Maria will call the electrician about the lights in the hall.",
    "Let us vote on the proposal to open on Sunday afternoons.",
    "The insurance company wants a written report of the damage.",
    "I spoke with the mayor yesterday and she supports the plan.",
    "We should publish the reading programme on the website next week.",
    "The heating bill was much higher than last winter.",
    "Who is responsible for the keys when the caretaker is away?",
    "The book sale raised almost nine hundred euros for the repairs.",
    "Could we rent the small room to the chess club on Tuesdays?",
    "The architect will present three designs at the next meeting.",
    "We still need a volunteer to run the summer reading challenge.",
    "The old computers can go to the primary school on Elm Street.",
    "Thank you all, that was a useful discussion, let us stop here.",
    "Before we finish, does anyone have another point to raise?",
)
BREAK_EVERY, BREAK_SECONDS = 180.0, (10.0, 30.0)  # seconds between noise-only stretches, and their length
NOISE_DBFS = -50.0


def _utterances(folder: Path) -> list[list[np.ndarray]]:
    """Every sentence in every voice, 16 kHz float32, rendered once into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    spoken = []
    for v, (voice, pitch) in enumerate(VOICES):
        row = []
        for s, text in enumerate(SENTENCES):
            path = folder / f"v{v}-s{s}.wav"
            if not path.exists():
                speak(text, path, voice=voice, pitch=pitch, rate=SAMPLE_RATE, volume=0.6, trim="both", dither=False)
            row.append(sf.read(path, dtype="float32")[0])
        spoken.append(row)
    return spoken


def _brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    noise = np.cumsum(rng.standard_normal(n).astype(np.float32))
    noise -= np.convolve(noise, np.ones(801, np.float32) / 801, mode="same")  # keep it from drifting
    return (noise * 10 ** (NOISE_DBFS / 20) / (np.std(noise) + 1e-9)).astype(np.float32)


def make_recording(path: Path, minutes: float, seed: int = 0) -> list[dict]:
    """A ``minutes``-long meeting of four espeak-ng voices over brown noise written to ``path``; returns its turns
    (voice, start, end, text), also written beside it as ``<name>.json``."""
    rng = np.random.default_rng(seed)
    spoken = _utterances(path.parent / "utterances")
    total = round(minutes * 60 * SAMPLE_RATE)
    out = np.zeros(total, np.float32)
    turns, t, voice, next_break = [], 1.0, 0, BREAK_EVERY
    while True:
        if t >= next_break:
            t += rng.uniform(*BREAK_SECONDS)
            next_break += BREAK_EVERY
        voice = (voice + int(rng.integers(1, len(VOICES)))) % len(VOICES)
        picks = rng.choice(len(SENTENCES), size=int(rng.integers(1, 4)), replace=False)
        start = t
        for s in picks:
            clip = spoken[voice][s]
            a = round(t * SAMPLE_RATE)
            if a + len(clip) > total:
                break
            out[a : a + len(clip)] += clip
            t += len(clip) / SAMPLE_RATE + rng.uniform(0.15, 0.4)
        else:
            turns.append(
                {
                    "voice": voice,
                    "start": round(start, 2),
                    "end": round(t, 2),
                    "text": " ".join(SENTENCES[s] for s in picks),
                }
            )
            t += rng.uniform(0.3, 1.2)
            continue
        break
    for i in range(0, total, 60 * SAMPLE_RATE):  # a minute at a time: the noise of 2 hours is 460 MB as float32
        out[i : i + 60 * SAMPLE_RATE] += _brown_noise(min(60 * SAMPLE_RATE, total - i), rng)
    sf.write(path, out, SAMPLE_RATE, subtype="PCM_16")
    path.with_suffix(".json").write_text(json.dumps(turns, indent=1))
    return turns


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall-clock seconds and peak RSS (MB) of ``command`` run under ``/usr/bin/time -v``, and its stdout."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024  # type: ignore[union-attr]
    clock = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    h, m, s = clock.groups()  # type: ignore[union-attr]
    return int(h or 0) * 3600 + int(m) * 60 + float(s), rss, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0])
    parser.add_argument(
        "--tools", nargs="+", default=["voice_activity", "sound_events", "diarization", "asr", "transcript"]
    )
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "speech-copilot-long")
    args = parser.parse_args()

    copilot = [sys.executable, "-c", "import sys; from copilot.cli import main; sys.exit(main())"]
    env = {**os.environ, "SPEECH_COPILOT_MAX_DURATION": str(max(args.minutes) * 60 + 60)}
    print("| minutes | tool | seconds | RTF | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for minutes in args.minutes:
        path = args.dir / f"meeting-{minutes:g}min.wav"
        if not path.exists():
            make_recording(path, minutes)
        for name in args.tools:
            with tempfile.TemporaryDirectory() as cache:  # an empty tool cache (the transcript runs its tools)...
                (Path(cache) / "models").symlink_to(_models())  # ...beside the models already assembled
                run_env = {**env, "SPEECH_COPILOT_CACHE": cache}
                command = (
                    [*copilot, "transcript", str(path)] if name == "transcript" else [*copilot, "run", name, str(path)]
                )
                seconds, rss, _ = measure(command, run_env)
            print(f"| {minutes:g} | {name} | {seconds:.1f} | {seconds / (minutes * 60):.3f} | {rss:.0f} |", flush=True)


def _models() -> Path:
    """The cache folder's assembled models (`copilot models fetch`)."""
    from copilot.config import Settings

    return Settings.from_env().cache_dir / "models"


if __name__ == "__main__":
    main()
