"""SNR and clipping on real speech (LibriVox, espeak-ng) mixed with real and sox noises at known SNRs."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from copilot.audio import Audio, from_array, load
from copilot.errors import NothingToMeasure, ToolError
from copilot.tools.signal_quality import NOISY_BELOW, signal_quality
from tests import corpora

SENTENCES = [
    ("en", "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."),
    ("en-us+f3", "Please call Stella. Ask her to bring these things with her from the store."),
    ("en+m3", "We have a meeting at noon tomorrow; I will bring the report and the slides."),
]
LIBRIVOX_SNRS = (0, 5, 10, 20)  # the clips' own noise floor reads 20-28 dB, so 30 dB added cannot be told apart
ESPEAK_SNRS = (0, 5, 10, 20, 30)
NOISES = {
    "white": "sox",
    "pink": "sox",
    "rain": "LRRain_in_garden_01_LA_cut.ogg",
    "applause": "LRApplauses_1_LA_cut.ogg",
}


@cache
def speech(tmp: Path) -> dict[str, np.ndarray]:
    """The five LibriVox clips and three espeak-ng sentences, 16 kHz."""
    clips = {f"librivox {p.stem[-4:]}": load(p).samples for p, _ in corpora.librivox()}
    for i, (voice, text) in enumerate(SENTENCES):
        clips[f"espeak {voice}"] = load(corpora.speak(text, tmp / f"espeak{i}.wav", voice=voice)).samples
    return clips


@cache
def noise(kind: str, tmp: Path) -> np.ndarray:
    """10 s of sox noise (repeatable: -R), or a gcompris-qt-data recording."""
    if NOISES[kind] != "sox":
        return load(corpora.gcompris_sound("memory-sound.rcc", NOISES[kind])).samples
    path = tmp / f"{kind}.wav"
    corpora.sox("-R", "-r", 16000, "-n", "-b", 32, "-e", "floating-point", path, "synth", 10, f"{kind}noise")
    return load(path).samples


def mix(clean: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean`` plus ``background`` (looped) scaled to ``snr_db`` below the speech's active level (`active_power`)."""
    looped = np.tile(background, -(-len(clean) // len(background)))[: len(clean)].astype(np.float64)
    gain = np.sqrt(active_power(clean) / np.mean(looped**2) / 10 ** (snr_db / 10))
    return clean + gain * looped


def active_power(clean: np.ndarray) -> float:
    """The power of a clean clip's active speech: the mean over its 32 ms frames within 30 dB of its loud frames
    (95th percentile), an energy VAD in the manner of ITU-T P.56's active speech level."""
    frames = len(clean) // 512
    power = np.mean(clean[: frames * 512].astype(np.float64).reshape(frames, 512) ** 2, axis=1)
    return float(np.mean(power[power >= np.percentile(power, 95) / 1000]))


def measure(samples: np.ndarray, **args: float):
    return signal_quality(args, {"audio1": from_array(samples)})


def grid(kind: str, tmp: Path) -> list[tuple[str, int, float, str]]:
    """(clip, true SNR, estimated SNR, verdict) of every clip mixed with ``kind`` noise at every SNR."""
    rows = []
    for name, clean in speech(tmp).items():
        for snr in LIBRIVOX_SNRS if name.startswith("librivox") else ESPEAK_SNRS:
            out = measure(mix(clean, noise(kind, tmp), snr))
            rows.append((name, snr, out.snr_db, out.noise))
    return rows


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signal_quality")


@pytest.mark.parametrize(("kind", "median_error", "within_3db", "verdicts"), [
    ("white", 1.0, 34, 35), ("pink", 1.0, 34, 35), ("rain", 1.0, 31, 35), ("applause", 3.0, 19, 31),
])  # fmt: skip
def test_snr_over_a_grid(tmp: Path, kind: str, median_error: float, within_3db: int, verdicts: int) -> None:
    rows = grid(kind, tmp)
    errors = np.abs([est - snr for _, snr, est, _ in rows])
    right = sum(verdict == ("noisy" if snr < NOISY_BELOW else "clean") for _, snr, _, verdict in rows)
    assert len(rows) == 35
    assert np.median(errors) <= median_error, rows
    assert np.sum(errors <= 3) >= within_3db, rows
    assert right >= verdicts, rows


def test_speech_without_added_noise_reads_clean(tmp: Path) -> None:
    for name, clean in speech(tmp).items():
        out = measure(clean)
        assert out.noise == "clean" and out.noise_measured_in == "pauses", (name, out)
        assert (15 <= out.snr_db <= 30) if name.startswith("librivox") else out.snr_db >= 50, (name, out)
        assert not out.clipped and out.findings().labels == ["clean"]


def test_facts_state_the_level_against_references(tmp: Path) -> None:
    clean = speech(tmp)["librivox 0890"]
    out = measure(mix(clean, noise("white", tmp), 5))
    assert out.findings().labels == ["noisy"]
    facts = out.findings().facts
    assert f"SNR {out.snr_db:.1f} dB" in facts and "noisy (noisy below 15 dB; 0 dB = noise as loud" in facts
    assert "15-30 dB = some background noise, studio speech 30 dB or more" in facts


def test_speech_without_pauses_falls_back_on_the_quietest_frames(tmp: Path) -> None:
    clean = speech(tmp)["librivox 0890"][int(0.3 * 16000) : int(2.0 * 16000)]  # inside one phrase
    for snr in (0, 10, 20):
        out = measure(mix(clean, noise("white", tmp), snr))
        assert out.noise_measured_in == "quietest frames", out
        assert abs(out.snr_db - snr) <= 3, (snr, out)


def sox_clip(tmp: Path, name: str, *effects: str | float, rate: int = 16000) -> Audio:
    """A LibriVox clip through sox ``effects``, written as 16-bit PCM at ``rate`` Hz (sox clips what overflows)."""
    source, _ = corpora.librivox()[2]
    path = tmp / f"{name}.wav"
    corpora.sox(source, "-b", 16, path, "rate", rate, *effects)
    return load(path)


@pytest.mark.parametrize(("effects", "rate", "clipped"), [
    (("gain", "-n", -0.1), 16000, False),  # peak-normalised to -0.1 dBFS: loud, not clipped
    (("gain", "-n"), 44100, False),  # to 0 dBFS at 44.1 kHz
    (("gain", 12), 16000, True),  # 12 dB of overdrive
    (("gain", 12, "gain", -6), 16000, True),  # clipped, then scaled down: flat tops at -6 dBFS
    (("gain", 12), 44100, True),  # clipped at 44.1 kHz: the resampling to 16 kHz rounds the flat tops off
])  # fmt: skip
def test_clipping(tmp: Path, effects: tuple[str | float, ...], rate: int, clipped: bool) -> None:
    out = signal_quality({}, {"audio1": sox_clip(tmp, "-".join(map(str, effects)), *effects, rate=rate)})
    assert out.clipped is clipped, out
    found = out.findings()
    assert ("clipped" in found.labels) is clipped
    assert ("Signal quality" in found.facts) and (("; clipped:" in found.facts) is clipped)


def test_silence_and_short_ranges_are_refused(tmp: Path) -> None:
    with pytest.raises(NothingToMeasure, match="digital silence"):
        measure(np.zeros(32000))
    with pytest.raises(ToolError, match="too short"):
        measure(speech(tmp)["librivox 0890"], start=1.0, end=1.3)


def test_noise_alone_has_no_snr(tmp: Path) -> None:
    out = measure(0.1 * noise("white", tmp)[:48000])
    assert out.snr_db is None and out.noise is None and out.findings().labels == []
    assert "not measured, no speech found" in out.findings().facts
