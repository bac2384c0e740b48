"""sound_events (YAMNet) on real recordings from Debian packages, and on mixes made with sox and espeak-ng."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from copilot.answering.matching import match_option
from copilot.audio import Audio, load
from copilot.errors import ToolError
from copilot.tools.sound_events import (
    IN_SCALE,
    IN_ZERO,
    LOG_OFFSET,
    SPEECH,
    Label,
    SoundEventsOutput,
    _extract,
    _top,
    log_mel_patches,
    sound_events,
)
from tests import corpora

DOG = corpora.DOG_BARK


def run(audio: Audio, **args: object) -> SoundEventsOutput:
    return sound_events(args, {"audio1": audio})


def names(labels: list) -> list[str]:
    return [x.label for x in labels]


def htk_mel(hz: float) -> float:
    return 1127 * np.log1p(hz / 700)


def test_silence_is_the_bottom_of_the_models_input_range():
    patches = log_mel_patches(np.zeros(16_000, np.float32))
    assert np.allclose(patches, np.log(LOG_OFFSET))
    assert round(np.log(LOG_OFFSET) / IN_SCALE + IN_ZERO) == 0


def test_short_clips_are_padded_to_whole_patches():
    one_patch = 95 * 160 + 400  # 0.975 s: 96 frames of 25 ms every 10 ms
    assert log_mel_patches(np.zeros(100, np.float32)).shape == (1, 96, 64)
    assert log_mel_patches(np.zeros(one_patch, np.float32)).shape == (1, 96, 64)
    assert log_mel_patches(np.zeros(one_patch + 1, np.float32)).shape == (2, 96, 64)


def test_a_tone_lands_in_the_mel_band_of_its_frequency():
    t = np.arange(16_000) / 16_000
    bands = log_mel_patches(np.sin(2 * np.pi * 1000 * t).astype(np.float32))[0].mean(axis=0)
    centres = np.linspace(htk_mel(125), htk_mel(7500), 66)[1:-1]
    assert bands.argmax() == np.abs(centres - htk_mel(1000)).argmin()


def test_labels_are_the_likely_sounds_with_each_synonym_apart():
    out = SoundEventsOutput(
        sounds=[Label(label="Bird vocalization, bird call, bird song", score=1.0), Label(label="Sheep", score=0.32)],
        background=[Label(label="Cattle, bovinae", score=1.0), Label(label="Roaring cats (lions, tigers)", score=0.68)],
        events=[],
    )
    birds = ["Bird vocalization", "bird call", "bird song", "Bird"]
    assert out.findings().labels == [*birds, "cattle", "cow", "lion", "tiger", "Sheep"]


def test_labels_leave_out_the_unlikely():
    scored = [Label(label="Dog", score=0.91), Label(label="Pig", score=0.18)]
    out = SoundEventsOutput(sounds=scored, background=[], events=[])
    assert out.findings().labels == ["Dog"]
    assert match_option(["pig", "cow"], out.findings().labels) is None


def test_the_vocabulary_is_every_class_in_the_words_of_the_labels():
    words = SoundEventsOutput(sounds=[], background=[], events=[]).findings().vocabulary
    assert {"Rain", "Applause", "Bird vocalization", "bird call", "cow", "lion"} <= set(words)
    assert "Cattle, bovinae" not in words and len(words) > 521  # synonyms apart: more names than classes


def test_the_sound_named_outright_is_the_likeliest_specific_one_besides_speech():
    background = [Label(label="Vehicle", score=0.95), Label(label="Rail transport", score=0.91), Label(label="Train", score=0.91)]
    out = SoundEventsOutput(sounds=[Label(label="Speech", score=0.91)], background=background, events=[])
    assert out.findings().named_values == {"sound": "Rail transport", "noise": "Rail transport"}
    only_silence = SoundEventsOutput(sounds=[], background=[Label(label="Silence", score=0.99)], events=[])
    assert only_silence.findings().named_values == {}


def test_labels_name_the_animal_a_call_comes_from_likeliest_first():
    out = SoundEventsOutput(
        sounds=[Label(label="Dog", score=0.82), Label(label="Caterwaul", score=0.97), Label(label="Bleat", score=0.6)],
        background=[],
        events=[],
    )
    assert out.findings().labels == ["Caterwaul", "Cat", "Dog", "Bleat", "Goat", "Sheep"]
    assert match_option(["dog", "cow", "cat"], out.findings().labels) == 2


def test_only_its_call_tells_a_hen_from_a_rooster():
    def labels(*scored: tuple[str, float]) -> list[str]:
        return SoundEventsOutput(sounds=[Label(label=n, score=p) for n, p in scored], background=[], events=[]).findings().labels

    hen = labels(("Fowl", 0.99), ("Chicken, rooster", 0.95), ("Cluck", 0.68), ("Crowing, cock-a-doodle-doo", 0.32))
    assert match_option(["rooster", "hen", "crow"], hen) == 1
    rooster = labels(("Chicken, rooster", 0.95), ("Crowing, cock-a-doodle-doo", 0.82))
    assert match_option(["hen", "rooster"], rooster) == 1
    assert match_option(["hen", "rooster"], labels(("Chicken, rooster", 0.95))) is None


def test_extraction_restores_a_damaged_file(tmp_path: Path):
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("job/model.onnx", b"graph")
        zf.writestr("job/model.data", b"weights")
    onnx = _extract(archive, tmp_path / "out")
    assert onnx.read_bytes() == b"graph"
    (tmp_path / "out" / "model.data").write_bytes(b"damaged")
    _extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "model.data").read_bytes() == b"weights"


@pytest.mark.slow
@pytest.mark.parametrize(
    "rcc, member, expected",
    [
        (*DOG, {"Dog", "Bark"}),
        ("memory-sound.rcc", "LRBark_3_LA_cut.ogg", {"Dog"}),
        ("memory-sound.rcc", "LRRain_in_garden_01_LA_cut.ogg", {"Rain"}),
        ("memory-sound.rcc", "LRApplauses_1_LA_cut.ogg", {"Applause"}),
        ("explore_farm_animals.rcc", "cat.ogg", {"Cat"}),
        ("explore_farm_animals.rcc", "sheep.ogg", {"Sheep"}),
        ("explore_farm_animals.rcc", "cow.ogg", {"Cattle, bovinae"}),
    ],
)
def test_real_recordings_get_their_labels(rcc: str, member: str, expected: set[str]):
    out = run(load(corpora.gcompris_sound(rcc, member)))
    scores = {x.label: x.score for x in out.sounds}
    assert expected <= set(scores), out.findings().facts
    assert min(scores[name] for name in expected) > 0.6, out.findings().facts
    assert not SPEECH & set(names(out.background))
    assert out.findings().facts.startswith("Speech sounds: ") and "background (non-speech): " in out.findings().facts


@pytest.mark.slow
def test_a_phone_ring_from_the_freedesktop_theme():
    out = run(load(corpora.require(corpora.FREEDESKTOP_SOUNDS / "phone-incoming-call.oga", "sound-theme-freedesktop")))
    assert "Telephone" in names(out.sounds[:3]), out.findings().facts


@pytest.mark.slow
def test_a_bark_in_silence_is_an_event_at_its_time(tmp_path: Path):
    clip = tmp_path / "bark.wav"
    corpora.sox(corpora.gcompris_sound(*DOG), "-r", "16000", "-c", "1", clip, "pad", "3", "4")  # bark at 3.0-3.9 s
    audio = load(clip)
    for args in ({}, {"start": 1.5, "end": 6.0}):
        dogs = [e for e in run(audio, **args).events if e.label == "Dog"]
        assert len(dogs) == 1, dogs
        # each score covers 0.96 s, so the event may spill up to one window around the bark, never more
        assert 3.0 - 0.96 <= dogs[0].start <= 3.0 and 3.9 <= dogs[0].end <= 3.9 + 0.96, (args, dogs)


@pytest.mark.slow
def test_a_clip_shorter_than_one_patch():
    audio = load(corpora.gcompris_sound(*DOG)).crop(0.0, 0.5)
    out = run(audio)
    assert "Dog" in names(out.sounds), out.findings().facts
    assert all(e.end <= 0.5 for e in out.events)


@pytest.mark.slow
def test_a_dog_under_speech_is_the_background(tmp_path: Path):
    speech = corpora.speak("The meeting starts at ten, so please bring your notes and the budget.", tmp_path / "s.wav")
    corpora.sox(speech, "-r", "16000", tmp_path / "s16.wav", "gain", "-n", "-3")
    length = f"{load(tmp_path / 's16.wav').duration:.3f}"
    # the barks looped under the whole sentence, 6 dB below the speech's peak
    corpora.sox(corpora.gcompris_sound(*DOG), "-r", "16000", "-c", "1", tmp_path / "dog.wav", "repeat", "9")
    corpora.sox(tmp_path / "dog.wav", tmp_path / "bg.wav", "trim", "0", length, "gain", "-n", "-9")
    corpora.sox("-m", "-v", "1", tmp_path / "s16.wav", "-v", "1", tmp_path / "bg.wav", tmp_path / "mix.wav")
    out = run(load(tmp_path / "mix.wav"))
    assert "Speech" in names(out.sounds), out.findings().facts
    assert "Dog" in names(out.background[:3]), out.findings().facts
    assert not SPEECH & set(names(out.background))
    facts = out.findings().facts
    assert facts.startswith("Speech sounds: Speech (") and facts.count("Dog (") == 1, facts


def test_broad_parent_classes_and_silence_do_not_use_up_top_k():
    names = ("Animal", "Silence", "Cat", "Meow", "Domestic animals, pets", "Speech")
    scores = np.array([0.99, 0.97, 0.95, 0.91, 0.5, 0.2], np.float32)
    assert [x.label for x in _top(scores, names, 1)] == ["Animal", "Silence", "Cat"]
    assert [x.label for x in _top(scores, names, 2)] == ["Animal", "Silence", "Cat", "Meow"]
    assert [x.label for x in _top(scores, names, 3)] == list(names)


def test_top_k_asks_for_five_or_more():
    with pytest.raises(ToolError, match="top_k"):
        sound_events({"top_k": 1}, {})


def test_an_animal_heard_is_an_attribute_that_options_can_link_to():
    heard = [Label(label="Cat", score=0.99), Label(label="Meow", score=0.95)]
    cat = SoundEventsOutput(sounds=heard, background=[], events=[])
    found = cat.findings()
    assert found.attribute.name == "animal" and "cat" in found.attribute.values
    assert found.labels[0] == "Cat" and "Meow" not in found.attribute.values
