"""Who said what on a long recording, with hand-made evidence, toy tools and a scripted LLM: a question about content
is planned with asr, one about which speaker said something with diarization on the same span, a count of people the
words tell of is never a speaker count, and who talks the most is read from the speaking times. Tests that rank
passages run the sentence embedder; no other model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.agent.amend import amend
from copilot.agent.state import Context
from copilot.answering import answer
from copilot.answering.grounding import measured_number, measured_open_answer, speaking_times, yes_or_no_from_number
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.evidence import Evidence
from copilot.planners.fixed import FixedPlanner
from copilot.planners.llm import LLMPlanner
from copilot.program import Program, Step
from copilot.question.figures import counted, counts_people_told_of
from copilot.question.reading import asks_about_the_audio, asks_which_speaker, asks_who_said, speaking_time_asked
from copilot.question.request import Request
from copilot.registry import Registry, default_registry
from copilot.tool import SpanInput, tool
from copilot.tools.asr import AsrInput, AsrOutput
from copilot.tools.diarization import DiarizationOutput
from tests.corpora import READING
from tests.test_agent_unit import ScriptedLLM, program

FACTS = {  # time (s): (speaker, words)
    30.0: ("S2", "I propose that we open a second office in the spring."),
    45.0: ("S1", "The work will be done from our office on Baker Street."),
    60.0: ("S3", "We agreed to invite forty people to the reopening ceremony."),
    75.0: ("S3", "Maria will bring the photographs of the old building on Friday."),
}
LENGTH = 600.0  # ten minutes, a segment every 15 s
FILLER = ["S1", "S3", "S1", "S2", "S3", "S1", "S1"]  # S1 talks the most, then S3, then S2


def meeting() -> tuple[AsrOutput, DiarizationOutput]:
    segments, turns = [], []
    for n, start in enumerate(range(0, int(LENGTH), 15)):
        speaker, text = FACTS.get(float(start), (FILLER[n % len(FILLER)], READING[n % len(READING)]))
        segments.append({"start": float(start), "end": start + 14.0, "text": text})
        turns.append({"start": float(start), "end": start + 14.0, "speaker": speaker})
    said = AsrOutput.model_validate(
        {"text": " ".join(s["text"] for s in segments), "language": "en", "language_probability": 0.99, "segments": segments}
    )
    totals: dict[str, float] = {}
    for turn in turns:
        totals[turn["speaker"]] = totals.get(turn["speaker"], 0.0) + 14.0
    who = DiarizationOutput.model_validate({
        "num_speakers": len(totals), "turns": turns,
        "speaking_time": [{"speaker": s, "duration": d} for s, d in sorted(totals.items())],
    })
    return said, who


def long_evidence() -> list[Evidence]:
    said, who = meeting()
    return [
        Evidence(step="s1", tool="asr", args={"audio": "audio1"}, output=said.model_dump(), findings=said.findings()),
        Evidence(step="s2", tool="diarization", args={"audio": "audio1"}, output=who.model_dump(), findings=who.findings()),
    ]


def reply(text: str) -> str:
    return json.dumps({"answer": text})


def ask(question: str, seconds: float = LENGTH) -> Request:
    return Request.from_text(question, {"audio1": seconds})


# a. reading the question


@pytest.mark.parametrize(("question", "audio", "which", "times"), [
    ("On which street is the office?", False, False, None),
    ("How many people were invited to the ceremony?", False, False, None),
    ("What did the second speaker propose?", False, True, None),
    ("What does S2 say about the budget?", False, True, None),
    ("Who proposed the second office?", False, True, None),
    ("Who is the new director?", False, True, None),
    ("Which speaker mentions Baker Street?", True, True, None),  # "speaker" names the audio; diarization still runs
    ("Who talks the most in this meeting?", True, True, "most"),
    ("Who talks the most, the host or the guest?", True, True, "most"),
    ("Which speaker speaks least?", True, True, "least"),
    ("How long does each person speak?", True, True, "each"),
    ("What is each speaker's speaking time?", True, True, "each"),
    ("Who talks the most about the budget?", True, True, None),  # who talks about it, not who talks most
    ("How much does each expedition cost?", False, False, None),
    ("How much time did each person spend in Paris?", False, True, None),  # time, but not speaking time
    ("What is the speaker's gender?", True, False, None),
    ("How long is the recording?", True, False, None),
    ("What is the sound behind them?", True, False, None),
])
def test_what_a_question_asks_of_the_audio_and_of_its_speakers(question, audio, which, times):
    assert (asks_about_the_audio(question), asks_which_speaker(question), speaking_time_asked(question)) == (audio, which, times)


@pytest.mark.parametrize(("question", "asked"), [
    ("Who proposed opening a second office?", ("proposed opening a second office", False)),
    ("Which of the speakers suggested a picnic?", ("suggested a picnic", False)),
    ("Who will send the plans to the council?", ("will send the plans to the council", True)),
    ("Who talks about the budget?", ("talks about the budget", False)),
    ("Who is the new director?", None),  # a person the words name, not a speaker's saying
    ("Who talks the most?", None),
    ("Who said?", None),
])
def test_what_a_question_asks_which_speaker_said(question, asked):
    assert asks_who_said(question) == asked


@pytest.mark.parametrize(("question", "what", "told_of"), [
    ("How many people were invited to the ceremony?", "people were invited", True),
    ("Were more than ten people invited?", None, True),
    ("How many people did she talk about?", "people did she", True),  # talked about, not talking
    ("How many people speak?", "people speak", False),
    ("How many people are in this conversation?", "people are", False),
    ("Does this audio contain speech from two or more different people?", None, False),
    ("Determine the total number of different talkers heard in this audio.", "different talkers heard", False),
    ("Count the number of distinct speakers in this audio.", "distinct speakers", False),
    ("How many items did the second speaker propose?", "items did", False),
])
def test_what_a_count_counts_and_whether_it_counts_people_the_words_tell_of(question, what, told_of):
    assert counted(question) == what and counts_people_told_of(question) is told_of


# b. a count of what is said is never a speaker count


def test_a_count_of_people_the_words_tell_of_gets_no_speaker_count_and_a_count_of_speakers_still_does():
    evidence = long_evidence()
    for question in ["How many people were invited to the ceremony?", "How many items did the second speaker propose?"]:
        assert measured_open_answer(question, evidence) is None, question
    for question in ["How many people speak?", "How many different people are talking in this recording?",
                     "How many voices are there?"]:
        draft = measured_open_answer(question, evidence)
        assert draft is not None and draft.text == "The diarization tool measured the number of speakers: 3.", question
    assert yes_or_no_from_number("Were more than ten people invited?", evidence) is None
    verdict = yes_or_no_from_number("Is there more than one speaker?", evidence)
    assert verdict is not None and verdict.yes
    assert measured_number(ask("How many people were invited? (a) 3 (b) 40"), evidence) is None
    picked = measured_number(ask("How many different people speak? (a) 1 (b) 3"), evidence)
    assert picked is not None and picked.choice == 1


def test_a_count_of_invited_people_is_answered_from_the_transcript_by_the_llm():
    llm = ScriptedLLM(reply("Forty people were invited to the reopening ceremony."))
    draft = answer(ask("How many people were invited to the ceremony?"), long_evidence(), llm)
    assert draft.text.startswith("Forty people were invited") and draft.answered_by == "llm"
    assert len(llm.prompts) == 1 and "forty people" in llm.prompts[0]


# c. what code adds to the plan


@pytest.fixture
def context(tmp_path) -> Context:
    return Copilot(FixedPlanner([]), ScriptedLLM(), default_registry(), ToolCache(tmp_path / "cache.sqlite"))._context({})


def amended(context: Context, question: str, *steps: Step, seconds: float = LENGTH) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    done, notes = amend(Program(steps=list(steps)), ask(question, seconds), 1, context)
    return [(s.tool, s.args) for s in done.steps[len(steps):]], notes


@pytest.mark.parametrize("question", [
    "On which street is the office?",
    "By what date will the plans be sent to the council?",
    "In which year did the guest's project begin?",
    "How much money is set aside for the library?",
    "Is the reopening on a Monday?",
    "What did the second speaker propose?",
])
def test_on_a_long_recording_a_question_not_about_the_audio_gets_asr(context, question):
    planned = [Step(id="s1", tool="diarization"), Step(id="s2", tool="sound_events")]
    added, notes = amended(context, question, *planned)
    assert [tool for tool, _ in added[:1]] == ["asr"], (question, notes)
    assert "not about the audio itself, so on a long recording it is about what is said" in notes[0]


def test_on_a_short_clip_a_question_not_about_the_audio_is_planned_as_before(context):
    planned = [Step(id="s1", tool="diarization"), Step(id="s2", tool="sound_events")]
    assert amended(context, "On which street is the office?", *planned, seconds=20.0) == ([], [])
    assert amended(context, "How many people speak?", Step(id="s1", tool="diarization")) == ([], [])  # long, about voices


def test_a_count_of_invited_people_gets_asr_and_no_diarization_for_its_words_how_many_people(context):
    added, notes = amended(context, "How many people were invited to the ceremony?", seconds=20.0)
    assert added == [("asr", {})] and "counts people that what is said tells of" in notes[0]
    added, _ = amended(context, "How many people speak?", seconds=20.0)
    assert added == [("diarization", {})]  # its words name what diarization serves


def test_who_said_it_on_a_long_recording_gets_word_times_and_diarization_on_the_asr_steps_span(context):
    heard = Step(id="s1", tool="asr", args={"start": 60, "end": 300})
    done, notes = amend(Program(steps=[heard]), ask("Who proposed the second office?"), 1, context)
    assert [(s.tool, s.args) for s in done.steps] == [
        ("asr", {"start": 60, "end": 300, "word_timestamps": True}), ("diarization", {"start": 60, "end": 300})]
    assert notes == [
        ("round 1: step 's1', asr: set word_timestamps, as the question asks which speaker said it and a segment of a "
         "long recording may hold several speakers' words"),
        ("round 1: added step 'diarization1', diarization (60-300 s): the question asks which speaker said it, "
         "and a long recording's passages name speakers only from a diarization of the same span")]
    timed = Step(id="s1", tool="asr", args={"word_timestamps": True})
    assert amended(context, "Who proposed the second office?", timed, Step(id="s2", tool="diarization")) == ([], [])
    assert amended(context, "Who proposed the second office?", Step(id="s1", tool="asr"), seconds=20.0) == ([], [])


def test_who_talks_the_most_on_a_long_recording_gets_diarization_and_no_asr(context):
    added, _ = amended(context, "Who talks the most?", Step(id="s1", tool="sound_events"))
    assert added == [("diarization", {})]


# d. passages that name speakers, and a speaker's own


def test_a_named_speakers_passages_are_that_speakers_lines_alone():
    llm = ScriptedLLM(reply("S2 proposed opening a second office in the spring."))
    draft = answer(ask("What did the second speaker say?"), long_evidence(), llm)
    shown = [line for line in llm.prompts[0].splitlines() if line[:2].startswith("[") and line[1:2].isdigit()]
    assert "Transcript passages of S2 alone" in llm.prompts[0]
    assert shown and all(" S2: " in line for line in shown) and "[0:30] S2: I propose that we open a second office" in shown[0]
    assert draft.text.startswith("S2 proposed") and "At 0:30, S2 said" in draft.text


PROPOSED = 'At 0:30, S2 said: "I propose that we open a second office in the spring."'


@pytest.mark.parametrize("question", ["Who proposed opening a second office?", "Which speaker suggested a second office?",
                                      "Who will open a second office?"])
def test_who_said_it_is_the_speaker_of_the_passage_that_says_it_with_its_time_without_the_llm(question):
    llm = ScriptedLLM()
    draft = answer(ask(question), long_evidence(), llm)
    assert draft.text == f"{PROPOSED}." and draft.answered_by == "transcript speakers" and llm.prompts == []


def test_who_will_do_what_a_speaker_says_of_another_is_the_llms_to_read_from_passages_with_speakers():
    llm = ScriptedLLM(reply("Maria will bring them."))
    draft = answer(ask("Who will bring the photographs?"), long_evidence(), llm)
    assert "[1:15] S3: Maria will bring the photographs of the old building on Friday." in llm.prompts[0]
    assert draft.text == 'Maria will bring them. (At 1:15, S3 said: "Maria will bring the photographs of the old building on Friday.")'


def test_a_short_clips_who_question_sees_the_transcript_as_before():
    said, who = meeting()
    evidence = long_evidence()
    llm = ScriptedLLM(reply("S2."))
    answer(ask("Who proposed opening a second office?", seconds=20.0), evidence, llm)
    assert "Transcript passages" not in llm.prompts[0] and said.findings().facts in llm.prompts[0]
    assert who.findings().facts in llm.prompts[0]


# e. speaking times, in code


def test_who_talks_the_most_or_least_and_each_ones_time_come_from_diarization_without_the_llm():
    evidence, llm = long_evidence(), ScriptedLLM()
    most = answer(ask("Who talks the most in this meeting?"), evidence, llm)
    listed = "Speaking time: S1 4:54 (294.0 s), S3 3:02 (182.0 s), S2 1:24 (84.0 s)."
    assert most.text == f"S1 talks the most: 4:54 of speech (294.0 s). {listed}" and most.answered_by == "speaking time"
    assert answer(ask("Who talks the least?"), evidence, llm).text.startswith("S2 talks the least: 1:24 of speech")
    assert answer(ask("How long does each person speak?"), evidence, llm).text == listed
    assert llm.prompts == []


def test_speaking_times_of_a_short_clip_are_left_to_the_llm():
    assert speaking_times(ask("Who talks the most?", seconds=20.0), long_evidence()) is None
    assert speaking_times(ask("Who proposed the office?"), long_evidence()) is None


# f. the agent: a who-said question planned with asr alone


@tool()
def asr(args: AsrInput, clips) -> AsrOutput:
    """What is said."""
    return meeting()[0]


@tool(serves=("how many people", "who speaks"))
def diarization(args: SpanInput, clips) -> DiarizationOutput:
    """Who speaks when."""
    return meeting()[1]


def test_the_agent_adds_diarization_to_a_who_said_question_and_answers_with_the_speaker(tmp_path):
    llm = ScriptedLLM(program({"tool": "asr", "args": {}}))
    agent = Copilot(LLMPlanner(llm), llm, Registry([asr, diarization]), ToolCache(tmp_path / "cache.sqlite"))
    clip = {"audio1": from_array(np.zeros(int(LENGTH * 16000), np.float32))}
    result = agent.ask(clip, "Who proposed opening a second office?")
    assert [(s.tool, s.args) for s in result.program.steps] == [("asr", {"word_timestamps": True}), ("diarization", {})]
    assert [note.split(": ")[1] for note in result.trace.amendments] == [
        "step 's1', asr", "added step 'diarization1', diarization"]
    assert result.text == f"{PROPOSED}." and len(llm.prompts) == 1  # the plan: the speaker is read in code
