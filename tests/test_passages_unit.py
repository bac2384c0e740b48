"""Retrieval over a long transcript and time questions, with hand-made evidence and a scripted LLM of a small
context (the sentence embedder runs; no other model)."""

from __future__ import annotations

import json

import pytest

from copilot.answering import answer, prompts
from copilot.answering.passages import clock
from copilot.errors import ContextOverflow
from copilot.evidence import Evidence
from copilot.llm import Completion
from copilot.question.request import Request
from copilot.question.times import asks_when_said, time_range, topic
from copilot.tools.asr import AsrOutput
from copilot.tools.diarization import DiarizationOutput
from tests.corpora import READING

MEETING = {  # time (s): (speaker, words)
    165.0: ("S3", "Next item: the marketing plan for the spring launch, which Sara drafted."),
    1065.0: ("S2", "The budget for the festival is forty-two thousand euros, approved by the board."),
    1080.0: ("S1", "The festival will be held at the old library on Elm Road."),
}
LENGTH = 1500.0  # 25 minutes, a segment every 15 s


def long_evidence() -> list[Evidence]:
    segments, turns = [], []
    for n, start in enumerate(range(0, int(LENGTH), 15)):
        speaker, text = MEETING.get(float(start), ("S4", READING[n % len(READING)]))
        segments.append({"start": float(start), "end": start + 14.0, "text": text})
        turns.append({"start": float(start), "end": start + 14.0, "speaker": speaker})
    said = AsrOutput(text=" ".join(s["text"] for s in segments), language="en", language_probability=0.99, segments=segments)  # type: ignore[arg-type]
    who = DiarizationOutput.model_validate({"num_speakers": 4, "turns": turns, "speaking_time": []})
    return [
        Evidence(step="s1", tool="asr", output=said.model_dump(), findings=said.findings()),
        Evidence(step="s2", tool="diarization", output=who.model_dump(), findings=who.findings()),
    ]


class SmallContextLLM:
    """Refuses a prompt over ``context`` tokens (4 characters a token) as llama.cpp does, else replies in order."""

    name = "small"

    def __init__(self, *replies: str, context: int = 1024):
        self.replies, self.context = list(replies), context
        self.prompts: list[str] = []

    def complete(self, messages, schema, max_tokens) -> Completion:
        self.prompts.append(messages[-1]["content"])
        tokens = sum(len(m["content"]) for m in messages) // 4
        if tokens + max_tokens > self.context:
            raise ContextOverflow("too long", tokens, self.context)
        return Completion(text=self.replies.pop(0))


def reply(text: str) -> str:
    return json.dumps({"answer": text})


def test_short_clip_prompt_is_unchanged():
    """A clip's transcript that fits is shown whole, as before retrieval existed: the same prompt, byte for byte."""
    said = AsrOutput(
        text="The budget is 12 euros.", language="en", language_probability=0.99,
        segments=[{"start": 0.0, "end": 2.5, "text": "The budget is 12 euros."}],  # type: ignore[list-item]
    )
    evidence = [Evidence(step="s1", tool="asr", output=said.model_dump(), findings=said.findings())]
    request = Request(question="What is the budget?", clips={"audio1": 9.5})
    llm = SmallContextLLM(reply("The budget is 12 euros."))
    draft = answer(request, evidence, llm)
    expected = 'Measurements:\n[asr] Transcript (en, p=0.99): "The budget is 12 euros."\n\nQuestion: What is the budget?'
    assert llm.prompts == [expected]
    assert draft.text == "The budget is 12 euros." and draft.notes == []


def test_long_transcript_answered_from_the_passage_that_says_it_with_its_time():
    llm = SmallContextLLM(reply("The budget is forty-two thousand euros."))
    request = Request(question="What is the budget for the festival?", clips={"audio1": LENGTH})
    draft = answer(request, long_evidence(), llm)
    assert len(llm.prompts) == 2  # the whole transcript overflowed, the passages fitted
    shown = llm.prompts[1]
    assert "[17:45] S2: The budget for the festival is forty-two thousand euros" in shown
    assert "Say where in the recording" in shown  # the prompt asks for the citation
    assert len(shown) < 4 * 1024
    assert draft.text.startswith("The budget is forty-two thousand euros. (At 17:45, S2 said:")
    assert "searched" in draft.notes[0]


def test_nothing_relevant_is_not_found_and_states_no_value():
    llm = SmallContextLLM(reply("unused"))
    request = Request(question="What is the price of the new submarine?", clips={"audio1": LENGTH})
    draft = answer(request, long_evidence(), llm)
    assert draft.text.startswith("Not found in the recording")
    assert len(llm.prompts) == 1  # only the overflowing attempt: no LLM answer to invent a value


def test_an_invented_figure_cites_a_passage_not_the_transcript():
    llm = SmallContextLLM(reply("The budget is 50,000 euros."))
    request = Request(question="What is the budget for the festival?", clips={"audio1": LENGTH})
    draft = answer(request, long_evidence(), llm)
    assert "measured by the tools:" in draft.text and "17:45" in draft.text
    assert READING[0] not in draft.text and len(draft.text) < 600


def test_a_named_part_of_a_long_clip_shows_that_part_only():
    llm = SmallContextLLM(reply("The festival budget and place."), context=100_000)
    request = Request(question="What is said between 17:30 and 18:10?", clips={"audio1": LENGTH})
    answer(request, long_evidence(), llm)
    (prompt,) = llm.prompts
    lines = [line for line in prompt.splitlines() if line.startswith("[1")]
    assert [line[:7] for line in lines] == ["[17:30]", "[17:45]", "[18:00]"]
    assert "Elm Road" in prompt and "marketing" not in prompt


def test_when_a_topic_starts_is_the_time_of_its_first_passage():
    request = Request(question="When do they start talking about the marketing plan?", clips={"audio1": LENGTH})
    draft = answer(request, long_evidence(), SmallContextLLM())
    assert draft.text.startswith('At 2:45, S3 said: "Next item: the marketing plan')


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is said between 10:00 and 12:00?", (600.0, 720.0)),
        ("What is said between minute 10 and 12?", (600.0, 720.0)),
        ("What do they discuss in the last five minutes?", (1200.0, 1500.0)),
        ("What happens in the first two minutes?", (0.0, 120.0)),
        ("What is said at 3:15?", (180.0, 210.0)),
        ("What is said after 20:00?", (1200.0, 1500.0)),
        ("Are there between 2 and 3 speakers?", None),
        ("What is the budget?", None),
    ],
)
def test_time_range(question, expected):
    assert time_range(question, LENGTH) == expected


def test_when_questions_and_topics():
    assert asks_when_said("When do they start talking about the marketing plan?") == "the marketing plan"
    assert asks_when_said("When is the party mentioned?") == "the party"
    assert asks_when_said("What is the budget?") is None
    assert topic("What is said in the last five minutes?") == ""
    assert clock(62.0) == "1:02" and clock(3725.4) == "1:02:05"


def test_facts_block_without_passages_is_as_before():
    evidence = long_evidence()
    lines = prompts.facts_block(evidence).splitlines()
    assert lines[0].startswith("[asr] Transcript (en, p=0.99):") and lines[1].startswith("[diarization] Speakers: 4")
