"""Speaker embeddings and speaker verification: Resemblyzer's GE2E voice encoder, re-implemented.

The encoder (3-layer LSTM 40 -> 256, linear 256 -> 256, ReLU, L2 norm) and its front end (40-band mel
power spectrogram, 25 ms window, 10 ms hop, 16 kHz, speech raised to -30 dBFS) match Resemblyzer 0.1.4
exactly; the weights are its ``pretrained.pt`` from the model store. Speech is found with our Silero
VAD instead of Resemblyzer's webrtcvad trimming.

The same-speaker threshold (`threshold`) follows the harmonic mean of the two speech durations, from 0.725 up to
2 s to 0.82 at 4 s and above, calibrated on real recordings only: scores rise with the amount of speech for
different speakers as well as for the same one, two similar voices in one room are the hard case (a score well
past the threshold can still be wrong for them), and below 1 s of speech (`MIN_SPEECH`) the scores are noise, so
that is refused. The calibration tables: docs/benchmarks.md ("speaker_verification's threshold").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from copilot import backends, models
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import NothingToMeasure, ToolError
from copilot.progress import progress
from copilot.tool import Clips, Findings, Segment, SpanInput, ToolOutput, tool
from copilot.tools.vad import speech_segments

if TYPE_CHECKING:
    import torch

HOP = SAMPLE_RATE // 100  # samples between mel frames (10 ms)
PARTIAL_FRAMES = 160  # mel frames in one window (1.6 s), the length the encoder was trained on
BLOCK_FRAMES = 6000  # mel frames (60 s) diarization's windows are encoded from at a time
MIN_SPEECH = 1.0  # seconds of detected speech needed for a usable embedding
TARGET_DBFS = -30.0  # Resemblyzer's loudness target: quieter speech is raised to it, louder left alone
THRESHOLD_SHORT, THRESHOLD_LONG = 0.725, 0.82  # same-speaker cosine thresholds, see docs/benchmarks.md
SHORT, LONG = 2.0, 4.0  # seconds of speech (harmonic mean of both sides) where each threshold applies
CONFIDENT_MARGIN = 0.05  # a score this far from the threshold is rarely on the wrong side
_load_lock = threading.Lock()


@cache
def _load_encoder() -> torch.nn.ModuleDict:
    torch = backends.import_torch()
    net = torch.nn.ModuleDict(
        {"lstm": torch.nn.LSTM(40, 256, 3, batch_first=True), "linear": torch.nn.Linear(256, 256)}
    )
    checkpoint = torch.load(models.ensure("resemblyzer") / "pretrained.pt", map_location="cpu", weights_only=True)
    # the checkpoint also holds GE2E's training-only similarity scale and bias
    net.load_state_dict({k: v for k, v in checkpoint["model_state"].items() if k.split(".")[0] in net})
    return net.eval()


def _encoder() -> torch.nn.ModuleDict:
    with _load_lock:
        return _load_encoder()


def _mel(samples: np.ndarray, center: bool = True) -> np.ndarray:
    """Resemblyzer's front end: 40-band mel power spectrogram (not log), 25 ms window, 10 ms hop; (frames, 40).
    With ``center`` the frames are centred every 10 ms from the first sample, the samples zero-padded at both ends."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples, sr=SAMPLE_RATE, n_fft=400, hop_length=HOP, n_mels=40, center=center
    )
    return mel.astype(np.float32).T


def _gain(speech: np.ndarray) -> float:
    """The factor that raises ``speech`` to -30 dBFS, never below 1."""
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if len(speech) else 0.0
    if rms == 0:
        return 1.0
    return max(1.0, 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20))


def _mel_of(samples: np.ndarray, gain: float) -> np.ndarray:
    """The mel frames of ``samples`` times ``gain``, zero-padded to at least one window."""
    mel = _mel(samples * np.float32(gain))
    return np.pad(mel, ((0, max(PARTIAL_FRAMES - len(mel), 0)), (0, 0)))


def _encode(mel: np.ndarray, starts: list[int], batch: int = 128) -> np.ndarray:
    """Unit-length embeddings of the 160-frame windows of ``mel`` at ``starts``, a batch at a time."""
    import torch

    net = _encoder()
    out = []
    with torch.no_grad():
        for i in range(0, len(starts), batch):
            windows = torch.from_numpy(np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts[i : i + batch]]))
            _, (hidden, _) = net["lstm"](windows)
            out.append(torch.nn.functional.normalize(torch.relu(net["linear"](hidden[-1])), dim=1).numpy())
    return np.concatenate(out)


def _starts(first: int, stop: int, step: int, total: int) -> list[int]:
    """Start frames of windows every ``step`` frames over frames ``first:stop`` of a ``total``-frame mel.

    The last window ends at ``stop``; a range shorter than a window gets one window centred on it and
    kept inside the mel (which is at least one window long).
    """
    if stop - first <= PARTIAL_FRAMES:
        return [min(max((first + stop - PARTIAL_FRAMES) // 2, 0), total - PARTIAL_FRAMES)]
    starts = list(range(first, stop - PARTIAL_FRAMES + 1, step))
    if starts[-1] + PARTIAL_FRAMES < stop:
        starts.append(stop - PARTIAL_FRAMES)
    return starts


def _frame(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE / HOP)


def speech_samples(audio: Audio, segments: Sequence[Segment]) -> np.ndarray:
    """The samples of ``segments`` (in seconds of the original clip) joined end to end."""
    parts = [audio.samples[_frame(s.start - audio.offset) * HOP : _frame(s.end - audio.offset) * HOP] for s in segments]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def speech_of(audio: Audio) -> np.ndarray:
    """The clip's speech only: the segments Silero VAD finds, joined."""
    return speech_samples(audio, speech_segments(audio))


def embed_speech(speech: np.ndarray, where: str) -> np.ndarray:
    """The speaker embedding (256-d, unit length) of speech samples: the mean of 1.6 s windows at 50% overlap.

    Raises `NothingToMeasure` naming ``where`` when there is less than `MIN_SPEECH` seconds.
    """
    require_speech(speech, where)
    mel = _mel_of(speech, _gain(speech))
    mean = _encode(mel, _starts(0, len(mel), PARTIAL_FRAMES // 2, len(mel))).mean(axis=0)
    return mean / np.linalg.norm(mean)


def require_speech(speech: np.ndarray, where: str) -> None:
    """Raise `NothingToMeasure` naming ``where`` when ``speech`` is shorter than `MIN_SPEECH` seconds."""
    found = len(speech) / SAMPLE_RATE
    if found < MIN_SPEECH:
        raise NothingToMeasure(
            f"only {found:.1f} s of speech in {where}: at least {MIN_SPEECH:.0f} s is needed to compare voices"
        )


def embed(audio: Audio) -> np.ndarray:
    """The speaker embedding of a clip's speech, for comparing voices by cosine (see `embed_speech`)."""
    return embed_speech(speech_of(audio), _describe("the clip", audio))


def partial_embeddings(audio: Audio, segments: list[Segment], step: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of 1.6 s windows every ``step`` seconds inside each speech segment, for diarization.

    Returns ``(times, embeddings)``: each window's start and end in seconds of the original clip, shape
    (n, 2), ordered by segment, and unit-length embeddings, shape (n, 256). A segment shorter than a
    window gets one window centred on it, so it carries some of its surroundings. The windows are encoded a block
    of `BLOCK_FRAMES` at a time, from the mel frames of that block alone (the frames of the whole clip's mel), so a
    long clip's spectrogram is never held whole.
    """
    if not segments:
        return np.zeros((0, 2)), np.zeros((0, 256), np.float32)
    total = max(len(audio.samples) // HOP + 1, PARTIAL_FRAMES)  # frames of the whole clip's (padded) mel
    gain = _gain_of(audio, segments)
    hop = max(_frame(step), 1)
    starts = [
        s
        for seg in segments
        for s in _starts(_frame(seg.start - audio.offset), _frame(seg.end - audio.offset), hop, total)
    ]
    times = audio.offset + np.array([[s, s + PARTIAL_FRAMES] for s in starts]) * HOP / SAMPLE_RATE
    embeddings = []
    with progress("speaker embeddings", len(starts), "windows") as advance:
        for block in _blocks(starts):
            first = min(block)
            mel = _mel_frames(audio.samples, gain, first, max(block) + PARTIAL_FRAMES)
            embeddings.append(_encode(mel, [s - first for s in block]))
            advance(len(block))
    return times, np.concatenate(embeddings)


def _blocks(starts: list[int]) -> list[list[int]]:
    """``starts`` cut, in order, into runs whose windows span at most `BLOCK_FRAMES` mel frames."""
    blocks: list[list[int]] = []
    lo = hi = 0
    for s in starts:
        if blocks and max(hi, s) + PARTIAL_FRAMES - min(lo, s) <= BLOCK_FRAMES:
            blocks[-1].append(s)
            lo, hi = min(lo, s), max(hi, s)
        else:
            blocks.append([s])
            lo = hi = s
    return blocks


def _mel_frames(samples: np.ndarray, gain: float, first: int, stop: int) -> np.ndarray:
    """Frames ``first:stop`` of the mel of the whole of ``samples`` times ``gain`` (`_mel_of`: frames centred every
    10 ms, the clip zero-padded by half a window at each end, and zero frames past its end), computed from the
    samples those frames cover only."""
    half = 200  # samples: half of the 400-sample window
    last = min(stop, len(samples) // HOP + 1) - 1  # the last frame the clip has
    if last < first:
        return np.zeros((stop - first, 40), np.float32)
    lo, hi = first * HOP - half, last * HOP + half  # the samples frames first..last cover
    piece = np.zeros(hi - lo, np.float32)
    a, b = max(lo, 0), min(hi, len(samples))
    piece[a - lo : b - lo] = samples[a:b] * np.float32(gain)
    mel = _mel(piece, center=False)
    return np.pad(mel, ((0, stop - first - len(mel)), (0, 0)))


def _gain_of(audio: Audio, segments: Sequence[Segment]) -> float:
    """`_gain` of the speech in ``segments``, summed segment by segment rather than joined."""
    squares, count = 0.0, 0
    for s in segments:
        part = audio.samples[_frame(s.start - audio.offset) * HOP : _frame(s.end - audio.offset) * HOP]
        squares += float(np.sum(np.square(part, dtype=np.float64)))
        count += len(part)
    if not count or not squares:
        return 1.0
    return max(1.0, 10 ** ((TARGET_DBFS - 10 * np.log10(squares / count)) / 20))


def threshold(speech_a: float, speech_b: float) -> float:
    """The same-speaker cosine threshold for two inputs with this many seconds of speech (calibrated above)."""
    mean = 2 / (1 / speech_a + 1 / speech_b)
    return float(np.interp(mean, [SHORT, LONG], [THRESHOLD_SHORT, THRESHOLD_LONG]))


@dataclass(frozen=True)
class SpeakerEncoder:
    """A speaker backend: ``embed(speech, where)`` gives a unit-length voice embedding of speech samples
    (a `NothingToMeasure` naming ``where`` when there is too little), ``threshold(seconds_a, seconds_b)`` the
    same-speaker cosine threshold for that much speech on each side."""

    embed: Callable[[np.ndarray, str], np.ndarray]
    threshold: Callable[[float, float], float]


def load_resemblyzer(path: None) -> SpeakerEncoder:
    """The default speaker backend: the GE2E encoder above with its calibrated threshold."""
    return SpeakerEncoder(embed_speech, threshold)


def _describe(name: str, audio: Audio) -> str:
    return f"{name} ({audio.offset:.2f}-{audio.offset + audio.duration:.2f} s)"


class VerificationInput(SpanInput):
    clip_fields = ("audio", "other")

    other: str = Field(
        "audio2", description="the clip to compare with: audio2, or audio1 to compare two ranges of one clip"
    )
    other_start: float | None = Field(
        None, ge=0, description="start of the range of `other`, in seconds (default: its start)"
    )
    other_end: float | None = Field(
        None, gt=0, description="end of the range of `other`, in seconds (default: its end)"
    )


class VerificationOutput(ToolOutput):
    score: float = Field(
        description="cosine similarity of the two voices: about 0.35-0.7 for a man vs a woman, 0.65-0.85 for two "
        "similar voices, 0.7-0.95 for one person"
    )
    same_speaker: bool = Field(description="whether the score reaches the threshold")
    threshold: float = Field(description="the threshold used; higher when both sides have more speech")
    margin: float = Field(description="score minus threshold")
    confidence: Literal["high", "low"] = Field(description="low when the score is within 0.05 of the threshold")
    speech: tuple[float, float] = Field(description="seconds of speech found in the first and the second input")

    def findings(self) -> Findings:
        verdict = "yes, one person's voice" if self.same_speaker else "no, two different people"
        relation = "reaches" if self.same_speaker else "is below"
        return Findings(
            facts=f"Same speaker: {verdict} ({self.confidence} confidence: voice similarity {self.score:.2f} {relation} "
            f"the {self.threshold:.2f} needed for one person; {self.speech[0]:.1f} s and {self.speech[1]:.1f} s of speech)"
        )


@tool(version="1")
def speaker_verification(args: VerificationInput, clips: Clips) -> VerificationOutput:
    """Whether two clips, or two time ranges of one clip, hold the same speaker's voice.

    Compares the voice in clip `audio` with clip `other` (default audio1 vs audio2), or two time
    ranges of one clip: set other="audio1" and give start/end and other_start/other_end. Each side
    needs at least 1 s of speech. Returns the cosine `score` of GE2E voice embeddings, the
    `same_speaker` decision, the `threshold` used and the `margin`; `confidence` is low within 0.05
    of the threshold. A man and a woman are told apart reliably; two similar voices are misjudged
    about one time in four with 1-2 s of speech each and one in eight with 4 s or more, so treat a
    low-confidence answer as uncertain. It does not say who the speaker is, and a side holding two
    voices gives a mixed score: use diarization first for conversations."""
    first = args.clip(clips)
    if args.other not in clips:
        raise ToolError(
            f"no clip named {args.other!r} to compare with; to compare two parts of {args.audio}, "
            f"set other={args.audio!r} with start/end and other_start/other_end"
        )
    if (args.other, args.other_start, args.other_end) == (args.audio, args.start, args.end):
        raise ToolError("both sides are the same audio: give a second clip or two different time ranges")
    second = args.model_copy(update={"audio": args.other, "start": args.other_start, "end": args.other_end}).clip(clips)
    speech_a, speech_b = speech_of(first), speech_of(second)
    encoder: SpeakerEncoder = backends.load("speaker")
    score = float(
        encoder.embed(speech_a, _describe(args.audio, first)) @ encoder.embed(speech_b, _describe(args.other, second))
    )
    seconds = (len(speech_a) / SAMPLE_RATE, len(speech_b) / SAMPLE_RATE)
    limit = encoder.threshold(*seconds)
    return VerificationOutput(
        score=round(score, 3),
        same_speaker=score >= limit,
        threshold=round(limit, 3),
        margin=round(score - limit, 3),
        confidence="high" if abs(score - limit) >= CONFIDENT_MARGIN else "low",
        speech=(round(seconds[0], 2), round(seconds[1], 2)),
    )
