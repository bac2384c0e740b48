"""Reverberation of speech: a blind estimate of the room's reverberation time (RT60), reverberant or dry.

After Wen, Habets & Naylor 2008 ("Blind estimation of reverberation time based on the distribution of
signal decay rates", ICASSP): the decay rates of the speech's sub-band energy envelopes (16 mel bands,
300-4000 Hz, 32 ms frames every 8 ms) are least-squares slopes over 128 ms windows; speech cannot fall
silent faster than the room lets its sound die away, so the steepest decays (each band's 10th
percentile of falling slopes) bound the room's decay rate. Only windows at least 15 dB above the band's
noise floor count, and only those that start 6 dB or more below the band's peak of the previous 96 ms:
the reverberant tail after the direct sound has dropped, which keeps a close microphone from reading
as dry as it otherwise would. The bands' median decay time T is mapped to RT60 by a power law,
RT60 = 1.52 * T^1.33 s, fitted on three espeak-ng voices convolved with synthetic impulse responses (a
direct impulse, then exponentially decaying Gaussian noise at a direct-to-reverberant ratio (DRR) of
0 dB) of RT60 0.2-1.5 s. It measures no clarity (C50) or DRR: those need the impulse response or a
trained model.

Speech recorded in a room of its own reads 0.2-0.26 s with nothing added, so short RT60s read high; a close
microphone (a high direct-to-reverberant ratio) reads short; noisy speech (10 dB SNR) can be called reverberant.
What it was measured on, per RT60 and DRR: docs/benchmarks.md ("reverberation's estimates").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from copilot.audio import SAMPLE_RATE
from copilot.errors import NothingToMeasure, ToolError
from copilot.tool import Attribute, Clips, Findings, Quantity, SpanInput, ToolOutput, tool

MIN_SECONDS = 1.0  # shortest range with enough speech offsets to see decays
FFT, HOP = 512, 128  # 32 ms frames every 8 ms
BANDS, LOW_HZ, HIGH_HZ = 16, 300.0, 4000.0  # mel bands where speech has its energy
SLOPE_FRAMES = 16  # 128 ms: the window a decay rate is fitted over
DROP_DB, DROP_FRAMES = 6.0, 12  # a window starts this far below the band's peak of the previous 96 ms
ABOVE_FLOOR_DB = 15.0  # ... and this far above the band's floor (its 10th percentile)
STEEPEST = 10  # percentile of the falling slopes that bounds the room's decay
MIN_DECAYS, MIN_BANDS = 5, 4  # decays a band needs, and bands with them, for an estimate
SCALE, POWER = 1.52, 1.33  # RT60 = SCALE * T^POWER, fitted on espeak-ng (module docstring)
REVERBERANT_FROM = 0.4  # s: the reverberant/dry threshold

Reverb = Literal["dry", "reverberant"]


class Reverberation(ToolOutput):
    rt60_s: float = Field(description="estimated reverberation time RT60 in seconds (time for sound to decay 60 dB)")
    reverberation: Reverb = Field(description=f"reverberant when rt60_s is {REVERBERANT_FROM} s or more, else dry")
    decays: int = Field(description="decay windows the estimate rests on (more is firmer; a few dozen is thin)")
    bands: int = Field(description=f"sub-bands (of {BANDS}) with enough decays")

    def findings(self) -> Findings:
        echo = ["reverberation", "reverb", "echo", "echoing", "echoey"]
        terms = ["RT60", "reverberation time", "reverb time", "decay time", "reverberation", "reverb"]
        reading = f"{self.reverberation} (reverberant from {REVERBERANT_FROM} s)"
        return Findings(
            facts=f"Reverberation: RT60 about {self.rt60_s:.2f} s (blind estimate from {self.decays} decays in "
            f"{self.bands} bands): {self.reverberation} (reverberant from {REVERBERANT_FROM} s; a studio or vocal booth "
            "is under 0.3 s, a furnished living room 0.4-0.6 s, a classroom 0.6-1 s, a concert hall about 2 s, a "
            "cathedral 4 s or more; a close microphone reads shorter)",
            labels=[self.reverberation],
            attribute=Attribute(name="reverberation", values=["dry", "reverberant"], terms={"reverberant": echo}),
            quantities=[Quantity(name="reverberation time RT60", value=self.rt60_s, unit="s", terms=terms, reading=reading)],
        )


@tool(version="1", serves=("reverberation", "reverberant", "echo"))
def reverberation(args: SpanInput, clips: Clips) -> Reverberation:
    """How reverberant the room sounds: a blind estimate of its reverberation time RT60 in seconds, reverberant or dry.

    Estimated from how fast the speech's energy dies away after each sound stops, calibrated on speech
    convolved with impulse responses of known RT60: below 0.4 s is dry (a studio or booth is under
    0.3 s), a living room reads 0.4-0.6 s, a classroom 0.6-1 s, a hall 2 s. On real speech given known
    reverberation it was within about 25% from 0.6 s up; speech recorded close to the microphone reads
    shorter than its room, and strong noise hides the decays. It gives no clarity (C50) or
    direct-to-reverberant ratio, and cannot tell a room's reverberation from an added reverb effect.
    Needs at least 1 s with speech; silence or steady noise is refused."""
    audio = args.clip(clips)
    if audio.duration < MIN_SECONDS:
        raise ToolError(f"{audio.duration:.3f} s is too short to see decays; give at least {MIN_SECONDS:.0f} s")
    if not np.any(audio.samples):
        raise NothingToMeasure("the range is digital silence: no sound decays to measure reverberation from")
    decay, decays, bands = decay_time(audio.samples)
    if bands < MIN_BANDS:
        raise NothingToMeasure(
            f"too few sound decays above the noise ({bands} of {BANDS} bands have {MIN_DECAYS}): "
            "no speech, steady sound, or speech buried in noise"
        )
    rt60 = round(SCALE * decay**POWER, 2)
    return Reverberation(
        rt60_s=rt60,
        reverberation="reverberant" if rt60 >= REVERBERANT_FROM else "dry",
        decays=decays,
        bands=bands,
    )


def decay_time(samples: np.ndarray) -> tuple[float, int, int]:
    """The median over sub-bands of the time the steepest decays take to fall 60 dB (before the mapping to RT60),
    with the number of decay windows and of bands it rests on."""
    import librosa
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.ndimage import maximum_filter1d

    power = np.abs(librosa.stft(samples, n_fft=FFT, hop_length=HOP)) ** 2
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=FFT, n_mels=BANDS, fmin=LOW_HZ, fmax=HIGH_HZ)
    level = 10 * np.log10(mel @ power + 1e-10)  # bands x frames, dB
    t = np.arange(SLOPE_FRAMES) * HOP / SAMPLE_RATE
    t -= t.mean()
    slopes = sliding_window_view(level, SLOPE_FRAMES, axis=1) @ t / np.sum(t**2)  # dB/s, one per window start
    start = level[:, : slopes.shape[1]]
    recent_peak = maximum_filter1d(level, DROP_FRAMES, axis=1, origin=(DROP_FRAMES - 1) // 2)[:, : slopes.shape[1]]
    floor = np.percentile(level, 10, axis=1, keepdims=True)
    falling = (slopes < 0) & (start <= recent_peak - DROP_DB) & (start >= floor + ABOVE_FLOOR_DB)
    times = [-60 / np.percentile(s[f], STEEPEST) for s, f in zip(slopes, falling, strict=True) if f.sum() >= MIN_DECAYS]
    used = sum(int(f.sum()) for f in falling if f.sum() >= MIN_DECAYS)
    return (float(np.median(times)) if times else 0.0), used, len(times)
