"""Signal measures that need no model: duration, loudness and pitch."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import ToolError
from copilot.tool import Clips, Findings, Quantity, SpanInput, ToolInput, ToolOutput, tool

FLOOR_DBFS = -120.0  # levels of digital silence are reported as this instead of -inf
FRAME = 320  # 20 ms at 16 kHz: the frame of the silence ratio and the noise floor
LUFS_BLOCK = 0.4  # seconds: the BS.1770 gating block, the shortest clip with an integrated loudness
PITCH_MIN, PITCH_MAX = 50.0, 800.0  # Hz: search range of the F0 tracker
PITCH_HOP = 160  # 10 ms
PITCH_RESOLUTION = 0.2  # semitones per pYIN bin: its Viterbi cost grows with the square of the bin count
PITCH_FRAME = 1024  # 64 ms: two periods of the lowest F0
PITCH_SHORTEST = 0.1  # seconds: below this pYIN has too few frames and reports noise as voice
PITCH_CHUNK = 30 * SAMPLE_RATE  # pYIN's memory grows with length, so long clips go in pieces of about 30 s

# The references a level is stated against, so the words about it come from here and not from the answering LLM's
# impression (a small one calls -21.9 LUFS "loud"): EBU R 128's programme loudness and true-peak ceiling, and the
# normalisation level of the streaming platforms (Spotify, YouTube, Tidal and Amazon Music play at about -14 LUFS).
BROADCAST_LUFS = -23.0  # EBU R 128 target programme loudness; within ±2 LU of it is "about broadcast level"
STREAMING_LUFS = -14.0  # the streaming platforms' playback level; from here up is "loud"
QUIET_LUFS = -30.0  # below this, "quiet"
VERY_LOUD_LUFS = -9.0  # above this, "very loud" (5 LU over the streaming level)
LOUDNESS_REFERENCES = "EBU R 128 broadcast: -23 LUFS; streaming: about -14 LUFS"
TRUE_PEAK_CEILING = -1.0  # dBTP: EBU R 128's maximum true peak, the streaming platforms' too
FULL_SCALE = -0.1  # dBFS: a peak at least this high has reached the file's full scale


class Duration(ToolOutput):
    duration: float = Field(description="length of the file in seconds, from its own frame count and sample rate")
    source_sample_rate: int = Field(description="sample rate of the file, in Hz")
    channels: int = Field(description="number of channels in the file (1 mono, 2 stereo, ...)")

    def findings(self) -> Findings:
        layout = "mono" if self.channels == 1 else f"{self.channels} channels"
        terms = ["duration", "length", "long", "longer", "shorter"]
        return Findings(
            facts=f"Duration: {self.duration:.3f} s ({self.source_sample_rate} Hz, {layout})",
            quantities=[Quantity(name="duration", value=self.duration, unit="s", terms=terms)],
        )


@tool(version="1", serves=("how long", "duration"))
def duration(args: ToolInput, clips: Clips) -> Duration:
    """The clip's exact length in seconds, its sample rate and its number of channels.

    Length of the clip in seconds (exact, from the file's own frame count), with the file's sample
    rate in Hz and its number of channels. Use it for questions about how long a recording is or
    whether it is stereo; it says nothing about what the audio contains."""
    audio = args.clip(clips)
    return Duration(
        duration=round(audio.duration, 6), source_sample_rate=audio.source_sample_rate, channels=audio.channels
    )


class LoudnessInput(SpanInput):
    silence_threshold: float = Field(
        -50.0, ge=FLOOR_DBFS, le=0, description="level in dBFS below which a 20 ms frame counts as silent"
    )


class Loudness(ToolOutput):
    lufs: float | None = Field(
        description="integrated loudness in LUFS (ITU-R BS.1770); null when it cannot be measured, see note"
    )
    peak_dbfs: float = Field(description="highest sample level in dBFS (0 = full scale)")
    rms_dbfs: float = Field(description="average (RMS) level in dBFS; a full-scale sine reads -3.0")
    noise_floor_dbfs: float = Field(description="RMS level of the quietest 10% of 20 ms frames, in dBFS")
    silence_ratio: float = Field(description="share of 20 ms frames quieter than silence_threshold, 0 to 1")
    silence_threshold: float = Field(description="the threshold of silence_ratio, in dBFS")
    note: str | None = Field(None, description="why a measure is missing")

    def findings(self) -> Findings:
        levels = (
            f"peak {self.peak_dbfs:.1f} dBFS: {peak_band(self.peak_dbfs)}; "
            f"RMS {self.rms_dbfs:.1f} dBFS, "
            f"noise floor {self.noise_floor_dbfs:.1f} dBFS, silent {self.silence_ratio:.0%} "
            f"(20 ms frames below {self.silence_threshold:.0f} dBFS)"
        )
        if self.lufs is None:
            return Findings(facts=f"Loudness: LUFS n/a ({self.note}); {levels}")
        reading = f"{loudness_band(self.lufs)} ({LOUDNESS_REFERENCES})"
        terms = ["loudness", "how loud", "LUFS"]
        return Findings(
            facts=f"Loudness: {self.lufs:.1f} LUFS: {reading}; {levels}",
            quantities=[Quantity(name="loudness", value=self.lufs, unit="LUFS", terms=terms, reading=reading)],
        )


def loudness_band(lufs: float) -> str:
    """Words for an integrated loudness, against EBU R 128's -23 LUFS and the streaming platforms' -14 LUFS:
    quiet below -30, below broadcast level below -25, about broadcast level from -25 to -21, between broadcast and
    streaming level below -14, loud from -14 to -9, very loud above -9. The value is taken as the facts print it
    (one decimal), so "-21.0 LUFS" is about broadcast level."""
    shown = round(lufs, 1)
    if shown < QUIET_LUFS:
        return "quiet, well below broadcast level"
    if shown < BROADCAST_LUFS - 2:
        return "below broadcast level"
    if shown <= BROADCAST_LUFS + 2:
        return "about broadcast level"
    if shown < STREAMING_LUFS:
        return "between broadcast and streaming level"
    if shown <= VERY_LOUD_LUFS:
        return "loud, at or above streaming level"
    return "very loud, well above streaming level"


def peak_band(peak_dbfs: float) -> str:
    """Words for a sample peak, against the -1 dBTP true-peak ceiling of EBU R 128 (a true peak is never below the
    sample peak, so a sample peak over -1 dBFS is over the ceiling for sure; one under it may still be over)."""
    shown = round(peak_dbfs, 1)
    if shown >= FULL_SCALE:
        return "at full scale, may be clipped"
    if shown > TRUE_PEAK_CEILING:
        return "over the -1 dBTP ceiling of EBU R 128, clipping risk"
    return "under the -1 dBTP ceiling of EBU R 128"


@tool(version="2", serves=("loud", "volume"))
def loudness(args: LoudnessInput, clips: Clips) -> Loudness:
    """How loud the clip is (LUFS, peak and RMS in dBFS) and how much of it is silent.

    How loud the clip is and how much of it is silent. Returns the integrated loudness in LUFS
    (ITU-R BS.1770, as used by EBU R128: broadcast speech is around -23, streaming music around -14),
    the peak and RMS levels in dBFS (0 dBFS is the loudest a file can hold; peaks over EBU R 128's
    -1 dBTP ceiling risk clipping), the noise floor (level of the quietest 10% of 20 ms frames: the background level
    when the clip has pauses) and the share of 20 ms frames below a silence threshold (default
    -50 dBFS). Measured on the 16 kHz mono mix, so a stereo file with the same sound in both channels
    reads 3 dB below a full BS.1770 meter. LUFS needs at least 0.4 s of audio. It does not say what
    the sound is: use voice_activity for pauses in speech. Its summary puts the LUFS and the peak in words
    against these references: quiet (below -30), below broadcast level, about broadcast level (-23 ± 2),
    between broadcast and streaming level, loud (-14 to -9), very loud (above -9)."""
    audio = args.clip(clips)
    x = _samples(audio).astype(np.float64)
    frames = _frame_power(x)
    lufs, note = _integrated_loudness(x)
    return Loudness(
        lufs=lufs,
        peak_dbfs=_db(np.max(np.abs(x)) ** 2),
        rms_dbfs=_db(np.mean(x**2)),
        noise_floor_dbfs=_db(np.mean(frames[frames <= np.percentile(frames, 10)])),
        silence_ratio=round(float(np.mean(frames < 10 ** (args.silence_threshold / 10))), 3),
        silence_threshold=args.silence_threshold,
        note=note,
    )


class Pitch(ToolOutput):
    median_hz: float | None = Field(description="median fundamental frequency (F0) of the voiced frames, in Hz")
    low_hz: float | None = Field(description="5th percentile of F0 over the voiced frames, in Hz")
    high_hz: float | None = Field(description="95th percentile of F0 over the voiced frames, in Hz")
    range_semitones: float | None = Field(description="spread from low_hz to high_hz in semitones")
    voiced_ratio: float = Field(description="share of 10 ms frames with a periodic voice (pitch), 0 to 1")

    def findings(self) -> Findings:
        if self.median_hz is None:
            return Findings(facts="Pitch: no voiced frames")
        terms = ["pitch", "F0", "fundamental frequency"]
        return Findings(
            facts=f"Pitch: median {self.median_hz:.0f} Hz, range {self.low_hz:.0f}-{self.high_hz:.0f} Hz "
            f"({self.range_semitones:.1f} semitones, 5th-95th percentile), voiced {self.voiced_ratio:.0%} of frames",
            quantities=[Quantity(name="median pitch", value=self.median_hz, unit="Hz", terms=terms)],
        )


@tool(version="1")
def pitch(args: SpanInput, clips: Clips) -> Pitch:
    """Voice pitch of the dominant voice: median F0 in Hz and its range (low F0 = deep voice).

    Voice pitch: the fundamental frequency (F0) of the dominant voice, tracked with pYIN between
    50 and 800 Hz. Returns the median F0 in Hz, its range (5th to 95th percentile) in Hz and in
    semitones (small = monotone, large = lively intonation), and the share of frames that are voiced.
    Typical speaking F0: adult men about 85-155 Hz, adult women about 165-255 Hz, children higher.
    It assumes one voice at a time: with overlapping speakers or music the figures mix sources
    and are unreliable. Use a time range to measure one speaker's turn."""
    import librosa

    audio = args.clip(clips)
    x = _samples(audio)
    if len(x) < PITCH_SHORTEST * SAMPLE_RATE:
        raise ToolError(f"{audio.duration:.3f} s is too short to measure pitch; give at least {PITCH_SHORTEST} s")
    f0, voiced = [], []
    for piece in np.array_split(x, max(1, round(len(x) / PITCH_CHUNK))):
        f, v, _ = librosa.pyin(
            piece,
            fmin=PITCH_MIN,
            fmax=PITCH_MAX,
            sr=SAMPLE_RATE,
            frame_length=PITCH_FRAME,
            hop_length=PITCH_HOP,
            resolution=PITCH_RESOLUTION,
        )
        f0.append(f[v])
        voiced.append(v)
    hz = np.concatenate(f0)
    ratio = round(float(np.mean(np.concatenate(voiced))), 3)
    if hz.size == 0:
        return Pitch(median_hz=None, low_hz=None, high_hz=None, range_semitones=None, voiced_ratio=ratio)
    low, median, high = np.percentile(hz, [5, 50, 95])
    return Pitch(
        median_hz=round(float(median), 1),
        low_hz=round(float(low), 1),
        high_hz=round(float(high), 1),
        range_semitones=round(float(12 * np.log2(high / low)), 1),
        voiced_ratio=ratio,
    )


def _samples(audio: Audio) -> np.ndarray:
    if audio.samples.size == 0:
        raise ToolError(f"the time range {audio.offset:.3f}-{audio.offset + audio.duration:.3f} s holds no samples")
    return audio.samples


def _db(power: float | np.floating) -> float:
    """A mean-square level relative to full scale (1.0) in dB, floored at `FLOOR_DBFS`."""
    return round(max(10 * float(np.log10(max(power, 1e-30))), FLOOR_DBFS), 2)


def _frame_power(x: np.ndarray) -> np.ndarray:
    """Mean square of each whole 20 ms frame (the whole clip when it is shorter than one frame)."""
    n = len(x) // FRAME
    return np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1) if n else np.array([np.mean(x**2)])


def _integrated_loudness(x: np.ndarray) -> tuple[float | None, str | None]:
    """BS.1770 integrated loudness in LUFS, or None and the reason it cannot be measured."""
    import pyloudnorm

    if len(x) < LUFS_BLOCK * SAMPLE_RATE:
        return None, f"clip shorter than the {LUFS_BLOCK} s BS.1770 block"
    lufs = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(x)
    if not np.isfinite(lufs):
        return None, "no block above the -70 LUFS gate, near silence"
    return round(float(lufs), 2), None
