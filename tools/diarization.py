"""Speaker diarization, who spoke when: Silero VAD, GE2E window embeddings, agglomerative clustering.

The speech segments are covered by 1.6 s windows every 0.2 s; each window's embedding is averaged
with its neighbours within 0.2 s (a 2 s span), and the windows are clustered by average-linkage
agglomerative clustering with a cosine-distance threshold, so the number of speakers is found, one
included. A cluster holding under 15% of the clip's speech (and under 3 s) is folded into the most
similar one (it is mostly windows straddling a change of speaker), and windows are then reassigned
to the nearest cluster centre. Each 10 ms of speech takes the speaker of the window centred nearest to it.

The distance threshold (`DISTANCE`) and the small-cluster fold (`MIN_SHARE`, `MIN_SPEAKER`) were chosen on
real recordings and on espeak-ng clips of short turns. No fixed threshold serves every corpus: espeak voices are
closer to each other than real talkers, and two similar voices whose turns change without a pause can merge;
a single talker is sometimes split in two, and overlapped speech gets one speaker. How each setting was measured,
and what was tried and not kept: docs/benchmarks.md (the diarization entries of "Tool accuracy").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field

from copilot import backends
from copilot.audio import Audio
from copilot.tool import Clips, Findings, Quantity, Segment, SpanInput, ToolOutput, tool
from copilot.tools import speaker
from copilot.tools.vad import speech_segments

STEP = 0.2  # seconds between windows
MAX_WINDOWS = 3000  # beyond this many the step grows, to bound clustering time and memory...
MAX_STEP = 0.8  # ...up to half a window, so windows still cover all the speech (past that, see `_cluster`)
SMOOTH = 0.2  # seconds either side over which window embeddings are averaged
DISTANCE = 0.26  # average-linkage cosine distance at which clusters stop merging (see docs/benchmarks.md)
MIN_SHARE = 0.15  # share of the clip's speech below which a cluster is folded into its nearest neighbour...
MIN_SPEAKER = 3.0  # ...unless it holds this many seconds (see docs/benchmarks.md)
FRAME = 0.01  # seconds per labelled frame
JOIN_GAP = 1.0  # a speaker's turns less than this far apart, with nobody between, are one turn


class Turn(Segment):
    """A stretch of one speaker talking."""

    speaker: str


class SpeakerTime(BaseModel):
    speaker: str
    duration: float = Field(description="total speaking time, in seconds")


class DiarizationOutput(ToolOutput):
    num_speakers: int = Field(description="number of distinct voices found (0 when there is no speech)")
    turns: list[Turn] = Field(description="who spoke when, in time order; speakers S1, S2... in order of first speech")
    speaking_time: list[SpeakerTime] = Field(description="total speech per speaker")

    def findings(self) -> Findings:
        terms = ["speaker", "talker", "voice", "people", "person", "participant", "individual"]
        quantities = [Quantity(name="number of speakers", value=self.num_speakers, unit="", terms=terms)]
        if not self.num_speakers:
            return Findings(facts="Speakers: 0 (no speech detected)", quantities=quantities)
        times = ", ".join(f"{t.speaker} {t.duration:.1f} s" for t in self.speaking_time)
        shown = ", ".join(f"{t.speaker} {t.start:.1f}-{t.end:.1f}" for t in self.turns[:20])
        more = f" (+{len(self.turns) - 20} more)" if len(self.turns) > 20 else ""
        return Findings(facts=f"Speakers: {self.num_speakers}; {times}; turns: {shown}{more}", quantities=quantities)


def diarize(audio: Audio) -> DiarizationOutput:
    """Who spoke when in ``audio``, times in seconds of the original clip; the speaker count is found, not given."""
    segments = speech_segments(audio)
    if not segments:
        return DiarizationOutput(num_speakers=0, turns=[], speaking_time=[])
    speech = sum(s.duration for s in segments)
    times, embeddings = speaker.partial_embeddings(
        audio, segments, float(np.clip(speech / MAX_WINDOWS, STEP, MAX_STEP))
    )
    centres = times.mean(axis=1)
    frames = [np.arange(s.start, s.end, FRAME) for s in segments]
    owners = [_nearest(centres, f) for f in frames]
    weights = np.bincount(np.concatenate(owners), minlength=len(centres)) * FRAME
    labels = _cluster(_smooth(embeddings, centres), weights)
    turns = _turns(segments, frames, [labels[o] for o in owners])
    order = {s: f"S{i}" for i, s in enumerate(dict.fromkeys(t.speaker for t in turns), 1)}
    turns = [t.model_copy(update={"speaker": order[t.speaker]}) for t in turns]
    totals = {name: round(sum(t.duration for t in turns if t.speaker == name), 2) for name in order.values()}
    return DiarizationOutput(
        num_speakers=len(order),
        turns=turns,
        speaking_time=[SpeakerTime(speaker=name, duration=d) for name, d in totals.items()],
    )


def load_builtin(path: None) -> Callable[[Audio], DiarizationOutput]:
    """The default diarization backend: `diarize`. Any backend is a function from audio to `DiarizationOutput`."""
    return diarize


def _nearest(centres: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the index of the window centred nearest to it."""
    order = np.argsort(centres, kind="stable")
    ranked = centres[order]
    right = np.minimum(np.searchsorted(ranked, times), len(ranked) - 1)
    left = np.maximum(right - 1, 0)
    return order[np.where(np.abs(times - ranked[left]) <= np.abs(ranked[right] - times), left, right)]


def _smooth(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each embedding averaged with those of windows centred within `SMOOTH` seconds, renormalised."""
    order = np.argsort(centres, kind="stable")
    sorted_centres = centres[order]
    lo = np.searchsorted(sorted_centres, centres - SMOOTH - 1e-6, "left")
    hi = np.searchsorted(sorted_centres, centres + SMOOTH + 1e-6, "right")
    sums = np.vstack([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings[order], axis=0)])
    means = sums[hi] - sums[lo]
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def _cluster(embeddings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A speaker label per window: agglomerative clusters, small ones folded in, windows moved to the nearest centre.

    Over `MAX_WINDOWS` windows (a long recording), the clusters are found on `MAX_WINDOWS` windows spread evenly over
    it, and every window then goes to the nearest of their centres: average linkage holds a distance for every pair
    of windows, which for the 9,000 windows of two hours of speech would be 320 MB."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), int)
    from sklearn.cluster import AgglomerativeClustering

    sample = np.unique(np.linspace(0, len(embeddings) - 1, min(len(embeddings), MAX_WINDOWS)).round().astype(int))
    points, seconds_of = embeddings[sample], weights[sample] * (weights.sum() / weights[sample].sum())
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=DISTANCE
    ).fit_predict(points)
    enough = min(MIN_SPEAKER, MIN_SHARE * weights.sum())
    while True:
        ids = np.unique(labels)
        seconds = np.array([seconds_of[labels == k].sum() for k in ids])
        if len(ids) == 1 or seconds.min() >= enough:
            break
        small = ids[seconds.argmin()]
        others = ids[ids != small]
        similarity = _centres(points, labels, others) @ points[labels == small].mean(axis=0)
        labels[labels == small] = others[similarity.argmax()]
    for _ in range(3):
        ids = np.unique(labels)
        labels = ids[(embeddings @ _centres(points, labels, ids).T).argmax(axis=1)]
        points = embeddings
    return labels


def _centres(embeddings: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    means = np.stack([embeddings[labels == k].mean(axis=0) for k in ids])
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def _turns(segments: list[Segment], frames: list[np.ndarray], labels: list[np.ndarray]) -> list[Turn]:
    """Runs of one label inside each segment, joined across short pauses when the speaker continues."""
    turns: list[Turn] = []
    for seg, times, labs in zip(segments, frames, labels, strict=True):
        cuts = [0, *np.flatnonzero(labs[1:] != labs[:-1]) + 1, len(labs)]
        for a, b in itertools.pairwise(cuts):
            name, start, end = str(labs[a]), float(times[a]), float(times[b]) if b < len(times) else seg.end
            if turns and turns[-1].speaker == name and start - turns[-1].end < JOIN_GAP:
                turns[-1].end = round(end, 2)
            else:
                turns.append(Turn(speaker=name, start=round(start, 2), end=round(end, 2)))
    return turns


@tool(version="3", serves=("how many people", "how many speakers", "how many voices", "who speaks", "number of speakers"))
def diarization(args: SpanInput, clips: Clips) -> DiarizationOutput:
    """Who spoke when: how many different people speak, their turns with start and end times, and
    each one's total speaking time.

    The number of speakers is found automatically (one included; 0 when there is no speech).
    Returns `num_speakers`, `turns` (speakers S1, S2... in order of first speech, start and end in
    seconds) and each speaker's total `speaking_time`. Labels are anonymous and only hold within
    this clip: use speaker_verification to compare voices across clips. Overlapping speech is given
    to one speaker only, a speaker with under 15% of the speech (and under 3 s) is merged into the most
    similar voice, two similar voices (same sex, same room) are sometimes counted as one, and many isolated
    one-second utterances of one voice may be split in two. On a 30 s two-person recording 22% of
    the speech time was missed or mislabelled, mostly near changes of speaker."""
    run: Callable[[Audio], DiarizationOutput] = backends.load("diarization")
    return run(args.clip(clips))
