"""Steps over a long recording: they run one at a time with a time limit that grows with the audio, and a default asr
step reads the word-timed transcript kept of the clip; a short clip's steps run as before. Scripted LLM, toy tools."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import Copilot, long_steps
from copilot.agent.long_steps import LONG_STEP
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.planners.llm import LLMPlanner
from copilot.registry import Registry
from copilot.tool import Clips, SpanInput, tool
from copilot.tool_runner import ToolRunner
from copilot.tools.asr import AsrInput, AsrOutput, TextSegment, Word
from tests.test_agent_unit import Peak, ScriptedLLM, program

RUNNING: list[int] = []  # how many toy steps run now, then the most seen at once
_lock = threading.Lock()
ASR_RUNS: list[AsrInput] = []


def _busy(seconds: float) -> Peak:
    with _lock:
        RUNNING[0] += 1
        RUNNING[1] = max(RUNNING[1], RUNNING[0])
    time.sleep(seconds)
    with _lock:
        RUNNING[0] -= 1
    return Peak(peak=0.0)


@tool()
def heavy(args: SpanInput, clips: Clips) -> Peak:
    """Works for 0.3 s."""
    return _busy(0.3)


@tool()
def heavier(args: SpanInput, clips: Clips) -> Peak:
    """Works for 0.3 s too."""
    return _busy(0.3)


@tool(name="asr")
def fake_asr(args: AsrInput, clips: Clips) -> AsrOutput:
    """Transcribes nothing; counts its runs."""
    ASR_RUNS.append(args)
    return AsrOutput(text="ran", language="en", language_probability=1.0, segments=[], words=[] if args.word_timestamps else None)


REGISTRY = Registry([heavy, heavier, fake_asr])
ANSWER = json.dumps({"answer": "Done."})
TIMED = AsrOutput(
    text="Hello there.",
    language="en",
    language_probability=0.99,
    segments=[TextSegment(start=40.0, end=41.0, text="Hello there.")],
    words=[Word(start=40.0, end=40.4, word="Hello", probability=0.9), Word(start=40.5, end=41.0, word="there.", probability=0.9)],
)


def clip(seconds: float) -> Clips:
    return {"audio1": from_array(np.zeros(round(seconds * 16000), np.float32))}


def agent(tmp_path: Path, *replies: str, step_timeout: float = 300.0) -> Copilot:
    """A copilot with a cache of its own (no step reads another's output) that runs the scripted program as it is:
    no step is added for what a long recording's question asks."""
    llm, cache = ScriptedLLM(*replies), ToolCache(tmp_path / f"cache{len(list(tmp_path.glob('*.sqlite')))}.sqlite")
    return Copilot(LLMPlanner(llm), llm, REGISTRY, cache, amend=False, step_timeout=step_timeout, max_rounds=1)


@pytest.fixture(autouse=True)
def counters() -> None:
    RUNNING[:] = [0, 0]
    ASR_RUNS.clear()


def test_a_short_clips_steps_run_together_and_a_long_clips_one_at_a_time(tmp_path):
    two = program({"tool": "heavy", "args": {}}, {"tool": "heavier", "args": {}})
    assert agent(tmp_path, two, ANSWER).ask(clip(2), "Busy?").text == "Done."
    assert RUNNING[1] == 2
    RUNNING[:] = [0, 0]
    answer = agent(tmp_path, two, ANSWER).ask(clip(LONG_STEP + 1), "Busy?")
    assert [e.error for e in answer.evidence] == [None, None] and RUNNING[1] == 1
    # a long clip's short range is a short step: it runs beside the others
    RUNNING[:] = [0, 0]
    three = program({"tool": "heavy", "args": {}}, {"tool": "heavier", "args": {}}, {"tool": "heavy", "args": {"end": 60}})
    agent(tmp_path, three, ANSWER).ask(clip(LONG_STEP + 1), "Busy?")
    assert RUNNING[1] == 2


def test_a_long_steps_time_limit_grows_with_its_audio(tmp_path):
    one = program({"tool": "heavy", "args": {}})
    (short,) = agent(tmp_path, one, ANSWER, step_timeout=0.1).ask(clip(2), "Busy?").evidence
    assert short.error == "heavy took longer than 0.1 s and was abandoned"
    (long,) = agent(tmp_path, one, ANSWER, step_timeout=0.1).ask(clip(LONG_STEP + 1), "Busy?").evidence
    assert long.error is None


def test_alone_calls_wait_for_each_other_and_others_do_not():
    runner, done = ToolRunner(slots=4), []
    first = threading.Thread(target=runner.run, args=(lambda: time.sleep(0.3), 5.0), kwargs={"alone": True})
    first.start()
    time.sleep(0.05)
    started = time.perf_counter()
    runner.run(lambda: done.append("beside"), 1.0)
    assert time.perf_counter() - started < 0.2
    runner.run(lambda: done.append("after"), 1.0, alone=True)
    assert time.perf_counter() - started > 0.2 and done == ["beside", "after"]
    first.join()


def test_a_default_asr_step_on_a_long_clip_reads_the_word_timed_transcript_kept(tmp_path):
    clips = clip(60)
    copilot = agent(tmp_path, program({"tool": "asr", "args": {}}), ANSWER)
    copilot.cache.keep(copilot.cache.key(fake_asr, AsrInput(word_timestamps=True), clips), "asr", TIMED)
    (step,) = copilot.ask(clips, "What is said?").evidence
    assert ASR_RUNS == [] and step.cached
    assert step.output == TIMED.model_copy(update={"words": None}).model_dump(mode="json")
    assert step.findings == TIMED.findings()


@pytest.mark.parametrize(
    ("seconds", "kept", "asked"),
    [
        (20, {"word_timestamps": True}, {}),  # a clip of 30 s or less always gets its own run
        (60, {}, {"word_timestamps": True}),  # word times are never made up from a transcript without them
        (60, {"word_timestamps": True, "language": "de"}, {}),  # other arguments must be the same
        (60, {"word_timestamps": True, "start": 10}, {}),
    ],
)
def test_an_asr_step_runs_when_only_another_transcript_is_kept(tmp_path, seconds, kept, asked):
    clips = clip(seconds)
    copilot = agent(tmp_path, program({"tool": "asr", "args": asked}), ANSWER)
    copilot.cache.keep(copilot.cache.key(fake_asr, AsrInput(**kept), clips), "asr", TIMED)
    (step,) = copilot.ask(clips, "What is said?").evidence
    (ran,) = ASR_RUNS
    assert ran == AsrInput(**asked) and not step.cached and step.output["text"] == "ran"


def test_a_long_step_gives_the_memory_it_freed_back_and_a_short_one_leaves_the_heap_alone(tmp_path, monkeypatch):
    trims: list[int] = []
    monkeypatch.setattr(long_steps, "_malloc_trim", lambda: trims.append)
    one = program({"tool": "heavy", "args": {}})
    agent(tmp_path, one, ANSWER).ask(clip(2), "Busy?")
    assert trims == []
    agent(tmp_path, one, ANSWER).ask(clip(LONG_STEP + 1), "Busy?")
    assert trims == [0]
