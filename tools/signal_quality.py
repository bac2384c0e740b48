"""Signal quality of speech: its signal-to-noise ratio (clean or noisy) and clipping.

The SNR is the speech's power over the noise's, with the noise measured in the pauses Silero VAD finds:
the median power of the 32 ms frames whose speech probability is below 0.5, without the frame on
either side of speech. The speech's power is the mean power of the frames Silero marks as speech, less
the noise's: its active level, as ITU-T P.56 and the noise mixers of speech-enhancement benchmarks
define a speech level, so pauses in the speech do not lower it. A range with under 0.25 s of pauses
falls back on the mean power of its quietest 10% of frames for the noise.

Noise whose level changes (a train going by, applause) is misread, as the pauses do not hold the noise under the
speech; music or a second voice in the background counts as speech, not noise; a recording's own noise floor
adds to the noise mixed in. Why this estimator rather than WADA-SNR, and its errors per noise:
docs/benchmarks.md ("signal_quality's estimator").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from copilot.audio import SAMPLE_RATE
from copilot.errors import NothingToMeasure, ToolError
from copilot.tool import Attribute, Clips, Findings, Quantity, SpanInput, ToolOutput, tool
from copilot.tools.vad import WINDOW, speech_probabilities

MIN_SECONDS = 0.5  # shortest range with enough frames for a noise level
SPEECH_PROBABILITY = 0.5  # Silero's default: a frame at or above it is speech
MIN_PAUSE_FRAMES = 8  # 0.26 s of pauses (32 ms frames) to measure the noise in; else the quietest frames
QUIETEST = 10  # percent of frames that make the fallback noise level
NOISY_BELOW = 15.0  # dB: the clean/noisy threshold
CLEAN_FROM = 30.0  # dB: studio speech (close microphone, quiet room) reads this or more
SNR_FLOOR, SNR_CEILING = -10.0, 60.0  # dB: the range reported
FULL_SCALE = 0.99  # |sample| at or above this (-0.09 dBFS) is at full scale
FLAT_RUN = 3  # consecutive samples at the range's own peak that make a flat top
CLIPPED_SHARE = 0.001  # a range with this share of samples at full scale is clipped
CLIPPED_RUNS = 5  # ... or with this many flat tops (clipped, then scaled down)

Noise = Literal["clean", "noisy"]


class SignalQuality(ToolOutput):
    snr_db: float | None = Field(
        description=f"signal-to-noise ratio of the speech in dB ({SNR_FLOOR:.0f} to {SNR_CEILING:.0f}); "
        "null when no speech was found"
    )
    noise: Noise | None = Field(description=f"noisy when snr_db is below {NOISY_BELOW:.0f} dB, else clean")
    noise_dbfs: float = Field(description="level of the noise (the pauses, or the quietest frames), in dBFS")
    noise_measured_in: Literal["pauses", "quietest frames"] = Field(
        description="where the noise level was taken: the pauses between speech, or, with under 0.25 s of pauses, "
        "the quietest 10% of frames (less accurate)"
    )
    pause_seconds: float = Field(description="seconds of pauses found (the noise is measured in them from 0.25 s)")
    full_scale_ratio: float = Field(description="share of samples at full scale (|x| >= 0.99), 0 to 1")
    flat_runs: int = Field(
        description="runs of 3 or more consecutive samples within 0.1% of the range's own peak (flat tops)"
    )
    clipped: bool = Field(
        description=f"at least {CLIPPED_SHARE:.1%} of samples at full scale, or {CLIPPED_RUNS} or more flat tops"
    )

    def findings(self) -> Findings:
        if self.snr_db is None:
            snr = "SNR: not measured, no speech found"
        else:
            where = f"{self.pause_seconds:.1f} s of pauses" if self.noise_measured_in == "pauses" else "quietest frames"
            snr = (
                f"SNR {self.snr_db:.1f} dB (noise {self.noise_dbfs:.0f} dBFS, measured in {where}): {self.noise} "
                f"(noisy below {NOISY_BELOW:.0f} dB; 0 dB = noise as loud as the speech, "
                f"{NOISY_BELOW:.0f}-{CLEAN_FROM:.0f} dB = some background noise, studio speech {CLEAN_FROM:.0f} dB or more)"
            )
        clipping = (
            f"clipped: {self.full_scale_ratio:.2%} of samples at full scale, {self.flat_runs} flat tops"
            if self.clipped
            else f"not clipped ({self.full_scale_ratio:.2%} of samples at full scale, {self.flat_runs} flat tops; "
            f"clipped means {CLIPPED_SHARE:.1%} or more, or {CLIPPED_RUNS} flat tops)"
        )
        quantities = []
        if self.snr_db is not None:
            terms = ["SNR", "signal-to-noise"]
            reading = f"{self.noise} (noisy below {NOISY_BELOW:.0f} dB; studio speech {CLEAN_FROM:.0f} dB or more)"
            name = "speech-to-noise ratio (SNR)"
            quantities = [Quantity(name=name, value=self.snr_db, unit="dB", terms=terms, reading=reading)]
        return Findings(
            facts=f"Signal quality: {snr}; {clipping}",
            labels=([self.noise] if self.noise else []) + (["clipped"] if self.clipped else []),
            attribute=Attribute(name="noise level", values=["clean", "noisy"], terms={"noisy": ["noise"]}),
            quantities=quantities,
        )


@tool(version="2", serves=("signal to noise", "snr", "noise", "noisy"))
def signal_quality(args: SpanInput, clips: Clips) -> SignalQuality:
    """Signal quality of speech: its signal-to-noise ratio in dB (clean or noisy) and whether it is clipped.

    The SNR is the speech's power over the background noise's, the noise measured in the pauses
    between speech (Silero VAD): 0 dB means noise as loud as the speech, below 15 dB is noisy, 15-30 dB
    has some background noise, studio speech reads 30 dB or more. On white, pink and rain noise mixed at 0-30 dB it was within
    3 dB of the true SNR (speech at its active level) in 102 of 105 cases; noise that changes level (applause, traffic) is misread,
    and music or other voices in the background count as speech, not noise. It cannot tell noise added
    afterwards from noise in the room, nor name the noise (use sound_events). Clipping is the share of
    samples at full scale and the number of flat tops at the range's peak (clipped and then scaled
    down). Needs at least 0.5 s; digital silence is refused."""
    audio = args.clip(clips)
    x = audio.samples.astype(np.float64)
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        raise ToolError(f"{audio.duration:.3f} s is too short to measure a noise level; give at least {MIN_SECONDS} s")
    peak = float(np.max(np.abs(x)))
    if peak == 0:
        raise NothingToMeasure("the range is digital silence: no signal to measure the quality of")
    frames = len(x) // WINDOW
    power = np.mean(x[: frames * WINDOW].reshape(frames, WINDOW) ** 2, axis=1)
    speech = speech_probabilities(audio)[:frames] >= SPEECH_PROBABILITY
    pauses = ~np.convolve(speech, np.ones(3), mode="same").astype(bool)  # not speech, nor next to it
    if pauses.sum() >= MIN_PAUSE_FRAMES:
        noise, measured_in = float(np.median(power[pauses])), "pauses"
    else:
        noise, measured_in = float(np.mean(power[power <= np.percentile(power, QUIETEST)])), "quietest frames"
    snr = None
    if speech.any():
        active = float(np.mean(power[speech]))
        ratio = (active - noise) / noise if noise > 0 else np.inf
        snr = round(float(np.clip(10 * np.log10(max(ratio, 1e-30)), SNR_FLOOR, SNR_CEILING)), 1)
    ratio_full = float(np.mean(np.abs(x) >= FULL_SCALE))
    runs = _flat_runs(x, peak)
    return SignalQuality(
        snr_db=snr,
        noise=None if snr is None else "noisy" if snr < NOISY_BELOW else "clean",
        noise_dbfs=round(max(10 * np.log10(max(noise, 1e-30)), -120.0), 1),
        noise_measured_in=measured_in,
        pause_seconds=round(float(pauses.sum()) * WINDOW / SAMPLE_RATE, 2),
        full_scale_ratio=round(ratio_full, 5),
        flat_runs=runs,
        clipped=ratio_full >= CLIPPED_SHARE or runs >= CLIPPED_RUNS,
    )


def _flat_runs(x: np.ndarray, peak: float) -> int:
    """Runs of `FLAT_RUN` or more consecutive samples within 0.1% of ``peak`` with one sign (flat tops)."""
    runs = 0
    for sign in (1, -1):
        at_peak = np.concatenate(([0], (sign * x >= peak * 0.999).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(at_peak))
        runs += int(np.sum(edges[1::2] - edges[::2] >= FLAT_RUN))
    return runs
