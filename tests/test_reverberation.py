"""Blind RT60 on real speech (LibriVox) and espeak-ng, convolved with impulse responses of known RT60 and run
through sox's reverb, whose RT60 is measured on its own impulse response."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve

from copilot.audio import SAMPLE_RATE, from_array, load
from copilot.errors import NothingToMeasure, ToolError
from copilot.tools.reverberation import REVERBERANT_FROM, reverberation
from tests import corpora

RT60S = (0.3, 0.6, 1.0, 1.5)
VOICES = {
    "en": "The quick brown fox jumps over the lazy dog, and then it runs away into the forest.",
    "en-us+f3": "Please call Stella. Ask her to bring these things with her from the store.",
    "en+m3": "We have a meeting at noon tomorrow; I will bring the report and the slides.",
}


@cache
def librivox() -> list[np.ndarray]:
    return [load(path).samples for path, _ in corpora.librivox()]


@cache
def espeak(tmp: Path) -> list[np.ndarray]:
    return [load(corpora.speak(text, tmp / f"{voice}.wav", voice=voice)).samples for voice, text in VOICES.items()]


def impulse_response(rt60: float, drr_db: float, seed: int) -> np.ndarray:
    """A direct impulse, then Gaussian noise decaying 60 dB in ``rt60`` s from 2 ms on, ``drr_db`` below it in energy."""
    t = np.arange(int(SAMPLE_RATE * max(1.5 * rt60, 0.3))) / SAMPLE_RATE
    tail = np.random.default_rng(seed).standard_normal(len(t)) * 10 ** (-3 * t / rt60) * (t >= 0.002)
    response = tail / np.sqrt(np.sum(tail**2) * 10 ** (drr_db / 10))
    response[0] = 1.0
    return response


def reverberate(dry: np.ndarray, rt60: float, drr_db: float = 0.0, seed: int = 0) -> np.ndarray:
    wet = fftconvolve(dry.astype(np.float64), impulse_response(rt60, drr_db, seed))
    return 0.5 * wet / np.max(np.abs(wet))


def rt60_of(samples: np.ndarray) -> float:
    return reverberation({}, {"audio1": from_array(samples)}).rt60_s


def schroeder_t30(response: np.ndarray) -> float:
    """RT60 of an impulse response: the backward-integrated energy's slope from -5 to -35 dB (ISO 3382 T30)."""
    energy = np.cumsum(response[::-1] ** 2)[::-1]
    decay = 10 * np.log10(energy / energy[0] + 1e-30)
    fit = (decay <= -5) & (decay >= -35)
    return float(-60 / np.polyfit(np.flatnonzero(fit) / SAMPLE_RATE, decay[fit], 1)[0])


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reverberation")


def test_the_synthetic_impulse_responses_have_their_rt60() -> None:
    for rt60 in RT60S:
        assert schroeder_t30(impulse_response(rt60, -10.0, 1)) == pytest.approx(rt60, rel=0.05)


@pytest.mark.parametrize("drr_db", [0.0, 6.0])
def test_rt60_of_real_speech_with_known_reverberation(drr_db: float) -> None:
    estimates = np.array(
        [[rt60_of(reverberate(x, rt60, drr_db, seed)) for rt60 in RT60S] for seed, x in enumerate(librivox())]
    )
    assert np.all(np.diff(estimates, axis=1) > 0), estimates  # longer reverberation, longer estimate, every clip
    for rt60, column in zip(RT60S, estimates.T, strict=True):
        if rt60 >= 0.6:
            assert np.all(np.abs(column / rt60 - 1) <= 0.25), (rt60, column)


def test_dry_and_reverberant_verdicts(tmp: Path) -> None:
    for x in [*librivox(), *espeak(tmp)]:
        dry = reverberation({}, {"audio1": from_array(x)})
        assert dry.reverberation == "dry" and dry.findings().labels == ["dry"], dry
        wet = reverberation({}, {"audio1": from_array(reverberate(x, 0.6))})
        assert wet.reverberation == "reverberant" and wet.rt60_s >= REVERBERANT_FROM, wet
        facts = wet.findings().facts
        assert f"RT60 about {wet.rt60_s:.2f} s" in facts and "reverberant from 0.4 s" in facts


def sox_reverb(tmp: Path, dry: np.ndarray, reverberance: int) -> tuple[np.ndarray, float]:
    """``dry`` through sox's reverb (its direct sound kept), and the RT60 (T30) of that reverb's impulse response."""
    source, impulse, out, response = (tmp / f"{name}-{reverberance}.wav" for name in ("dry", "impulse", "out", "ir"))
    sf.write(source, dry, SAMPLE_RATE, subtype="FLOAT")
    sf.write(impulse, np.eye(1, 2 * SAMPLE_RATE)[0] * 0.5, SAMPLE_RATE, subtype="FLOAT")
    corpora.sox(source, "-e", "floating-point", out, "reverb", reverberance)
    corpora.sox(impulse, "-e", "floating-point", response, "reverb", "-w", reverberance)
    return sf.read(out)[0], schroeder_t30(sf.read(response)[0])


def test_sox_reverb_orders_and_is_called_reverberant(tmp: Path) -> None:
    x = librivox()[2]
    runs = [sox_reverb(tmp, x, reverberance) for reverberance in (10, 30, 50, 70)]
    estimates = [rt60_of(wet) for wet, _ in runs]
    truths = [t30 for _, t30 in runs]
    assert np.all(np.diff(truths) > 0) and np.all(np.diff(estimates) > 0), (truths, estimates)
    assert estimates[0] < REVERBERANT_FROM <= estimates[1], (truths, estimates)  # RT60 0.28 s, then 0.70 s


def test_noise_at_20_db_leaves_the_estimate_close() -> None:
    rng = np.random.default_rng(0)
    for seed, x in enumerate(librivox()):
        for rt60 in (None, 0.6, 1.0):
            clean = x.astype(np.float64) if rt60 is None else reverberate(x, rt60, seed=seed)
            noise = rng.standard_normal(len(clean))
            noisy = clean + noise * np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 100)  # 20 dB SNR
            estimate = rt60_of(noisy)
            if rt60 is None:
                assert estimate < REVERBERANT_FROM, estimate
            else:
                assert abs(estimate / rt60 - 1) <= 0.25, (rt60, estimate)


def test_silence_steady_noise_and_short_ranges_are_refused(tmp: Path) -> None:
    with pytest.raises(NothingToMeasure, match="digital silence"):
        rt60_of(np.zeros(3 * SAMPLE_RATE))
    with pytest.raises(NothingToMeasure, match="too few sound decays"):
        rt60_of(0.1 * np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE))
    with pytest.raises(ToolError, match="too short"):
        reverberation({"end": 0.5}, {"audio1": from_array(librivox()[0])})
