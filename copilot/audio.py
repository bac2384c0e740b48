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
# A rate below 1 kHz (no voice left) or above 192 kHz (studio masters) is a damaged or hostile header: resampling
# rate r to 16 kHz builds a filter of about 20 * r / gcd(r, 16000) taps, 2 billion for 100 MHz.
MIN_RATE, MAX_RATE = 1_000, 192_000
MAX_CHANNELS = 64  # 7.1.4 surround has 12 channels, 6th-order ambisonics 49; each one is decoded before the mix
_BLOCK = 1 << 20  # samples (frames x channels) read from soundfile at a time
_PREALLOCATE = 1 << 27  # samples (512 MB, 2.3 hours at 16 kHz) set aside for the length a header claims, at most
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
    _check_format(sample_rate, channels, None)
    digest = hashlib.sha256(data.tobytes() + str(sample_rate).encode()).hexdigest()
    return _finish(data if data.ndim == 1 else data.mean(axis=1), sample_rate, channels, digest, None)


def load(path: str | Path, max_duration: float | None = None) -> Audio:
    """Decode ``path`` (wav, flac, ogg, mp3 by soundfile; any other format or video by PyAV).

    Raises `AudioError` with a one-line message for a missing, empty, undecodable,
    silent-by-absence (zero samples) or too big file: a sample rate or channel count outside the limits above, or
    more than ``max_duration`` seconds (default: the ``max_duration`` setting) of samples. The length is counted as
    the samples are decoded, and decoding stops as soon as it passes the limit, whatever the header claims; each
    block is mixed to mono as it comes, so decoding holds at most ``max_duration`` seconds of mono samples at the
    source rate, written into one array sized from the header's claim (twice that only while the array grows, when the
    header understated the length), never all the channels.
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
    decoded = _decode_soundfile(path, limit) if path.suffix.lower() in _SOUNDFILE_SUFFIXES else None
    mono, rate, channels = decoded or _decode_av(path, limit)
    return _finish(mono, rate, channels, digest, path)


def _finish(mono: np.ndarray, rate: int, channels: int, digest: str, path: Path | None) -> Audio:
    if len(mono) == 0:
        raise AudioError(f"audio has no samples (zero length){_where(path)}")
    return Audio(_resample(mono.astype(np.float32, copy=False), rate), len(mono) / rate, rate, channels, digest, path)


def _where(path: Path | None) -> str:
    return f": {path}" if path else ""


def _too_big(found: str, limit: str, path: Path | None, hint: str = "") -> AudioError:
    """The one wording of every way a file can be too big to decode."""
    return AudioError(f"audio is {found}, above the {limit} limit{hint}{_where(path)}")


def _check_format(rate: int, channels: int, path: Path | None) -> None:
    """Refuse a sample rate or channel count outside the limits before anything is decoded."""
    if rate > MAX_RATE:
        raise _too_big(f"sampled at {rate} Hz", f"{MAX_RATE} Hz", path)
    if channels > MAX_CHANNELS:
        raise _too_big(f"in {channels} channels", f"{MAX_CHANNELS} channel", path)
    if rate < MIN_RATE or channels < 1:
        raise AudioError(
            f"audio of {channels} channels at {rate} Hz is not a format the copilot decodes "
            f"(1 to {MAX_CHANNELS} channels at {MIN_RATE} to {MAX_RATE} Hz){_where(path)}"
        )


def _check_length(seconds: float, limit: float, path: Path | None, at_least: bool = False) -> None:
    """Refuse ``seconds`` of audio over ``limit``: a length a header claims, or (``at_least``) the part decoded so far."""
    if seconds > limit:
        found = f"at least {seconds:.2f} s long" if at_least else f"{seconds:.1f} s long"
        raise _too_big(found, f"{limit:.0f} s", path, " (raise SPEECH_COPILOT_MAX_DURATION)")


def _decode_soundfile(path: Path, limit: float) -> tuple[np.ndarray, int, int] | None:
    """The file's samples mixed to mono, its rate and its channels; None when libsndfile cannot read it (a misnamed
    file: FFmpeg may). The frame count the header claims is checked first, and the frames read are counted block by
    block, so the limit holds whatever libsndfile makes of the header."""
    try:
        with sf.SoundFile(path) as file:
            rate, channels = file.samplerate, file.channels
            _check_format(rate, channels, path)
            _check_length(file.frames / rate, limit, path)
            mono = _Mono(file.frames)
            while len(block := file.read(max(1, _BLOCK // channels), dtype="float32", always_2d=True)):
                _check_length((len(mono) + len(block)) / rate, limit, path, at_least=True)
                mono.append(block.mean(axis=1))
    except (sf.LibsndfileError, RuntimeError):
        return None
    return mono.samples(), rate, channels


class _Mono:
    """Mono samples written block by block into one array, sized from the length the header claims (at most
    `_PREALLOCATE` samples) and doubled whenever the blocks outgrow it: a file whose header is right is held once,
    never as blocks and their join."""

    def __init__(self, claimed: int):
        self._data = np.empty(min(max(claimed, 0), _PREALLOCATE), np.float32)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def append(self, block: np.ndarray) -> None:
        end = self._length + len(block)
        if end > len(self._data):
            grown = np.empty(max(end, 2 * len(self._data)), np.float32)
            grown[: self._length] = self._data[: self._length]
            self._data = grown
        self._data[self._length : end] = block
        self._length = end

    def samples(self) -> np.ndarray:
        """The samples written; copied out when they fill under half the array (a header that overstated)."""
        kept = self._data[: self._length]
        return kept if 2 * self._length >= len(self._data) else kept.copy()


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
        _check_format(rate, channels, path)
        if stream.duration and stream.time_base:
            _check_length(float(stream.duration * stream.time_base), limit, path)  # a claim: the frames are counted too
        claimed = round(stream.duration * stream.time_base * rate) if stream.duration and stream.time_base else 0
        mono = _Mono(claimed)
        try:
            for frame in container.decode(stream):
                array = frame.to_ndarray()
                # planar formats are (channels, n); packed ones are (1, n * channels)
                array = array.reshape(-1, channels) if not frame.format.is_planar else array.T
                # past the limit even without the encoder's padding, which is trimmed below
                frames = len(mono) + len(array) - (stream.codec_context.frame_size or 0)
                _check_length(frames / rate, limit, path, at_least=True)
                mono.append(np.ascontiguousarray(_to_float(array)).mean(axis=1))
        except (av.error.FFmpegError, ValueError) as exc:  # ValueError: a sample format or layout numpy cannot take
            reason = exc.strerror if isinstance(exc, av.error.FFmpegError) and exc.strerror else exc
            raise AudioError(f"cannot decode the {stream.codec_context.name} audio in {path}: {reason}") from None
        data = mono.samples()
        if stream.duration and stream.time_base:  # read while the container is open (PyAV 18 refuses after)
            # encoders pad the last frame (AAC to 1024 samples); the container's duration says where the sound ends
            padding = len(data) - round(stream.duration * stream.time_base * rate)
            if 0 < padding < (stream.codec_context.frame_size or 0):
                data = data[:-padding]
    _check_length(len(data) / rate, limit, path)
    return data, rate, channels


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:  # 8-bit PCM is unsigned, with silence at 128
        return (array.astype(np.float32) - 128) / 128
    if np.issubdtype(array.dtype, np.integer):
        return (array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)).astype(np.float32)
    return array.astype(np.float32)
