"""A tool's failure is its step's error, whatever it raised; time limits count a call's own run; the tool cache is
bounded. Scripted LLM and toy tools, as in test_agent_unit."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.audio import from_array
from copilot.cache import CHECK_EVERY, ToolCache
from copilot.planners.llm import LLMPlanner
from copilot.registry import Registry
from copilot.render import render_answer
from copilot.tool import Clips, SpanInput, ToolInput, tool
from copilot.tool_runner import StepTimeout, ToolRunner
from tests.test_agent_unit import Peak, ScriptedLLM, peak, program

RELEASE = threading.Event()  # lets the hung tools' threads end when a test is over


@tool()
def flaky(args: ToolInput, clips: Clips) -> Peak:
    """Fails with a bug of its own (not a CopilotError)."""
    raise RuntimeError("disk on fire\nand a second line")


@tool()
def hang(args: SpanInput, clips: Clips) -> Peak:
    """Never returns while a test runs."""
    RELEASE.wait(60)
    return Peak(peak=0.0)


REGISTRY = Registry([peak, flaky, hang])
ANSWER = json.dumps({"answer": "The peak is 0.80."})


@pytest.fixture
def clips() -> Clips:
    samples = np.zeros(32000, np.float32)
    samples[20000] = 0.8
    return {"audio1": from_array(samples)}


@pytest.fixture
def release() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


def agent(tmp_path: Path, *replies: str, **options: float) -> tuple[Copilot, ScriptedLLM]:
    llm = ScriptedLLM(*replies)
    return Copilot(LLMPlanner(llm), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite"), **options), llm


def test_a_tool_raising_runtime_error_is_its_steps_error_and_the_other_step_still_answers(tmp_path, clips, caplog):
    two = program({"tool": "flaky", "args": {}}, {"tool": "peak", "args": {}})
    copilot, llm = agent(tmp_path, two, two, ANSWER, max_rounds=2)
    with caplog.at_level(logging.ERROR, logger="copilot.agent"):
        answer = copilot.ask(clips, "How loud is the loudest sample?")
    assert answer.text == "The peak is 0.80."
    (failed,) = [e for e in answer.evidence if e.error]
    assert failed.tool == "flaky" and failed.error == "internal error in flaky: disk on fire"
    assert [e.output for e in answer.evidence if e.tool == "peak"] == [{"peak": pytest.approx(0.8)}]
    assert "internal error in flaky: disk on fire" in llm.prompts[1]  # the planner was told, and tried again
    assert "[flaky] failed: internal error in flaky: disk on fire" in llm.prompts[-1] and "Peak: 0.80" in llm.prompts[-1]
    shown = render_answer(answer)
    assert "[flaky] failed: internal error in flaky: disk on fire" in shown and "[peak] Peak: 0.80" in shown
    assert "Traceback" not in shown and "RuntimeError" not in shown
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "flaky" in logged[0].getMessage() and logged[0].exc_info[0] is RuntimeError  # the detail is logged


@pytest.mark.parametrize("row", ['{"peak": "loud"}', "{not json", '{"peak": 0.1'])
def test_a_stale_or_corrupt_cache_row_is_a_miss_computed_again_and_overwritten(tmp_path, clips, row):
    copilot, _ = agent(tmp_path, program({"tool": "peak", "args": {}}), ANSWER)
    key = copilot.cache.key(peak, peak.parse({}), clips)
    copilot.cache.put(key, "peak", {"peak": 0.5})
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        db.execute("UPDATE outputs SET output = ? WHERE key = ?", (row, key))
    (evidence,) = copilot.ask(clips, "How loud?").evidence
    assert evidence.error is None and not evidence.cached and evidence.output == {"peak": pytest.approx(0.8)}
    assert copilot.cache.get(key) == {"peak": pytest.approx(0.8)}


def test_a_locked_cache_costs_only_the_reuse(tmp_path, clips, monkeypatch):
    copilot, _ = agent(tmp_path, program({"tool": "peak", "args": {}}), ANSWER)

    def locked(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(copilot.cache, "get", locked)
    monkeypatch.setattr(copilot.cache, "put", locked)
    (evidence,) = copilot.ask(clips, "How loud?").evidence
    assert evidence.error is None and evidence.output == {"peak": pytest.approx(0.8)}


def test_four_hung_tools_make_no_later_step_time_out(tmp_path, clips, release):
    hung = [{"tool": "hang", "args": {"start": float(n)}} for n in range(4)]
    later = program({"tool": "peak", "args": {"start": 0.5}})
    copilot, _ = agent(tmp_path, program(*hung, {"tool": "peak", "args": {}}), ANSWER, later, ANSWER, max_rounds=1, step_timeout=0.5)
    started = time.perf_counter()
    answer = copilot.ask(clips, "How loud?")
    assert time.perf_counter() - started < 5
    errors = {e.step: e.error for e in answer.evidence}
    assert errors.pop("s5") is None, errors  # peak waited for a slot for about 0.5 s, and ran in no time
    assert set(errors.values()) == {"hang took longer than 0.5 s and was abandoned"}
    # the four abandoned calls still run, and hold no slot: a new question's step runs at once
    started = time.perf_counter()
    (evidence,) = copilot.ask(clips, "How loud after half a second?").evidence
    assert evidence.error is None and time.perf_counter() - started < 0.5


def test_a_calls_time_limit_counts_from_when_it_starts_not_its_wait_for_a_slot(release):
    runner = ToolRunner(slots=1)
    busy = threading.Thread(target=runner.run, args=(lambda: time.sleep(0.4), 5.0))
    busy.start()
    time.sleep(0.05)
    started = time.perf_counter()
    assert runner.run(lambda: "fast", timeout=0.2) == "fast"
    assert time.perf_counter() - started > 0.3  # it waited for the slot longer than its own limit
    with pytest.raises(StepTimeout):
        runner.run(lambda: RELEASE.wait(60), timeout=0.1)
    assert runner.run(lambda: "next", timeout=0.1) == "next"  # the abandoned call gave its slot back
    with pytest.raises(ValueError, match="raised in the tool"):
        runner.run(lambda: int("raised in the tool"), timeout=1)
    busy.join()


def rows(cache: ToolCache) -> list[str]:
    with sqlite3.connect(cache.path) as db:
        return [key for (key,) in db.execute("SELECT key FROM outputs ORDER BY written")]


def test_the_cache_evicts_the_least_recently_written_rows_past_its_bound(tmp_path):
    cache = ToolCache(tmp_path / "c.sqlite", max_mb=0.05)  # 50,000 bytes
    for n in range(100):  # about 1 KB each, 100 KB in all
        cache.put(f"k{n:03d}", "asr", {"text": "x" * 1000})
    info = cache.info()
    assert info.max_bytes == 50_000 and info.bytes <= 50_000 + CHECK_EVERY * 1030, info
    kept = rows(cache)
    assert 20 < len(kept) < 80 and kept == [f"k{n:03d}" for n in range(100 - len(kept), 100)]  # the newest
    assert cache.get("k000") is None and cache.get("k099") == {"text": "x" * 1000}


def test_a_cache_written_before_the_bound_is_kept_and_its_rows_are_evicted_first(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE outputs (key TEXT PRIMARY KEY, tool TEXT, output TEXT)")
        db.execute("INSERT INTO outputs VALUES ('old', 'asr', ?)", (json.dumps({"text": "y" * 30_000}),))
    cache = ToolCache(path, max_mb=0.05)
    assert cache.get("old") == {"text": "y" * 30_000} and cache.info().bytes > 30_000
    cache.put("new", "asr", {"text": "z" * 30_000})  # the first write checks the bound
    assert rows(cache) == ["new"]


def test_cache_info_counts_rows_tool_by_tool_and_clear_deletes_one_tools(tmp_path):
    cache = ToolCache(tmp_path / "c.sqlite")
    cache.put("a", "asr", {"text": "hello"})
    cache.put("b", "asr", {"text": "world"})
    cache.put("c", "pitch", {"hz": 120})
    info = cache.info()
    assert info.rows == 3 and [(t.tool, t.rows) for t in info.tools] == [("asr", 2), ("pitch", 1)]
    assert cache.clear("asr") == 2 and rows(cache) == ["c"]
    assert cache.clear() == 1 and cache.info().rows == 0
