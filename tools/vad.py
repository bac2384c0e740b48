"""Voice activity: where in a clip someone is speaking (Silero VAD v6, ONNX)."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from copilot import models
from copilot.audio import SAMPLE_RATE, Audio
from copilot.progress import progress
from copilot.tool import Clips, Findings, Segment, SpanInput, ToolOutput, tool

if TYPE_CHECKING:
    import onnxruntime as ort

WINDOW = 512  # samples per Silero frame at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous frame Silero v6 expects in front of each window
BLOCK = 1875  # frames read from the clip at a time (60 s)
_lock = threading.Lock()


class VadInput(SpanInput):
    threshold: float = Field(0.5, gt=0, lt=1, description="speech probability above which a frame is speech")
    min_silence: float = Field(0.3, ge=0, description="shortest pause, in seconds, that splits two segments")


class VadOutput(ToolOutput):
    segments: list[Segment] = Field(description="speech segments, in seconds from the clip's start")
    speech_duration: float = Field(description="total speech, in seconds")
    speech_ratio: float = Field(description="share of the analysed audio that is speech, 0 to 1")

    def findings(self) -> Findings:
        if not self.segments:
            return Findings(facts="Speech: none detected")
        spans = ", ".join(f"{s.start:.2f}-{s.end:.2f}" for s in self.segments[:12])
        more = f" (+{len(self.segments) - 12} more)" if len(self.segments) > 12 else ""
        n = len(self.segments)
        return Findings(facts=f"Speech: {self.speech_duration:.1f} s in {n} segments ({self.speech_ratio:.0%}): {spans}{more}")


@cache
def _session() -> ort.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(models.ensure("silero-vad") / "silero_vad.onnx"), opts)


def speech_probabilities(audio: Audio) -> np.ndarray:
    """Silero's speech probability for every 32 ms frame of the clip.

    The frames are read from the clip a block at a time, so a long clip is never copied whole; the probabilities,
    4 bytes a frame, are 450 kB an hour."""
    samples = audio.samples
    frames = -(-len(samples) // WINDOW)
    state = np.zeros((2, 1, 128), np.float32)
    sr = np.array(SAMPLE_RATE, np.int64)
    probs = np.empty(frames, np.float32)
    session = _session()
    with _lock, progress("voice activity", audio.duration) as advance:
        for first in range(0, frames, BLOCK):
            stop = min(first + BLOCK, frames)
            base = first * WINDOW - CONTEXT  # the block starts with the first frame's context (zeros before the clip)
            block = np.zeros(stop * WINDOW - base, np.float32)
            lo, hi = max(base, 0), min(stop * WINDOW, len(samples))
            block[lo - base : hi - base] = samples[lo:hi]
            for i in range(stop - first):
                chunk = block[i * WINDOW : i * WINDOW + WINDOW + CONTEXT][None]
                out, state = session.run(None, {"input": chunk, "state": state, "sr": sr})
                probs[first + i] = out[0, 0]
            advance((stop - first) * WINDOW / SAMPLE_RATE)
    return probs


def speech_segments(
    audio: Audio, threshold: float = 0.5, min_silence: float = 0.3, min_speech: float = 0.25, pad: float = 0.03
) -> list[Segment]:
    """Speech segments of ``audio`` (times relative to the original clip), with hysteresis between frames."""
    probs = speech_probabilities(audio)
    step = WINDOW / SAMPLE_RATE
    off = max(threshold - 0.15, 0.01)
    raw: list[list[float]] = []
    speaking = False
    for i, p in enumerate(probs):
        if not speaking and p >= threshold:
            speaking = True
            raw.append([i * step, (i + 1) * step])
        elif speaking and p < off:
            speaking = False
        if speaking:
            raw[-1][1] = (i + 1) * step
    merged: list[list[float]] = []
    for start, end in raw:
        if merged and start - merged[-1][1] < min_silence:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [
        Segment(start=round(audio.offset + max(s - pad, 0), 3), end=round(audio.offset + min(e + pad, audio.duration), 3))
        for s, e in merged
        if e - s >= min_speech
    ]


@tool(version="1")
def voice_activity(args: VadInput, clips: Clips) -> VadOutput:
    """Where someone is speaking: speech segments with start and end times.

    Find where someone is speaking (Silero VAD). Returns speech segments with start and end
    times in seconds, the total speech duration and the share of the audio that is speech.
    It does not say who speaks or what is said, and loud singing or shouting counts as speech."""
    audio = args.clip(clips)
    segments = speech_segments(audio, args.threshold, args.min_silence)
    total = sum(s.duration for s in segments)
    return VadOutput(segments=segments, speech_duration=round(total, 3), speech_ratio=round(total / audio.duration, 3))
