"""A recording's transcript as a document: speakers given to words against pyannote's reference, the writers' exact
output, the cache reused, and `copilot transcript` from the command line."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from copilot import backends
from copilot.agent import Copilot
from copilot.audio import from_array, load
from copilot.cache import ToolCache
from copilot.cli import main
from copilot.planners.fixed import FixedPlanner
from copilot.tools.asr import AsrOutput, TextSegment, Word, asr
from copilot.tools.diarization import DiarizationOutput, SpeakerTime, Turn, diarization
from copilot.transcript import (
    WRITERS,
    SpeakerSummary,
    Transcript,
    TranscriptSegment,
    TranscriptWord,
    timestamp,
    transcript,
)
from tests import corpora
from tests.test_agent_unit import ScriptedLLM

SAID = "Please call me back tomorrow morning about the garden."
SPOKEN = {"please", "call", "back", "tomorrow", "morning", "garden"}


@pytest.fixture(scope="module")
def sample(pyannote_sample, tmp_path_factory) -> tuple[Transcript, ToolCache]:
    """The pyannote sample's transcript with speakers, and the cache it was made in."""
    cache = ToolCache(tmp_path_factory.mktemp("transcript") / "cache.sqlite")
    audio, _ = pyannote_sample
    return transcript(audio, cache=cache), cache


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    return corpora.speak(SAID, tmp_path_factory.mktemp("spoken") / "said.wav")


def reference_speaker(word: TranscriptWord, reference: list[tuple[str, float, float]]) -> str | None:
    """The RTTM speaker overlapping the word most; None when the reference has nobody speaking then."""
    overlaps = [(min(b, word.end) - max(a, word.start), name) for name, a, b in reference]
    best = max(overlaps)
    return best[1] if best[0] > 0 else None


def test_words_get_the_reference_speakers(sample, pyannote_sample):
    t, _ = sample
    _, reference = pyannote_sample
    assert [s.speaker for s in t.speakers] == ["S1", "S2"] and {s.speaker for s in t.segments} == {"S1", "S2"}
    pairs = [(w.speaker, ref) for s in t.segments for w in s.words if (ref := reference_speaker(w, reference))]
    names = sorted({ref for _, ref in pairs})
    agreement = max(
        sum(dict(zip(["S1", "S2"], order, strict=True))[hyp] == ref for hyp, ref in pairs) / len(pairs)
        for order in itertools.permutations(names)
    )
    # measured 0.89 (67 of 75 words; each segment's speaker, unsplit, agreed for 0.53 of the words)
    assert len(pairs) > 60 and agreement >= 0.8, agreement


def test_segments_are_in_time_order_with_one_speaker_each(sample):
    t, _ = sample
    assert t.language == "en" and t.duration == pytest.approx(30, abs=0.1)
    assert all(0 <= s.start <= s.end <= t.duration for s in t.segments)
    assert all(a.start <= b.start for a, b in itertools.pairwise(t.segments))
    assert all(s.words and {w.speaker for w in s.words} == {s.speaker} for s in t.segments)
    assert sum(s.words for s in t.speakers) == sum(len(s.words) for s in t.segments)


def test_a_second_transcript_reads_the_cache(sample, pyannote_sample, monkeypatch):
    first, cache = sample
    audio, _ = pyannote_sample

    def no_model(family: str) -> None:
        raise AssertionError(f"the {family} model was loaded: the kept output was not used")

    monkeypatch.setattr(backends, "load", no_model)
    assert transcript(audio, cache=cache) == first


def test_the_agents_asr_step_on_a_clip_over_30_s_reads_the_transcripts_words_dropped(spoken, tmp_path, monkeypatch):
    """`copilot transcript` then a question: the agent's default asr step runs no model (`copilot.agent.long_steps`)."""
    said = load(spoken).samples
    audio = from_array(np.concatenate([said, np.zeros(40 * 16000 - len(said), np.float32)]))
    cache = ToolCache(tmp_path / "cache.sqlite")
    t = transcript(audio, speakers=False, cache=cache)
    monkeypatch.setattr(backends, "load", lambda family: pytest.fail(f"the {family} model was loaded"))
    llm = ScriptedLLM(json.dumps({"answer": "A call about the garden."}))
    agent = Copilot(FixedPlanner(["asr"]), llm, cache=cache, amend=False)
    (step,) = agent.ask({"audio1": audio}, "What is said?").evidence
    assert step.cached and step.output is not None and step.output["words"] is None
    assert [(s["start"], s["end"], s["text"]) for s in step.output["segments"]] == [(s.start, s.end, s.text) for s in t.segments]
    assert set(re.findall(r"[a-z]+", step.output["text"].lower())) >= SPOKEN


def test_speech_is_written_in_every_format_without_speakers(spoken, tmp_path):
    audio, cache = load(spoken), ToolCache(tmp_path / "cache.sqlite")
    t = transcript(audio, speakers=False, cache=cache)
    assert cache.get(cache.key(diarization, diarization.parse({}), {"audio1": audio})) is None  # diarization not run
    assert cache.get(cache.key(asr, asr.parse({"word_timestamps": True}), {"audio1": audio})) is not None
    docs = {name: write(t) for name, write in WRITERS.items()}
    for doc in docs.values():
        assert words_in(doc) >= SPOKEN and "[S" not in doc
    assert Transcript.model_validate_json(docs["json"]) == t
    assert docs["txt"].splitlines() == [s.text for s in t.segments]
    assert docs["vtt"].startswith("WEBVTT\n\n")
    cues = cue_times(docs["srt"], ",")
    assert cues == cue_times(docs["vtt"], ".") == [(round(s.start, 3), round(s.end, 3)) for s in t.segments]
    assert all(0 <= a <= b <= audio.duration + 0.01 for a, b in cues)


def words_in(document: str) -> set[str]:
    return set(re.findall(r"[a-z]+", document.lower()))


def cue_times(document: str, marker: str) -> list[tuple[float, float]]:
    """(start, end) seconds of each cue of an SRT (``marker`` ",": HH:MM:SS,mmm) or VTT (".") document."""
    time = rf"(\d\d):(\d\d):(\d\d){re.escape(marker)}(\d{{3}})"
    cues = [re.fullmatch(f"{time} --> {time}", line) for line in document.splitlines() if "-->" in line]
    assert cues and all(cues), document
    return [(seconds(*c.groups()[:4]), seconds(*c.groups()[4:])) for c in cues if c]


def seconds(hours: str, minutes: str, whole: str, ms: str) -> float:
    return round(int(hours) * 3600 + int(minutes) * 60 + int(whole) + int(ms) / 1000, 3)


HAND_MADE = Transcript(
    language="en",
    duration=3730.0,
    segments=[
        TranscriptSegment(start=0.0, end=1.5, text="Hello there.", speaker="S1", words=[
            TranscriptWord(start=0.0, end=0.6, word="Hello", speaker="S1"),
            TranscriptWord(start=0.7, end=1.5, word="there.", speaker="S1"),
        ]),
        TranscriptSegment(start=3723.4567, end=3725.0, text="Hi --> you.", speaker="S2", words=[]),
    ],
    speakers=[
        SpeakerSummary(speaker="S1", speaking_time=1.5, words=2), SpeakerSummary(speaker="S2", speaking_time=1.6, words=0)
    ],
)  # fmt: skip


def test_writers_write_the_whisper_formats_with_whisperx_speakers():
    assert WRITERS["txt"](HAND_MADE) == "[S1]: Hello there.\n[S2]: Hi -> you.\n"
    assert WRITERS["srt"](HAND_MADE) == (
        "1\n00:00:00,000 --> 00:00:01,500\n[S1]: Hello there.\n\n"
        "2\n01:02:03,457 --> 01:02:05,000\n[S2]: Hi -> you.\n\n"
    )
    assert WRITERS["vtt"](HAND_MADE) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\n[S1]: Hello there.\n\n"
        "01:02:03.457 --> 01:02:05.000\n[S2]: Hi -> you.\n\n"
    )
    assert Transcript.model_validate_json(WRITERS["json"](HAND_MADE)) == HAND_MADE
    assert timestamp(59.9996) == "00:01:00.000" and timestamp(7322.5, ",") == "02:02:02,500"


def test_words_take_the_turn_they_overlap_most_or_the_nearest(tmp_path):
    """Kept tool outputs for a silent clip, so only the joining runs: words, turns and what each word gets."""
    clip, cache = from_array(np.zeros(16000 * 10, np.float32)), ToolCache(tmp_path / "cache.sqlite")
    words = [("one", 0.0, 0.15), ("two", 0.6, 1.0), ("three", 1.1, 2.0), ("four", 2.2, 2.6), ("five", 6.0, 6.4)]
    said = AsrOutput(
        text="one two three four five", language="en", language_probability=0.9,
        segments=[TextSegment(start=0.0, end=2.6, text="one two three four"), TextSegment(start=6, end=6.4, text="five")],
        words=[Word(start=a, end=b, word=w, probability=0.9) for w, a, b in words],
    )  # fmt: skip
    turns = [Turn(speaker="S1", start=0.2, end=1.3), Turn(speaker="S2", start=1.4, end=3.0)]
    times = [SpeakerTime(speaker="S1", duration=1.1), SpeakerTime(speaker="S2", duration=1.6)]
    who = DiarizationOutput(num_speakers=2, turns=turns, speaking_time=times)
    clips = {"audio1": clip}
    cache.put(cache.key(asr, asr.parse({"word_timestamps": True}), clips), "asr", said.model_dump(mode="json"))
    cache.put(cache.key(diarization, diarization.parse({}), clips), "diarization", who.model_dump(mode="json"))
    t = transcript(clip, cache=cache)
    # "one" is before every turn (nearest: S1), "three" overlaps S2 more, "five" is after every turn (nearest: S2)
    assert [(w.word, w.speaker) for s in t.segments for w in s.words] == [
        ("one", "S1"), ("two", "S1"), ("three", "S2"), ("four", "S2"), ("five", "S2")
    ]  # fmt: skip
    assert [(s.speaker, s.start, s.end, s.text) for s in t.segments] == [
        ("S1", 0.0, 1.0, "one two"), ("S2", 1.1, 2.6, "three four"), ("S2", 6.0, 6.4, "five")
    ]  # fmt: skip
    assert [(s.speaker, s.words) for s in t.speakers] == [("S1", 2), ("S2", 3)]


def test_the_command_writes_srt_to_stdout(spoken, capsys):
    assert main(["transcript", str(spoken), "--format", "srt", "--no-speakers"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("1\n") and cue_times(out, ",") and words_in(out) >= SPOKEN
    assert "[S" not in out and "transcribing" in err


def test_the_command_writes_to_a_file(spoken, tmp_path, capsys):
    out = tmp_path / "said.txt"
    assert main(["transcript", str(spoken), "--out", str(out)]) == 0
    assert capsys.readouterr().out == "" and out.read_text().startswith("[S1]: ")


def test_a_missing_file_is_one_error_line(tmp_path, capsys):
    assert main(["transcript", str(tmp_path / "nowhere.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]

