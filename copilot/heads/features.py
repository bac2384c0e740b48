"""Fixed-length features of a clip from an encoder the model store already has, cached per clip and encoder.

Three encoders, each pooled into one vector per clip:

    encoder       what it is                                        pooled over          size
    whisper-base  Whisper base's encoder output (50 frames/s)       the speech (VAD)     mean + std, 1024
    ge2e          the GE2E speaker encoder (Resemblyzer weights)    the speech (VAD)     mean, 256
    yamnet        YAMNet's 521 AudioSet scores (0.96 s patches)     the whole clip       mean + max, 1042

Whisper's encoder is run on the clip's own length (no padding to 30 s), in 30 s pieces; it serves
attributes of the voice (emotion, gender: see `copilot.heads.learn` for the measured choice). YAMNet's
scores pool the whole clip, for attributes of sounds rather than speakers (a machine's fault, a room),
and for voices the VAD does not take for speech (whispering). A clip with too little speech for a
speech encoder is `NothingToMeasure`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from copilot.audio import SAMPLE_RATE, Audio
from copilot.cache import open_table
from copilot.config import Settings
from copilot.errors import ModelError, NothingToMeasure
from copilot.tool import Segment

if TYPE_CHECKING:
    from copilot.heads.head import Head

MIN_SPEECH = 0.3  # seconds of detected speech a speech encoder needs
WHISPER_FRAME = 0.02  # seconds per Whisper encoder frame
WHISPER_CHUNK = 30 * SAMPLE_RATE  # the longest input Whisper's encoder has positions for


@dataclass(frozen=True)
class Encoder:
    """A way to turn a clip into one vector: its name, version (part of every cache key) and what it pools."""

    name: str
    version: str
    spec: str
    dimensions: int
    extract: Callable[[Audio], np.ndarray]


def _speech(audio: Audio) -> list[Segment]:
    from copilot.tools.vad import speech_segments

    segments = speech_segments(audio)
    found = sum(s.duration for s in segments)
    if found < MIN_SPEECH:
        raise NothingToMeasure(f"only {found:.1f} s of speech in the range: at least {MIN_SPEECH} s is needed")
    return segments


def whisper_frames(audio: Audio) -> np.ndarray:
    """Whisper base's encoder output for the clip, (frames, 512), one frame every 20 ms: float32, the same on
    every CPU (`copilot.heads.whisper_encoder`), computed in 30 s pieces."""
    from copilot.heads.whisper_encoder import encode

    samples = audio.samples
    return np.concatenate([encode(samples[start : start + WHISPER_CHUNK])
                           for start in range(0, max(len(samples), 1), WHISPER_CHUNK)])


def _whisper_features(audio: Audio) -> np.ndarray:
    frames = whisper_frames(audio)
    times = (np.arange(len(frames)) + 0.5) * WHISPER_FRAME + audio.offset
    keep = np.zeros(len(frames), bool)
    for s in _speech(audio):
        keep |= (times >= s.start) & (times < s.end)
    if not keep.any():  # a segment shorter than a frame
        keep[:] = True
    chosen = frames[keep]
    return np.concatenate([chosen.mean(axis=0), chosen.std(axis=0)]).astype(np.float32)


def _ge2e_features(audio: Audio) -> np.ndarray:
    from copilot.tools.speaker import embed_speech, speech_samples

    return embed_speech(speech_samples(audio, _speech(audio)), "the range").astype(np.float32)


def _yamnet_features(audio: Audio) -> np.ndarray:
    from copilot.tools.sound_events import patch_scores

    scores = patch_scores(audio.samples)
    return np.concatenate([scores.mean(axis=0), scores.max(axis=0)]).astype(np.float32)


ENCODERS = {
    e.name: e
    for e in [
        Encoder("whisper-base", "2", "Whisper base encoder (float32), mean and std over the speech frames", 1024, _whisper_features),
        Encoder("ge2e", "1", "GE2E speaker embedding of the speech (mean of 1.6 s windows)", 256, _ge2e_features),
        Encoder("yamnet", "1", "YAMNet's 521 AudioSet scores, mean and max over the whole clip", 1042, _yamnet_features),
    ]
}


def encoder(name: str) -> Encoder:
    """The encoder called ``name``; an unknown name is a `ValueError` that lists the known ones."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; encoders: {', '.join(ENCODERS)}") from None


def encoder_for(head: Head) -> Encoder:
    """The encoder whose features ``head`` reads; a head trained on another version of them is a `ModelError`,
    since its weights would be applied to features they were not fitted to."""
    enc = encoder(head.meta.encoder)
    if head.meta.encoder_version != enc.version:
        raise ModelError(f"head {head.name!r} was trained on {enc.name} features version {head.meta.encoder_version}; "
                         f"this copilot computes version {enc.version}: train it again with copilot learn")
    return enc


class FeatureCache:
    """Feature vectors in SQLite, keyed by (clip sha256, encoder, encoder version): a killed run resumes from it."""

    def __init__(self, path: Path | None = None):
        self._db = open_table(path or Settings.from_env().cache_dir / "features.sqlite", "features (key TEXT PRIMARY KEY, vector BLOB)")
        self._lock = threading.Lock()

    @staticmethod
    def key(audio: Audio, enc: Encoder) -> str:
        return hashlib.sha256(f"{audio.sha256}:{enc.name}:{enc.version}".encode()).hexdigest()

    def features(self, audio: Audio, enc: Encoder) -> np.ndarray:
        """The clip's features, computed once and then read back."""
        key = self.key(audio, enc)
        with self._lock:
            row = self._db.execute("SELECT vector FROM features WHERE key = ?", (key,)).fetchone()
        if row:
            return np.frombuffer(row[0], np.float32).copy()
        vector = enc.extract(audio)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO features VALUES (?, ?)", (key, vector.tobytes()))
        return vector
