"""Plan reuse: question shapes, which programs are kept, and the agent running a kept program without the LLM."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.agent.reuse import reused
from copilot.audio import from_array
from copilot.benchmarks.items import Result
from copilot.benchmarks.report import render
from copilot.cache import ToolCache
from copilot.planners.llm import LLMPlanner
from copilot.plans import NEAREST, PlanBook, portable
from copilot.program import merge, parse
from copilot.question.request import Request
from copilot.question.shape import shape
from copilot.registry import Registry
from copilot.render import render_answer
from copilot.tool import ToolInput, tool
from tests.test_agent_unit import REGISTRY, Kind, ScriptedLLM, kind, peak, program


def request(question: str, options: list[str] | None = None, n_clips: int = 1) -> Request:
    return Request(question=question, options=options or [], clips={f"audio{i}": 4.2 for i in range(1, n_clips + 1)})


@pytest.fixture
def clips():
    samples = np.zeros(32000, np.float32)
    samples[20000] = 0.8
    return {"audio1": from_array(samples)}


def test_a_shape_leaves_out_the_options_texts_case_quote_marks_and_spacing():
    a = request("Which animal makes the sound?", ["dog", "cow"])
    assert shape(a) == shape(request("which  animal makes the sound", ["cat", "horse"]))
    assert shape(request("What is the speaker’s gender?")) == shape(request("What is the speaker's gender?"))


@pytest.mark.parametrize("other", [
    request("Which animal makes the sound?", ["dog", "cow", "cat"]),  # three options, not two
    request("Which animal makes the sound?", ["1", "2"]),  # numbers, not words
    request("Which animal makes the sound?", ["dog", "cow"], n_clips=2),
    request("Which bird makes the sound?", ["dog", "cow"]),
])
def test_another_number_of_options_or_clips_or_another_word_is_another_shape(other):
    assert shape(other) != shape(request("Which animal makes the sound?", ["dog", "cow"]))


def test_a_range_spanning_the_clip_is_dropped_and_a_stated_range_kept():
    whole = parse({"steps": [{"tool": "peak", "args": {"start": 0.0, "end": 4.2}}]})
    assert portable(whole, request("How loud is it?")).steps[0].args == {}
    stated = parse({"steps": [{"tool": "peak", "args": {"start": 1, "end": 2.5}}]})
    assert portable(stated, request("How loud is it from 1 to 2.5 s?")).steps[0].args == {"start": 1, "end": 2.5}


def test_a_range_read_off_this_clip_keeps_the_program_out(tmp_path):
    guessed = parse({"steps": [{"tool": "peak", "args": {"start": 2.1, "end": 4.2}}]})
    assert portable(guessed, request("How loud is the second half?")) is None
    book = PlanBook("llm", REGISTRY, tmp_path / "cache.sqlite")
    assert not book.keep(request("How loud is the second half?"), guessed)


@pytest.fixture
def book(tmp_path):
    return PlanBook("llm:scripted", REGISTRY, tmp_path / "cache.sqlite")


def agent(tmp_path, book: PlanBook, *replies: str) -> tuple[Copilot, ScriptedLLM]:
    llm = ScriptedLLM(*replies)
    return Copilot(LLMPlanner(llm), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite"), plans=book), llm


def test_a_question_of_a_known_shape_runs_the_kept_program_with_no_planning_call(tmp_path, book, clips):
    first, llm = agent(tmp_path, book, program({"tool": "peak"}), json.dumps({"reasoning": "r", "answer": "(a) a click"}))
    answer = first.ask(clips, "Which describes it? (a) a click (b) silence")
    assert not answer.trace.reused_plan and len(llm.prompts) == 2
    # the same shape with other options: only the answer step asks the LLM
    second, llm = agent(tmp_path, book, json.dumps({"reasoning": "r", "answer": "(b) a click"}))
    answer = second.ask(clips, "Which  describes it? (a) music (b) a click")
    assert answer.trace.reused_plan and len(llm.prompts) == 1 and answer.choice == "(b) a click"
    assert [e.tool for e in answer.evidence] == ["peak"]
    assert "reused from an earlier question of this shape" in render_answer(answer, trace=True)


def test_a_kept_program_that_fails_is_planned_again_and_replaced(tmp_path, book, clips):
    asked = request("How loud is the loudest sample?")
    book.keep(asked, parse({"steps": [{"tool": "broken"}]}))
    copilot, _ = agent(tmp_path, book, program({"tool": "peak"}), json.dumps({"answer": "0.8"}))
    answer = copilot.ask(clips, asked.question)
    assert answer.trace.reused_plan and len(answer.trace.rounds) == 2  # the kept program, then the LLM's
    assert "broken" in answer.trace.problems[0]
    assert [s.tool for s in book.find(asked).program.steps] == ["peak"]


def test_programs_are_kept_per_planner_and_per_registry(tmp_path, book):
    asked = request("How loud is it?")
    book.keep(asked, parse({"steps": [{"tool": "peak"}]}))
    assert PlanBook("llm:scripted", REGISTRY, tmp_path / "cache.sqlite").find(asked) is not None
    assert PlanBook("llm:another", REGISTRY, tmp_path / "cache.sqlite").find(asked) is None
    assert PlanBook("llm:scripted", Registry([peak, kind]), tmp_path / "cache.sqlite").find(asked) is None


def test_a_damaged_row_is_planned_again(tmp_path, book, clips):
    asked = request("How loud is it?")
    book.keep(asked, parse({"steps": [{"tool": "peak"}]}))
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        db.execute("UPDATE kept_programs SET program = 'not json'")
    assert book.find(asked) is None
    copilot, _ = agent(tmp_path, book, program({"tool": "peak"}), json.dumps({"answer": "0.8"}))
    assert not copilot.ask(clips, asked.question).trace.reused_plan and book.find(asked) is not None


def test_the_report_says_what_share_of_questions_reused_a_plan():
    def result(n: int, reused: bool) -> Result:
        return Result(key=f"{n}#v0", id=str(n), benchmark="sakura", system="copilot[embedded]", category="single/Gender",
                      kind="choice", question="q", reference="Female", score={"correct": 1.0, "refusal": 0.0},
                      reused_plan=reused)

    text = render({"sakura": {"copilot[embedded]": [result(n, n % 4 != 0) for n in range(8)]}})
    assert "| system | items | prompt variants | errors | s / answer | plans reused | judge |" in text
    assert "| copilot[embedded] | 8 | 1 | 0 | – | 75% |" in text


LOUDNESS = ["How loud is the loudest sample?", "What is the maximum loudness of the clip?", "How loud does the clip get at most?"]


def test_a_question_worded_like_several_kept_ones_borrows_their_program(tmp_path, book, clips):
    for question in LOUDNESS:  # the real MiniLM embeddings
        book.keep(request(question), parse({"steps": [{"tool": "peak"}]}))
    kept = book.find(request("How loud is this recording?"))
    assert kept is not None and [s.tool for s in kept.program.steps] == ["peak"]
    assert kept.like in {q.lower().rstrip("?") for q in LOUDNESS} and 0.5 <= kept.similarity < 1
    assert book.find(request("Which language is spoken?")) is None  # like none of them
    copilot, llm = agent(tmp_path, book, json.dumps({"answer": "0.8"}))
    answer = copilot.ask(clips, "How loud is this recording?")
    assert answer.trace.reused_plan and answer.trace.reused_like and len(llm.prompts) == 1  # the answer step alone
    assert "reused from the similar question" in render_answer(answer, trace=True)
    assert book.find(request("How loud is this recording?")).like is not None  # not kept as a program of its own


def vectors(table: dict[str, list[float]]):
    """An embedder that gives each question the unit vector listed for it."""
    def embed(texts):
        rows = np.array([table[t] for t in texts], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return embed


def test_neighbours_that_disagree_or_are_too_few_or_too_far_lend_nothing(tmp_path):
    near = {"a": [1, 0.1, 0], "b": [1, 0, 0.1], "c": [1, 0.1, 0.1], "new": [1, 0, 0], "far": [0, 0, 1]}
    book = PlanBook("llm:scripted", REGISTRY, tmp_path / "cache.sqlite", embed=vectors(near))
    book.keep(request("a"), parse({"steps": [{"tool": "peak"}]}))
    book.keep(request("b"), parse({"steps": [{"tool": "peak"}]}))
    assert NEAREST == 3 and book.find(request("new")) is None  # two neighbours are not evidence enough
    book.keep(request("c"), parse({"steps": [{"tool": "kind"}]}))
    assert book.find(request("new")) is None  # they disagree
    book.keep(request("c"), parse({"steps": [{"tool": "peak"}]}))  # replaces its program
    assert book.find(request("new")).program.steps[0].tool == "peak"
    assert book.find(request("far")) is None  # too far from all three
    assert book.find(request("new", ["x", "y"])) is None  # another kind of question: options, here


def test_a_borrowed_program_is_the_borrowers_own_to_change(tmp_path):
    near = {"a": [1, 0.1, 0], "b": [1, 0, 0.1], "c": [1, 0.1, 0.1], "new": [1, 0, 0]}
    book = PlanBook("llm:scripted", REGISTRY, tmp_path / "cache.sqlite", embed=vectors(near))
    for question in "abc":
        book.keep(request(question), parse({"steps": [{"tool": "peak"}]}))
    book.find(request("new")).program.steps.append(parse({"steps": [{"tool": "kind"}]}).steps[0])
    assert [s.tool for s in book.find(request("new")).program.steps] == ["peak"]


@tool(serves=("loud or quiet",))
def loudness(args: ToolInput, clips) -> Kind:
    """Says whether the clip is loud or quiet."""
    return Kind(kind="loud")


def test_a_borrowed_program_gets_the_steps_its_own_words_need(tmp_path, clips):
    near = {"how loud is it": [1, 0], "how loud is the clip": [1, 0.1], "how loud is this": [1, 0.05],
            "how loud is it loud or quiet": [1, 0.02]}
    registry = Registry([peak, loudness])
    book = PlanBook("llm:scripted", registry, tmp_path / "cache.sqlite", embed=vectors(near))
    for question in list(near)[:3]:
        book.keep(request(question), parse({"steps": [{"tool": "peak"}]}))
    llm = ScriptedLLM(json.dumps({"answer": "loud"}))
    copilot = Copilot(LLMPlanner(llm), llm, registry, ToolCache(tmp_path / "c.sqlite"), plans=book)
    answer = copilot.ask(clips, "How loud is it, loud or quiet?")
    assert answer.trace.reused_like is not None and [s.tool for s in answer.trace.rounds[0].steps] == ["peak", "loudness"]
    assert any("loud or quiet" in note for note in answer.trace.amendments)


def test_a_compound_question_borrows_nothing_and_a_compound_program_lends_nothing(tmp_path, clips):
    near = {"how loud is it": [1, 0], "how loud is the clip": [1, 0.1], "how loud is this": [1, 0.05],
            "how loud is it and what kind is it": [1, 0.02], "how loud": [1, 0.03]}
    book = PlanBook("llm:scripted", REGISTRY, tmp_path / "cache.sqlite", embed=vectors(near))
    for question in list(near)[:3]:
        book.keep(request(question), parse({"steps": [{"tool": "peak"}]}))
    compound = request("How loud is it, and what kind is it?")
    assert book.find(compound) is not None  # the book would lend it a program, but the agent plans it part by part
    copilot, _ = agent(tmp_path, book)
    assert reused(compound, copilot._context(clips)) is None
    book.keep(request("how loud is this"), merge([("How loud?", parse({"steps": [{"tool": "peak", "id": "p1s1"}]}))]))
    assert book.find(request("how loud")) is None  # two plain neighbours are left
