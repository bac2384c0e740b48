"""Decoding any audio or video file into 16 kHz mono float32, once per question."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.config import Settings
from copilot.errors import AudioError
from copilot.files import sha256_file

SAMPLE_RATE = 16_000
# mp3 goes to PyAV: libsndfile's mpg123 prints warnings straight to stderr on damaged files
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au"}


@dataclass(frozen=True, eq=False)
class Audio:
    """A decoded clip: 16 kHz mono float32 samples and what the source file was.

    ``duration`` comes from the source's own frame count and sample rate, so it is exact
    even when resampling rounds the number of 16 kHz samples.
    """

    samples: np.ndarray
    duration: float
    source_sample_rate: int
    channels: int
    sha256: str
    path: Path | None = None
    offset: float = 0.0

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def crop(self, start: float | None = None, end: float | None = None) -> Audio:
        """The part between ``start`` and ``end`` seconds; times stay relative to the original clip."""
        if start is None and end is None:
            return self
        lo = 0.0 if start is None else start
        hi = self.duration if end is None else min(end, self.duration)
        if lo < 0 or hi <= lo:
            raise AudioError(f"empty time range {lo:.2f}-{hi:.2f} s in a {self.duration:.2f} s clip")
        a, b = round(lo * SAMPLE_RATE), round(hi * SAMPLE_RATE)
        digest = hashlib.sha256(f"{self.sha256}:{a}:{b}".encode()).hexdigest()
        return Audio(self.samples[a:b], hi - lo, self.source_sample_rate, self.channels, digest, self.path, lo)


def from_array(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Audio:
    """An `Audio` from samples in memory (frames x channels, or mono), e.g. for tests and the server."""
    data = np.asarray(samples, dtype=np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    digest = hashlib.sha256(data.tobytes() + str(sample_rate).encode()).hexdigest()
    return _finish(data, sample_rate, channels, digest, None, max_duration=float("inf"))


def load(path: str | Path, max_duration: float | None = None) -> Audio:
    """Decode ``path`` (wav, flac, ogg, mp3 by soundfile; any other format or video by PyAV).

    Raises `AudioError` with a one-line message for a missing, empty, undecodable,
    silent-by-absence (zero samples) or too long file.
    """
    path = Path(path)
    limit = Settings.from_env().max_duration if max_duration is None else max_duration
    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"expected an audio file, got a folder: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file is empty (0 bytes): {path}")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc.strerror or exc}") from None
    data, rate, channels = None, 0, 0
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            info = sf.info(path)
            _check_length(info.frames / info.samplerate, limit, path)  # before decoding a huge file
            data, rate = sf.read(path, dtype="float32", always_2d=True)
            channels = data.shape[1]
        except (sf.LibsndfileError, RuntimeError):
            data = None  # a misnamed file: let FFmpeg try
    if data is None:
        data, rate, channels = _decode_av(path, limit)
    return _finish(data, rate, channels, digest, path, limit)


def _finish(data: np.ndarray, rate: int, channels: int, digest: str, path: Path | None, max_duration: float) -> Audio:
    frames = data.shape[0]
    where = f": {path}" if path else ""
    if frames == 0:
        raise AudioError(f"audio has no samples (zero length){where}")
    duration = frames / rate
    _check_length(duration, max_duration, path)
    mono = data if data.ndim == 1 else data.mean(axis=1)
    return Audio(_resample(mono.astype(np.float32), rate), duration, rate, channels, digest, path)


def _check_length(seconds: float, limit: float, path: Path | None) -> None:
    if seconds > limit:
        where = f": {path}" if path else ""
        raise AudioError(f"audio is {seconds:.1f} s long, above the {limit:.0f} s limit (raise SPEECH_COPILOT_MAX_DURATION){where}")


def _resample(mono: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(mono)
    from scipy.signal import resample_poly

    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(mono, SAMPLE_RATE // g, rate // g).astype(np.float32)


def _decode_av(path: Path, limit: float) -> tuple[np.ndarray, int, int]:
    import av

    try:
        container = av.open(str(path))
    except av.error.InvalidDataError:
        raise AudioError(f"not an audio or video file that FFmpeg can read: {path}") from None
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot open {path}: {exc.strerror or exc}") from None
    with container:
        if not container.streams.audio:
            raise AudioError(f"no audio stream in {path}")
        stream = container.streams.audio[0]
        if stream.codec_context is None or stream.codec_context.name is None:
            raise AudioError(f"no decoder for the audio codec in {path}")
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        if stream.duration and stream.time_base:
            _check_length(float(stream.duration * stream.time_base), limit, path)  # before decoding a huge file
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                array = frame.to_ndarray()
                # planar formats are (channels, n); packed ones are (1, n * channels)
                array = array.reshape(-1, channels) if not frame.format.is_planar else array.T
                chunks.append(_to_float(array))
        except av.error.FFmpegError as exc:
            raise AudioError(f"cannot decode the {stream.codec_context.name} audio in {path}: {exc.strerror or exc}") from None
    data = np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
    if stream.duration and stream.time_base:
        # encoders pad the last frame (AAC to 1024 samples); the container's duration says where the sound ends
        padding = len(data) - round(stream.duration * stream.time_base * rate)
        if 0 < padding < (stream.codec_context.frame_size or 0):
            data = data[:-padding]
    return data, rate, channels


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:  # 8-bit PCM is unsigned, with silence at 128
        return (array.astype(np.float32) - 128) / 128
    if np.issubdtype(array.dtype, np.integer):
        return (array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)).astype(np.float32)
    return array.astype(np.float32)
