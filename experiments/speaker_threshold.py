"""How well the speaker encoder separates the speakers of a labelled corpus, and where its threshold would sit.

    python experiments/speaker_threshold.py ../shared/data/emotion-train --per-speaker 24

Reads ``items.jsonl`` (``audio``, ``speaker``; ``gender`` and ``corpus`` when there are), embeds up to
``--per-speaker`` clips of each speaker with the ``speaker_verification`` tool's encoder, and scores every pair of
clips from one corpus: the same speaker, and two speakers of the same gender (the hard impostors). Per corpus it
prints the median of each, the equal-error rate and the cosine where it falls, and how often the tool's own
threshold (for the pair's speech durations) rejects the same speaker and accepts a different one. With
``--same-label FIELD`` only pairs that agree on FIELD are scored (``emotion``: one speaker in one mood).
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from copilot.audio import SAMPLE_RATE, load
from copilot.benchmarks.adapters import read_jsonl
from copilot.errors import NothingToMeasure
from copilot.tools.speaker import MIN_SPEECH, embed_speech, speech_of, threshold


def equal_error(same: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """The equal-error rate of same-speaker scores against different-speaker ones, and the score where it falls."""
    cuts = np.quantile(np.concatenate([same, other]), np.linspace(0, 1, 2001))
    cut = min(cuts, key=lambda c: abs((same < c).mean() - (other >= c).mean()))
    return float(((same < cut).mean() + (other >= cut).mean()) / 2), float(cut)


@dataclass(frozen=True)
class Separation:
    """Scores of the pairs of one corpus: (cosine, the tool's threshold for the pair) for the same speaker and for
    two speakers of one gender."""

    same: np.ndarray
    other: np.ndarray

    def row(self, corpus: str) -> str:
        rate, cut = equal_error(self.same[:, 0], self.other[:, 0])
        rejects = (self.same[:, 0] < self.same[:, 1]).mean()
        accepts = (self.other[:, 0] >= self.other[:, 1]).mean()
        return (f"{corpus:12} {len(self.same):6} {np.median(self.same[:, 0]):.2f}   {len(self.other):7} "
                f"{np.median(self.other[:, 0]):.2f}   {rate:5.1%} at {cut:.2f}    {rejects:.0%}, {accepts:.0%}")


def separation(data: Path, items: list[dict], per_speaker: int, same_label: str | None, seed: int) -> dict[str, Separation]:
    """Per corpus, the pair scores of up to ``per_speaker`` clips of each speaker (see the module docstring)."""
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_speaker[item["speaker"]].append(item)
    rng = random.Random(seed)
    chosen = [i for clips in by_speaker.values() for i in rng.sample(clips, min(per_speaker, len(clips)))]
    kept, vectors, seconds = [], [], []
    for item in tqdm(chosen, unit="clip"):
        speech = speech_of(load(data / item["audio"]))
        try:
            vectors.append(embed_speech(speech, item["audio"]))
        except NothingToMeasure:
            continue
        kept.append(item)
        seconds.append(len(speech) / SAMPLE_RATE)
    if len(kept) < 2:
        raise SystemExit(f"only {len(kept)} of {len(chosen)} clips had the {MIN_SPEECH:.0f} s of speech a voice needs")
    scores = np.stack(vectors) @ np.stack(vectors).T
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: {"same": [], "other": []})
    for i, j in zip(*np.triu_indices(len(kept), 1), strict=True):
        a, b = kept[i], kept[j]
        if a.get("corpus") != b.get("corpus") or a.get("gender") != b.get("gender"):
            continue
        if same_label and a.get(same_label) != b.get(same_label):
            continue
        kind = "same" if a["speaker"] == b["speaker"] else "other"
        pairs[a.get("corpus") or "all"][kind].append((float(scores[i, j]), threshold(seconds[i], seconds[j])))
    return {
        corpus: Separation(np.array(found["same"]), np.array(found["other"]))
        for corpus, found in sorted(pairs.items())
        if found["same"] and found["other"]
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="a folder with items.jsonl: audio, speaker (gender, corpus optional)")
    p.add_argument("--per-speaker", type=int, default=24, help="clips embedded per speaker, drawn at random")
    p.add_argument("--same-label", metavar="FIELD", help="score only pairs whose items agree on this field")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    items = list(read_jsonl(args.data / "items.jsonl"))
    found = separation(args.data, items, args.per_speaker, args.same_label, args.seed)
    print("corpus       same: n, median   other: n, median   EER at cosine   tool's threshold: rejects same, accepts other")
    for corpus, scores in found.items():
        print(scores.row(corpus))


if __name__ == "__main__":
    main()
