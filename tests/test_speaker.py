"""Speaker verification with the real GE2E encoder on real recordings (no espeak: its voices all look alike)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from copilot.audio import SAMPLE_RATE, Audio, from_array, load
from copilot.errors import NothingToMeasure, ToolError
from copilot.tools.speaker import MIN_SPEECH, embed, embed_speech, speaker_verification, speech_of, threshold
from tests import corpora

pytestmark = pytest.mark.slow

# the longest clean turns (no overlap) of the two speakers in pyannote's sample.rttm
A_TURNS = [(11.03, 14.49), (18.59, 21.49)]  # speaker90
B_TURNS = [(14.70, 17.92), (21.78, 27.85)]  # speaker91


def joined(clips: list[Audio], pause: float = 0.5) -> Audio:
    gap = np.zeros(int(pause * SAMPLE_RATE), np.float32)
    return from_array(np.concatenate([x for c in clips for x in (c.samples, gap)]))


@pytest.fixture(scope="session")
def librivox() -> list[Audio]:
    """The five clips of one male LibriVox reader."""
    return [load(path) for path, _ in corpora.librivox()]


@pytest.fixture(scope="session")
def alsa_voice() -> Audio:
    """The eight ALSA channel announcements (one female voice, about 1.2 s of speech each), joined."""
    paths = sorted(p for p in corpora.require(corpora.ALSA_SOUNDS, "alsa-utils").glob("*.wav") if p.stem != "Noise")
    return joined([load(p) for p in paths], pause=0.3)


def verify(clips: dict[str, Audio], **args):
    return speaker_verification(args, clips)


def test_embedding_is_a_unit_vector(librivox):
    e = embed(librivox[0])
    assert e.shape == (256,) and np.isclose(np.linalg.norm(e), 1.0, atol=1e-5)
    assert np.allclose(e, embed(librivox[0]))


def test_same_reader_is_the_same_speaker(librivox):
    out = verify({"audio1": librivox[0], "audio2": librivox[3]})
    assert out.same_speaker and out.confidence == "high", out.findings().facts
    assert out.score >= out.threshold and out.margin == pytest.approx(out.score - out.threshold, abs=1e-3)
    assert "Same speaker: yes" in out.findings().facts


def test_most_librivox_pairs_are_judged_same(librivox):
    # the calibration accepts 8 of the 10 pairs: the 2.6 s clip scores 0.73 and 0.77 against two others
    speech = [speech_of(c) for c in librivox]
    embeddings = [embed_speech(s, "a LibriVox clip") for s in speech]
    seconds = [len(s) / SAMPLE_RATE for s in speech]
    judged = [
        float(embeddings[i] @ embeddings[j]) >= threshold(seconds[i], seconds[j])
        for i, j in itertools.combinations(range(len(librivox)), 2)
    ]
    assert sum(judged) >= 8


def test_male_reader_and_female_voice_are_different(librivox, alsa_voice):
    for clip in librivox:
        out = verify({"audio1": clip, "audio2": alsa_voice})
        assert not out.same_speaker and out.confidence == "high", out.findings().facts
        assert out.score < 0.7


def test_two_speakers_of_one_recording_are_different(pyannote_sample):
    audio, _ = pyannote_sample
    (a0, a1), (b0, b1) = A_TURNS[0], B_TURNS[0]
    out = verify({"audio1": audio}, start=a0, end=a1, other="audio1", other_start=b0, other_end=b1)
    assert not out.same_speaker, out.findings().facts
    assert out.speech[0] > 2.5 and out.speech[1] > 2.5


@pytest.mark.parametrize("turns", [A_TURNS, B_TURNS], ids=["speaker90", "speaker91"])
def test_two_turns_of_one_speaker_are_the_same(pyannote_sample, turns):
    audio, _ = pyannote_sample
    (s0, e0), (s1, e1) = turns
    out = verify({"audio1": audio}, start=s0, end=e0, other="audio1", other_start=s1, other_end=e1)
    assert out.same_speaker, out.findings().facts


def test_too_little_speech_is_refused(pyannote_sample, librivox):
    audio, _ = pyannote_sample
    with pytest.raises(
        NothingToMeasure, match=rf"only 0\.\d s of speech in audio1 \(6\.69-7\.12 s\): at least {MIN_SPEECH:.0f} s"
    ):
        verify({"audio1": audio}, start=6.69, end=7.12, other="audio1", other_start=11.0, other_end=14.5)
    silence = from_array(np.zeros(48_000, np.float32))
    with pytest.raises(NothingToMeasure, match=r"only 0\.0 s of speech in audio2"):
        verify({"audio1": librivox[0], "audio2": silence})


def test_bad_pairings_are_refused(librivox):
    with pytest.raises(ToolError, match="other_start"):
        verify({"audio1": librivox[0]})
    with pytest.raises(ToolError, match="same audio"):
        verify({"audio1": librivox[0]}, other="audio1")


def test_both_clips_are_declared_for_the_planner():
    assert speaker_verification.input_model.clip_fields == ("audio", "other")
    assert {"other", "other_start", "other_end"} <= set(speaker_verification.spec()["input_schema"]["properties"])


def test_the_encoder_separates_two_voices_of_one_room(pyannote_sample):
    audio, _ = pyannote_sample
    vectors, speakers = [], []
    for name, turns in (("speaker90", A_TURNS), ("speaker91", B_TURNS)):
        for start, end in turns:
            for at in np.arange(start, end - 1.5, 1.5):  # 1.5 s pieces of each clean turn
                piece = from_array(audio.samples[int(at * SAMPLE_RATE) : int((at + 1.5) * SAMPLE_RATE)])
                try:
                    vectors.append(embed_speech(speech_of(piece), f"{name} at {at:.2f} s"))
                except NothingToMeasure:
                    continue
                speakers.append(name)
    scores = np.stack(vectors) @ np.stack(vectors).T
    pairs = list(itertools.combinations(range(len(speakers)), 2))
    same = [scores[i, j] for i, j in pairs if speakers[i] == speakers[j]]
    other = [scores[i, j] for i, j in pairs if speakers[i] != speakers[j]]
    assert same and other
    assert np.median(same) > np.median(other)
