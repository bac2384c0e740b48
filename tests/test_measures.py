"""Duration, loudness and pitch on files of known length, level and frequency made with sox, numpy and espeak-ng."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.audio import Audio, from_array, load
from copilot.errors import ToolError
from copilot.tools.measures import duration, loudness, loudness_band, peak_band, pitch
from tests import corpora


def clips(audio: Audio) -> dict[str, Audio]:
    return {"audio1": audio}


def tone(path: Path, rate: int, seconds: float, hz: float, amplitude: float, channels: int = 1) -> Path:
    """A sox sine written as 32-bit float, so its peak is ``amplitude`` exactly (no dither)."""
    float32 = ("-b", 32, "-e", "floating-point")
    corpora.sox("-r", rate, "-c", channels, "-n", *float32, path, "synth", seconds, "sine", hz, "vol", amplitude)
    return path


@pytest.mark.parametrize(
    ("rate", "channels", "frames", "maker"),
    [
        (8000, 1, 8000 * 2 + 1, "numpy"),
        (22050, 2, 22050 * 3 + 7, "sox"),
        (44100, 2, 44100 * 3 + 1, "sox"),
        (44100, 1, 44100 * 3 + 1, "numpy"),
        (48000, 2, 48000 * 5 - 1, "numpy"),
    ],
)
def test_duration_is_exact(tmp_path: Path, rate: int, channels: int, frames: int, maker: str) -> None:
    path = tmp_path / f"{rate}.{'flac' if maker == 'numpy' else 'wav'}"
    if maker == "sox":
        corpora.sox("-r", rate, "-c", channels, "-n", path, "synth", f"{frames}s", "sine", 440, "vol", 0.5)
    else:
        sf.write(path, np.full((frames, channels), 0.25, np.float32), rate)
    out = duration({}, clips(load(path)))
    assert abs(out.duration - frames / rate) < 1e-3
    assert (out.source_sample_rate, out.channels) == (rate, channels)
    layout = "mono" if channels == 1 else f"{channels} channels"
    assert out.findings().facts == f"Duration: {frames / rate:.3f} s ({rate} Hz, {layout})"


def test_duration_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, np.zeros((44100 * 3 + 1, 2), np.int16), 44100)
    run = subprocess.run(
        [sys.executable, "-m", "copilot.cli", "run", "duration", str(path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"duration": 3.000023, "source_sample_rate": 44100, "channels": 2}


@pytest.mark.parametrize(("rate", "hz", "amplitude"), [(48000, 1000, 0.1), (44100, 1000, 0.5), (16000, 440, 0.25)])
def test_loudness_of_a_sine(tmp_path: Path, rate: int, hz: float, amplitude: float) -> None:
    out = loudness({}, clips(load(tone(tmp_path / "tone.wav", rate, 3, hz, amplitude))))
    peak = 20 * np.log10(amplitude)
    rms = peak - 10 * np.log10(2)  # a sine's mean square is half its peak's square
    assert out.peak_dbfs == pytest.approx(peak, abs=0.1)
    assert out.rms_dbfs == pytest.approx(rms, abs=0.1)
    assert out.noise_floor_dbfs == pytest.approx(rms, abs=0.1)
    assert out.silence_ratio == 0
    if hz == 1000:
        # BS.1770's K-weighting gains +0.69 dB at 1 kHz and its -0.691 constant cancels that,
        # so a mono 1 kHz sine reads its RMS level: -20 dBFS peak -> -23.0 LUFS.
        assert out.lufs == pytest.approx(rms, abs=0.1)
    assert out.note is None


def test_silence_ratio_of_a_half_silent_clip(tmp_path: Path) -> None:
    # 2 s of a -20 dBFS tone, then 2 s of digital silence
    path = tmp_path / "half.wav"
    tone(tmp_path / "tone.wav", 44100, 2, 1000, 0.1)
    corpora.sox(tmp_path / "tone.wav", path, "pad", 0, 2)
    out = loudness({}, clips(load(path)))
    assert out.silence_ratio == pytest.approx(0.5, abs=0.02)
    assert out.noise_floor_dbfs == -120.0
    # BS.1770 averages 0.4 s blocks every 0.1 s: 17 lie in the tone, 3 straddle its end (holding
    # 3/4, 1/2 and 1/4 of a block's power) and the 17 silent ones fall below the -70 LUFS gate.
    assert out.lufs == pytest.approx(-23.0 + 10 * np.log10((17 + 0.75 + 0.5 + 0.25) / 20), abs=0.1)
    assert out.rms_dbfs == pytest.approx(-23.0 - 3.0, abs=0.1)
    assert "silent 50%" in out.findings().facts


@pytest.mark.parametrize(("threshold", "silent"), [(-50.0, 1.0), (-70.0, 0.0)])
def test_silence_threshold(threshold: float, silent: float) -> None:
    quiet = from_array(np.full(16000, 10 ** (-60 / 20), np.float32))  # a constant -60 dBFS
    assert loudness({"silence_threshold": threshold}, clips(quiet)).silence_ratio == silent


def test_loudness_of_a_clip_shorter_than_a_block() -> None:
    out = loudness({}, clips(from_array(np.full(3200, 0.1, np.float32))))  # 0.2 s
    assert out.lufs is None and "0.4 s" in out.note
    assert out.peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert "LUFS n/a" in out.findings().facts


def test_loudness_of_a_short_time_range(tmp_path: Path) -> None:
    audio = load(tone(tmp_path / "tone.wav", 16000, 3, 1000, 0.1))
    assert loudness({"start": 1.0, "end": 1.3}, clips(audio)).lufs is None
    assert loudness({"start": 1.0, "end": 1.5}, clips(audio)).lufs == pytest.approx(-23.0, abs=0.1)


def test_loudness_of_digital_silence() -> None:
    out = loudness({}, clips(from_array(np.zeros(32000, np.float32))))
    assert out.lufs is None and "gate" in out.note
    assert out.peak_dbfs == out.rms_dbfs == -120.0
    assert out.silence_ratio == 1.0


def test_a_range_without_samples_is_a_tool_error() -> None:
    audio = from_array(np.zeros(32000, np.float32))
    with pytest.raises(ToolError, match="no samples"):
        loudness({"start": 1.0, "end": 1.00001}, clips(audio))


def at_loudness(samples: np.ndarray, lufs: float) -> Audio:
    """``samples`` (16 kHz) scaled by pyloudnorm to an integrated loudness of ``lufs``."""
    import pyloudnorm

    meter = pyloudnorm.Meter(16000)
    x = samples.astype(np.float64)
    return from_array(pyloudnorm.normalize.loudness(x, meter.integrated_loudness(x), lufs))


@pytest.mark.parametrize(
    ("signal", "lufs", "band", "peak"),
    [
        ("speech", -35.0, "quiet, well below broadcast level", "under the -1 dBTP ceiling"),
        ("speech", -30.0, "below broadcast level", "under the -1 dBTP ceiling"),
        ("speech", -27.0, "below broadcast level", "under the -1 dBTP ceiling"),
        ("speech", -23.0, "about broadcast level", "under the -1 dBTP ceiling"),
        ("speech", -21.9, "about broadcast level", "under the -1 dBTP ceiling"),  # issue 22: not "loud"
        ("speech", -18.0, "between broadcast and streaming level", "over the -1 dBTP ceiling"),  # peaks -0.7 dBFS
        ("sine", -14.0, "loud, at or above streaming level", "under the -1 dBTP ceiling"),
        ("sine", -8.0, "very loud, well above streaming level", "under the -1 dBTP ceiling"),  # peaks -5 dBFS
        ("sine", -3.1, "very loud, well above streaming level", "at full scale, may be clipped"),  # peaks -0.1 dBFS
    ],
)
def test_loudness_is_worded_against_broadcast_and_streaming_levels(
    signal: str, lufs: float, band: str, peak: str
) -> None:
    """The facts put the measured LUFS and peak in words, with the references: a LibriVox reading up to -18 LUFS
    (its peaks are 17 dB over its loudness: any louder would clip without a limiter) and a 1 kHz sine (3 dB)."""
    if signal == "speech":
        samples = load(corpora.librivox()[0][0]).samples
    else:
        samples = np.sin(2 * np.pi * 1000 * np.arange(3 * 16000) / 16000)
    out = loudness({}, clips(at_loudness(samples, lufs)))
    assert out.lufs == pytest.approx(lufs, abs=0.01)
    facts = out.findings().facts
    assert f"Loudness: {lufs:.1f} LUFS: {band} (EBU R 128 broadcast: -23 LUFS; streaming: about -14 LUFS); " in facts
    assert f"peak {out.peak_dbfs:.1f} dBFS: {peak}" in facts
    if not band.startswith(("loud", "very loud")):
        assert "loud" not in facts.removeprefix("Loudness")


@pytest.mark.parametrize(
    ("lufs", "band"),
    [
        (-45.0, "quiet"),
        (-30.06, "quiet"),  # printed -30.1
        (-30.04, "below broadcast level"),  # printed -30.0
        (-25.06, "below broadcast level"),
        (-25.0, "about broadcast level"),
        (-23.0, "about broadcast level"),
        (-20.96, "about broadcast level"),  # printed -21.0, within 2 LU of -23
        (-20.9, "between broadcast and streaming level"),
        (-14.04, "loud"),  # printed -14.0
        (-9.0, "loud"),
        (-8.9, "very loud"),
        (0.0, "very loud"),
    ],
)
def test_loudness_bands(lufs: float, band: str) -> None:
    assert loudness_band(lufs).startswith(band)


@pytest.mark.parametrize(
    ("peak", "words"),
    [
        (0.0, "at full scale, may be clipped"),
        (-0.14, "at full scale, may be clipped"),  # printed -0.1
        (-0.2, "over the -1 dBTP ceiling of EBU R 128, clipping risk"),
        (-0.96, "under the -1 dBTP ceiling of EBU R 128"),  # printed -1.0
        (-6.0, "under the -1 dBTP ceiling of EBU R 128"),
        (-120.0, "under the -1 dBTP ceiling of EBU R 128"),
    ],
)
def test_peak_bands(peak: float, words: str) -> None:
    assert peak_band(peak) == words


@pytest.mark.parametrize("hz", [110.0, 220.0, 440.0])
def test_pitch_of_a_sine(tmp_path: Path, hz: float) -> None:
    out = pitch({}, clips(load(tone(tmp_path / "tone.wav", 44100, 2, hz, 0.5))))
    assert out.median_hz == pytest.approx(hz, rel=0.01)
    assert out.range_semitones < 0.5
    assert out.voiced_ratio > 0.9


def test_pitch_of_a_time_range(tmp_path: Path) -> None:
    low, high = tone(tmp_path / "low.wav", 16000, 2, 150, 0.5), tone(tmp_path / "high.wav", 16000, 2, 300, 0.5)
    corpora.sox(low, high, tmp_path / "both.wav")
    audio = load(tmp_path / "both.wav")
    assert pitch({"end": 1.8}, clips(audio)).median_hz == pytest.approx(150, rel=0.01)
    assert pitch({"start": 2.2}, clips(audio)).median_hz == pytest.approx(300, rel=0.01)


def test_pitch_orders_espeak_voices(tmp_path: Path) -> None:
    text = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."
    low = pitch({}, clips(load(corpora.speak(text, tmp_path / "low.wav", pitch=20))))
    high = pitch({}, clips(load(corpora.speak(text, tmp_path / "high.wav", pitch=80))))
    assert 60 < low.median_hz < high.median_hz < 250
    assert 12 * np.log2(high.median_hz / low.median_hz) > 4  # semitones apart
    for out in (low, high):
        assert out.low_hz < out.median_hz < out.high_hz
        assert 0.3 < out.voiced_ratio < 0.95  # speech has unvoiced consonants and pauses


@pytest.mark.parametrize("kind", ["silence", "white noise"])
def test_pitch_without_a_voice(kind: str) -> None:
    samples = np.zeros(32000) if kind == "silence" else 0.1 * np.random.default_rng(0).standard_normal(32000)
    out = pitch({}, clips(from_array(samples)))
    assert out.median_hz is None and out.voiced_ratio < 0.05
    assert out.findings().facts == "Pitch: no voiced frames"


def test_pitch_of_a_too_short_range(tmp_path: Path) -> None:
    audio = load(tone(tmp_path / "tone.wav", 16000, 1, 220, 0.5))
    with pytest.raises(ToolError, match="too short"):
        pitch({"start": 0.5, "end": 0.55}, clips(audio))
    assert pitch({"start": 0.5, "end": 0.6}, clips(audio)).median_hz == pytest.approx(220, rel=0.01)
