"""Who said what on a recording just over `LONG_CLIP`: two espeak-ng voices in turns, real Whisper, diarization and
sound events, and the embedded LLM answering. The plans are fixed to what a small planner wrote for a 9-minute meeting
(a street named in it planned with diarization and sound events, no asr), so what code adds to them is tested."""

from __future__ import annotations

import re

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.answering.passages import LONG_CLIP
from copilot.audio import from_array, load
from copilot.cache import ToolCache
from copilot.planners import load_llm
from copilot.planners.fixed import FixedPlanner
from tests import corpora

VOICES = [("en-us+m3", 35), ("en-us+f2", 80)]  # a man and a woman of the compound set (benchmarks/compound_set.py)
TURNS = [
    (0, "Good morning everyone, welcome to the planning meeting of the library team."),
    (1, "Thank you. I propose that we open a second reading room next spring."),
    (0, "That is a good idea. The work will be done from our office on Baker Street."),
    (1, "Then I will send the plans to the council before the end of May."),
    (0, "Good. We will meet again next week to talk about the budget."),
    (1, "Before we finish, the council asked for photographs of the old building."),
    (0, "I can take those photographs on Friday morning."),
    (1, "Thank you both, that is everything from me for today."),
]


@pytest.fixture(scope="module")
def meeting(tmp_path_factory) -> dict:
    """The turns spoken in order with 0.8 s of silence after each, at 16 kHz."""
    folder = tmp_path_factory.mktemp("meeting")
    pieces = []
    for n, (who, text) in enumerate(TURNS):
        voice, pitch = VOICES[who]
        said = load(corpora.speak(text, folder / f"{n}.wav", voice=voice, pitch=pitch, rate=16000, trim="both"))
        pieces += [said.samples, np.zeros(12800, np.float32)]
    audio = from_array(np.concatenate(pieces))
    assert audio.duration > LONG_CLIP
    return {"audio1": audio}


@pytest.fixture(scope="module")
def llm():
    return load_llm("embedded")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> ToolCache:
    """One tool cache for the module: the second question reads the first one's transcript and speakers."""
    return ToolCache(tmp_path_factory.mktemp("cache") / "cache.sqlite")


def agent(llm, tools: list[str], cache: ToolCache) -> Copilot:
    return Copilot(FixedPlanner(tools), llm, cache=cache, amend=True)


def test_a_street_named_in_a_long_recording_is_planned_with_asr_and_answered(meeting, llm, cache):
    answer = agent(llm, ["diarization", "sound_events"], cache).ask(meeting, "On which street is the office?")
    assert "asr" in [s.tool for s in answer.program.steps], answer.trace.amendments
    assert any("long recording" in note for note in answer.trace.amendments)
    assert "baker" in answer.text.lower(), answer.text


def test_who_proposed_it_is_answered_with_the_speaker_from_diarization(meeting, llm, cache):
    answer = agent(llm, ["asr"], cache).ask(meeting, "Who proposed opening a second reading room?")
    assert [s.tool for s in answer.program.steps] == ["asr", "diarization"], answer.trace.amendments
    speakers = next(e for e in answer.evidence if e.tool == "diarization").output
    assert speakers is not None and speakers["num_speakers"] == 2, speakers
    assert re.findall(r"\bS\d\b", answer.text)[:1] == ["S2"], answer.text
    answer = agent(llm, ["asr", "diarization"], cache).ask(meeting, "Who will take the photographs?")
    assert re.findall(r"\bS\d\b", answer.text)[:1] == ["S1"], answer.text  # "I can take those photographs"
