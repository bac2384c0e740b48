"""Compound questions with a scripted LLM and toy tools: the split, each part planned and answered on its own, and
a part that no tool measures said to be not measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import Field

from copilot.agent import Copilot
from copilot.agent.amend import amend
from copilot.agent.parts import NO_STEP
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.planners.llm import LLMPlanner
from copilot.program import Program, Step, merge, prefixed
from copilot.question.parts import asks_per_speaker, parts
from copilot.question.request import Request
from copilot.registry import Registry
from copilot.render import render_answer
from copilot.tool import Findings, ToolInput, ToolOutput, tool
from tests.test_agent_unit import REGISTRY, ScriptedLLM, program


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many people speak, what do they plan, and what is the sound behind them?",
         ["How many people speak?", "What do they plan?", "What is the sound behind them?"]),
        ("Who speaks first, a man or a woman, and how loud is the recording?",
         ["Who speaks first, a man or a woman?", "How loud is the recording?"]),
        ("How many people are talking and is there a dog?", ["How many people are talking?", "Is there a dog?"]),
        ("Is it raining? Who speaks?", ["Is it raining?", "Who speaks?"]),
        ("How many people speak, and in which language do they speak?",
         ["How many people speak?", "In which language do they speak?"]),
        ("What do they say about bread and butter?", ["What do they say about bread and butter?"]),
        ("Is the speaker a man or a woman?", ["Is the speaker a man or a woman?"]),
        # a part about another speaker in the same words takes what it leaves out from the part before
        ("Is the first voice a man's or a woman's, and what about the second one?",
         ["Is the first voice a man's or a woman's?", "Is the second one a man's or a woman's?"]),
        ("Who speaks first, a man or a woman, and who speaks second?",
         ["Who speaks first, a man or a woman?", "Who speaks second, a man or a woman?"]),
        ("Who speaks first, and what do they say?", ["Who speaks first?", "What do they say?"]),
        ("How many people speak, and what about the rain?", ["How many people speak?", "What about the rain?"]),
    ],
)
def test_a_question_is_split_where_it_joins_questions_and_nowhere_else(question, expected):
    assert parts(question) == expected


def test_questions_about_one_speaker_among_several_are_recognised():
    assert asks_per_speaker("Who speaks first, a man or a woman?")
    assert asks_per_speaker("What is the second speaker's gender?")
    assert not asks_per_speaker("Is the speaker a man or a woman?")


def test_a_step_two_parts_plan_alike_runs_once_and_serves_both():
    one = prefixed(Program(steps=[Step(id="s1", tool="peak"), Step(id="s2", tool="kind", args={"x": "$s1.peak"})]), "p1")
    two = prefixed(Program(steps=[Step(id="s1", tool="peak")]), "p2")
    merged = merge([("first?", one), ("second?", two)])
    assert [s.id for s in merged.steps] == ["p1s1", "p1s2"]
    assert merged.steps[1].args == {"x": "$p1s1.peak"}
    assert [p.steps for p in merged.parts] == [["p1s1", "p1s2"], ["p1s1"]]


@pytest.fixture
def audio():
    samples = np.zeros(32000, np.float32)
    samples[20000] = 0.8
    return {"audio1": from_array(samples)}


def answer(text: str, measured: bool = True) -> str:
    return json.dumps({"measured": measured, "answer": text})


@pytest.fixture
def agent_with(tmp_path):
    def make(*replies: str) -> tuple[Copilot, ScriptedLLM]:
        llm = ScriptedLLM(*replies)
        return Copilot(LLMPlanner(llm), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite")), llm

    return make


def test_each_part_is_planned_and_answered_from_its_own_steps(agent_with, audio):
    agent, llm = agent_with(
        program({"tool": "peak", "args": {}}),
        program({"tool": "kind", "args": {}}),
        answer("The peak is 0.80."),
        answer("It is loud."),
    )
    reply = agent.ask(audio, "What is the peak, and how loud does it sound?")
    assert [(p.question, p.steps, p.text) for p in reply.parts] == [
        ("What is the peak?", ["p1s1"], "The peak is 0.80."),
        ("How loud does it sound?", ["p2s1"], "It is loud."),
    ]
    assert reply.text == "The peak is 0.80. It is loud."
    first_answer, second_answer = llm.prompts[2], llm.prompts[3]
    assert "Peak: 0.80" in first_answer and "Kind" not in first_answer
    assert "Kind: loud" in second_answer and "Peak" not in second_answer
    assert "Question: How loud does it sound?" in second_answer
    assert [p.question for p in reply.program.parts] == ["What is the peak?", "How loud does it sound?"]
    shown = render_answer(reply)
    assert "A:\n  1. What is the peak? The peak is 0.80.\n  2. How loud does it sound? It is loud.\n" in shown


def test_a_part_no_tool_measures_goes_back_to_the_planner_once_then_is_not_measured(agent_with, audio):
    agent, llm = agent_with(
        program({"tool": "peak", "args": {}}),
        json.dumps({"steps": []}),
        json.dumps({"steps": []}),
        answer("The peak is 0.80."),
    )
    reply = agent.ask(audio, "What is the peak, and what colour is the singer's shirt?")
    shirt = reply.parts[1]
    assert not shirt.measured and shirt.steps == [] and shirt.text.startswith("Not measured")
    assert NO_STEP in llm.prompts[2]  # the second try was told why
    assert not llm.replies  # and no answer was composed for the part
    assert reply.text.endswith(shirt.text)


def test_a_part_whose_measurements_do_not_bear_on_it_states_nothing(agent_with, audio):
    agent, _ = agent_with(
        program({"tool": "peak", "args": {}}),
        program({"tool": "kind", "args": {}}),
        answer("The peak is 0.80."),
        answer("The shirt is white.", measured=False),
    )
    reply = agent.ask(audio, "What is the peak, and what colour is the singer's shirt?")
    assert not reply.parts[1].measured and "white" not in reply.text
    assert reply.parts[1].text == "Not measured: what the tools measured (kind) does not tell this."


def test_a_multiple_choice_question_is_one_question(agent_with, audio):
    agent, llm = agent_with(program({"tool": "kind", "args": {}}))
    reply = agent.ask(audio, "Is it loud, or is it quiet? (a) loud (b) quiet")
    assert reply.parts == [] and reply.choice == "(a) loud" and len(llm.prompts) == 1


class VoicesInput(ToolInput):
    by_speaker: bool = Field(False, description="one answer per speaker")


class Voices(ToolOutput):
    def findings(self) -> Findings:
        return Findings(facts="Voices")


@tool()
def voices(args: VoicesInput, clips) -> Voices:
    """Tells the voices apart."""
    return Voices()


def test_a_question_about_one_speaker_among_several_gets_the_tool_speaker_by_speaker(tmp_path):
    llm = ScriptedLLM()
    agent = Copilot(LLMPlanner(llm), llm, Registry([voices]), ToolCache(tmp_path / "cache.sqlite"))
    request = Request(question="Who speaks first, a man or a woman?", clips={"audio1": 5.0})
    amended, notes = amend(Program(steps=[Step(id="p1s1", tool="voices")]), request, 1, agent._context({}), part=1)
    assert amended.steps[0].args == {"by_speaker": True}
    assert notes == ["round 1: part 1, step 'p1s1', voices: set by_speaker, as the question is about one speaker among several"]
