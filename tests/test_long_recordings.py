"""Long recordings in windows: each tool's windowed run against its whole-clip run, with windows made small so a
short recording spans several; and the progress helper. Real models on real and espeak-ng speech."""

from __future__ import annotations

import io
import re

import jiwer
import numpy as np
import pytest

from copilot import progress
from copilot.audio import SAMPLE_RATE, Audio, from_array, load
from copilot.tools import asr, diarization, sound_events, speaker, vad
from tests import corpora

pytestmark = pytest.mark.slow

FIRST = "The children walked to school in the morning and talked about their weekend."
SECOND = "Seven elephants walked slowly down to the river."
SECOND_AT = 33.0  # seconds: in the second window when windows are 30 s


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def two_windows(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    """45 s of quiet noise with FIRST spoken at 1 s and SECOND at `SECOND_AT`."""
    folder = tmp_path_factory.mktemp("long")
    clip = np.random.default_rng(0).normal(0, 0.002, 45 * SAMPLE_RATE).astype(np.float32)
    for text, at, name in [(FIRST, 1.0, "first"), (SECOND, SECOND_AT, "second")]:
        said = load(corpora.speak(text, folder / f"{name}.wav", rate=SAMPLE_RATE, trim="start", dither=False)).samples
        clip[round(at * SAMPLE_RATE) :][: len(said)] += said
    return from_array(clip)


def test_progress_prints_plain_lines_on_demand_and_nothing_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(setting: str | None, delay: float) -> str:
        if setting is None:
            monkeypatch.delenv(progress.VARIABLE, raising=False)
        else:
            monkeypatch.setenv(progress.VARIABLE, setting)
        out = io.StringIO()  # not a terminal
        with progress.progress("asr", 600, stream=out, delay=delay) as advance:
            for _ in range(3):
                advance(200)
        return out.getvalue()

    shown = run("on", 0.0)
    assert shown.startswith("asr: 33% (200/600 s), 0 s\n") and shown.endswith("asr: 100% (600/600 s), 0 s\n")
    assert run("on", 60.0) == ""  # a step shorter than the delay prints nothing
    assert run(None, 0.0) == "" and run("off", 0.0) == ""  # off a terminal, only on demand


def test_asr_in_windows_cuts_in_a_pause_and_times_a_word_of_the_second_window(
    two_windows: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = asr.asr({"word_timestamps": True}, {"audio1": two_windows})
    monkeypatch.setattr(asr, "WINDOW", 30.0)
    monkeypatch.setattr(asr, "SEARCH", 10.0)
    cuts = asr.quiet_cuts(two_windows.samples)
    assert len(cuts) == 3 and 20 * SAMPLE_RATE <= cuts[1] <= 30 * SAMPLE_RATE  # in the silence between the sentences
    windowed = asr.asr({"word_timestamps": True}, {"audio1": two_windows})
    assert windowed.language == whole.language == "en" and windowed.language_probability is not None
    # the windows go through faster-whisper's batched pipeline: a word may differ, not the transcript
    assert jiwer.wer(_words(whole.text), _words(windowed.text)) <= 0.2
    elephants = next(w for w in windowed.words or [] if "elephant" in w.word.lower())
    assert SECOND_AT < elephants.start < SECOND_AT + 2.0
    assert windowed.segments[0].start < 2.0 and windowed.segments[-1].start >= SECOND_AT - 0.5


def test_asr_in_windows_of_a_range_counts_times_from_the_clip_start(
    two_windows: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asr, "WINDOW", 15.0)
    monkeypatch.setattr(asr, "SEARCH", 5.0)
    out = asr.asr({"start": 10.0, "word_timestamps": True}, {"audio1": two_windows})
    elephants = next(w for w in out.words or [] if "elephant" in w.word.lower())
    assert SECOND_AT < elephants.start < SECOND_AT + 2.0 and "children" not in out.text.lower()


def test_language_id_in_windows_reads_on_until_it_has_speech(two_windows: Audio, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = asr.language_id({}, {"audio1": two_windows})
    monkeypatch.setattr(asr, "WINDOW", 30.0)
    monkeypatch.setattr(asr, "SEARCH", 10.0)
    windowed = asr.language_id({}, {"audio1": two_windows})  # the first window's 5 s of speech are not enough
    assert windowed.languages[0].code == whole.languages[0].code == "en"
    assert abs(windowed.speech_seconds - whole.speech_seconds) < 0.5 and whole.speech_seconds > 7


def test_voice_activity_read_in_blocks_gives_the_whole_clip_probabilities(
    two_windows: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = vad.speech_probabilities(two_windows)
    monkeypatch.setattr(vad, "BLOCK", 7)  # frames: the clip in 201 blocks
    assert np.array_equal(vad.speech_probabilities(two_windows), whole)
    assert whole.max() > 0.9  # speech was heard


def test_sound_events_in_blocks_give_the_whole_clip_scores(
    two_windows: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = sound_events.patch_scores(two_windows.samples)
    monkeypatch.setattr(sound_events, "BLOCK", 4)  # patches: a block every 1.9 s
    blocks = sound_events.patch_scores(two_windows.samples)
    assert blocks.shape == whole.shape == (93, 521) and np.array_equal(blocks, whole)
    speech = sound_events.class_names().index("Speech")
    assert whole[round(SECOND_AT / 0.48) + 2, speech] > 0.5


def test_diarization_embeddings_in_blocks_match_the_whole_clip_mel(
    pyannote_sample: tuple[Audio, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = pyannote_sample[0]
    segments = vad.speech_segments(audio)
    times, whole = speaker.partial_embeddings(audio, segments, 0.4)
    monkeypatch.setattr(speaker, "BLOCK_FRAMES", 300)  # 3 s blocks
    blocked_times, blocked = speaker.partial_embeddings(audio, segments, 0.4)
    assert np.array_equal(times, blocked_times) and np.allclose(blocked, whole, atol=1e-5)


def test_diarization_past_max_windows_clusters_a_sample_and_still_finds_both_speakers(
    pyannote_sample: tuple[Audio, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    audio, reference = pyannote_sample
    whole = diarization.diarize(audio)
    monkeypatch.setattr(diarization, "MAX_WINDOWS", 40)  # the sample's speech gives ~60 windows at MAX_STEP
    sampled = diarization.diarize(audio)
    assert whole.num_speakers == sampled.num_speakers == len({name for name, _, _ in reference}) == 2
    for a, b in zip(whole.speaking_time, sampled.speaking_time, strict=True):
        assert abs(a.duration - b.duration) < 0.15 * a.duration

