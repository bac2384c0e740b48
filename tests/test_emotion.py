"""The emotion tool's prosody backend (the fallback for short speech), on espeak-ng speech: its structure, its cues,
and its honesty; the default learned head is tested in test_heads.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copilot import backends
from copilot.audio import SAMPLE_RATE, Audio, from_array, load
from copilot.errors import NothingToMeasure
from copilot.registry import default_registry
from copilot.tools.emotion import (
    CUES,
    LABELS,
    NEUTRAL,
    PROFILES,
    EmotionOutput,
    Prosody,
    emotion,
    measure,
    prosody_scores,
)
from tests import corpora

TEXT = "I told you already, we are leaving tonight and nobody is going to stop us."
AROUSED = {"angry", "happy", "fear"}


def voice(tmp_path: Path, name: str, **espeak: object) -> Audio:
    return load(corpora.speak(TEXT, tmp_path / f"{name}.wav", **espeak))


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> dict[str, Audio]:
    """The same sentence spoken calmly (slow, low, quiet) and agitatedly (fast, high, loud)."""
    folder = tmp_path_factory.mktemp("emotion")
    calm = voice(folder, "calm", speed=110, pitch=15)
    agitated = voice(folder, "agitated", speed=260, pitch=85)
    return {"calm": from_array(calm.samples * 0.25), "agitated": from_array(np.clip(agitated.samples * 2.5, -1, 1))}


@pytest.fixture(scope="module")
def outputs(voices) -> Iterator[dict[str, EmotionOutput]]:
    backends.select("emotion", "prosody")
    yield {name: emotion({}, {"audio1": audio}) for name, audio in voices.items()}
    backends.select("emotion", None)


def test_the_output_is_a_ranked_distribution_over_six_labels(outputs):
    for out in outputs.values():
        assert out.backend == "prosody" and isinstance(out.prosody, Prosody)
        assert sorted(s.label for s in out.scores) == sorted(LABELS)
        probabilities = [s.probability for s in out.scores]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1, abs=0.01)
        assert (out.label, out.confidence) == (out.scores[0].label, probabilities[0])
        assert out.findings().labels == [out.label]


def test_the_facts_say_the_guess_is_weak(outputs):
    facts = outputs["calm"].findings().facts
    assert facts.startswith(f"Emotion: {outputs['calm'].label} (p=")
    assert "weak guess from prosody alone" in facts and "about chance" in facts


def test_the_planner_is_told_what_the_default_head_learned_from_and_where_it_fails():
    description = default_registry().get("emotion").description
    assert "acted English studio speech" in description and "TV dialogue" in description
    assert "near chance" in description and "prosody guess" in description


def test_cues_follow_the_voice(voices, outputs):
    calm, agitated = outputs["calm"].prosody, outputs["agitated"].prosody
    assert agitated.median_f0_hz > calm.median_f0_hz * 1.3
    assert agitated.syllables_per_second > calm.syllables_per_second * 1.5
    assert agitated.loudness_dbfs > calm.loudness_dbfs + 10
    for p, audio in ((calm, voices["calm"]), (agitated, voices["agitated"])):
        assert 0.5 < p.speech_seconds <= audio.duration
        assert 1.0 < p.syllables_per_second < 12.0


def test_agitated_speech_scores_higher_arousal_than_calm_speech(outputs):
    def arousal(out: EmotionOutput) -> float:
        return sum(s.probability for s in out.scores if s.label in AROUSED)

    assert arousal(outputs["agitated"]) > 0.5 > arousal(outputs["calm"])
    assert outputs["agitated"].label in AROUSED
    assert outputs["calm"].label not in AROUSED


def test_neutral_cues_score_neutral_first():
    neutral = Prosody(
        median_f0_hz=120.0,
        pitch_range_semitones=NEUTRAL["pitch_range"][0],
        loudness_dbfs=NEUTRAL["loudness"][0],
        alpha_ratio_db=NEUTRAL["effort"][0],
        syllables_per_second=NEUTRAL["rate"][0],
        speech_seconds=3.0,
    )
    assert prosody_scores(neutral)[0].label == "neutral"
    assert set(PROFILES) == set(LABELS) and all(len(p) == len(CUES) for p in PROFILES.values())


def test_syllable_rate_is_close_on_a_real_reading():
    path, text = corpora.librivox()[0]
    p = measure(load(path).samples)
    syllables = 31  # "and mis-ter john dash-wood had then lei-sure to con-sid-er ..." counted by hand
    assert p.syllables_per_second * p.speech_seconds == pytest.approx(syllables, rel=0.3)
    assert text.startswith("and mister john dashwood")


def test_too_little_speech_is_an_error():
    with pytest.raises(NothingToMeasure, match=r"at least 0\.5 s is needed"):
        emotion({}, {"audio1": from_array(np.zeros(2 * SAMPLE_RATE, np.float32))})
