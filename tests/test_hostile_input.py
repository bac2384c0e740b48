"""Questions written to hurt: a parse that cannot be made to backtrack, a length limit, and a cap on the parts of a
compound question, each refused with one clear error before any LLM call."""

from __future__ import annotations

import json
import random
import re
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.config import Settings
from copilot.errors import CopilotError, QuestionError
from copilot.planners.llm import LLMPlanner
from copilot.question.parts import MAX_PARTS, parts
from copilot.question.reading import quoted, unquoted
from copilot.question.request import Request, check_length, split_options
from tests.test_agent_unit import REGISTRY, ScriptedLLM

N = 300_000

# Each hostile question and what the parse must find in it; the patterns these parsers replaced took minutes to
# hours on them (16,000 characters: 1.7 s for the first, 1.4-3.2 s for the quotes, 65 s for 4,000 of the last).
HOSTILE = [
    ("options", "Which? (a) x" + " " * N + "y (b) z", ("Which?", ["x" + " " * N + "y", "z"])),
    ("options", "Which? (a) x" + "\n" * N, ("Which? (a) x" + "\n" * N, [])),
    ("quoted", "“" * N + ' and the word "tomato"', ["tomato"]),
    ("quoted", "„" * N, []),
    ("quoted", "«x" * (N // 2) + "»", ["x" + "«x" * (N // 2 - 1)]),
    ("quoted", "«" + " " * N, []),
]


def test_a_300k_character_question_is_parsed_in_linear_time() -> None:
    # In a child process, so that a parse that backtracks is killed at the timeout instead of holding the GIL.
    code = (
        "import json, sys\n"
        "from copilot.question.request import split_options\n"
        "from copilot.question.reading import quoted\n"
        "cases = json.load(sys.stdin)\n"
        "print(json.dumps([split_options(q) if kind == 'options' else quoted(q) for kind, q in cases]))\n"
    )
    cases = [(kind, question) for kind, question, _ in HOSTILE]
    run = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(cases), capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(run.stdout)
    expected = [list(e) if isinstance(e, tuple) else e for _, _, e in HOSTILE]
    assert found == expected


# The patterns the scanners replaced: the reference for what they must find on short questions.
_OLD_OPTION = re.compile(r"\(([a-z])\)\s*(.+?)(?=\s*\([a-z]\)\s|\s*\([a-z]\)$|$)", re.S)
_OLD_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“”]+)[“”]|‘([^’]+)’|«\s*([^»]+?)\s*»|(?<!\w)\'([^\']+)\'(?!\w)')


def _old_split_options(question: str) -> tuple[str, list[str]]:
    first = re.search(r"\(a\)\s", question + " ")
    if not first:
        return question, []
    found = _OLD_OPTION.findall(question[first.start() :])
    options, letters = [t.strip().rstrip(".;,") for _, t in found], [letter for letter, _ in found]
    if len(options) < 2 or letters != list(string.ascii_lowercase[: len(letters)]):
        return question, []
    return question[: first.start()].strip(), options


def _old_quoted(question: str) -> list[str]:
    return [next(g for g in m.groups() if g).strip() for m in _OLD_QUOTED.finditer(question)]


def test_the_scanners_find_what_the_patterns_they_replaced_found() -> None:
    rng = random.Random(34)
    option_bits = ["(a)", "(b)", "(c)", "(A)", "(", ")", "a", "x", " ", "  ", "\n", "\t", ".", ",", "(ab)", "\u00a0"]
    quote_bits = ['"', "“", "”", "„", "‘", "’", "«", "»", "'", " ", "\n", "a", "é", "_", "1", "don't", "\u00a0"]
    for _ in range(20_000):
        question = "".join(rng.choice(option_bits) for _ in range(rng.randint(0, 16)))
        assert split_options(question) == _old_split_options(question), repr(question)
        question = "".join(rng.choice(quote_bits) for _ in range(rng.randint(0, 16)))
        assert quoted(question) == _old_quoted(question), repr(question)
        assert unquoted(question) == _OLD_QUOTED.sub(" ", question), repr(question)


def test_a_question_over_the_length_limit_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = Settings().max_question_chars
    assert limit == 4000
    Request.from_text("x" * limit, {})  # at the limit: taken
    with pytest.raises(QuestionError, match=r"4001 characters long, above the 4000 character limit") as refused:
        Request.from_text("x" * (limit + 1), {})
    assert "SPEECH_COPILOT_MAX_QUESTION" in str(refused.value) and "\n" not in str(refused.value)
    monkeypatch.setenv("SPEECH_COPILOT_MAX_QUESTION", "20")
    with pytest.raises(QuestionError, match="above the 20 character limit"):
        check_length("How many people speak here?")


@pytest.mark.parametrize("setting", ["0", "-5", "inf", "1e3", "ten"])
def test_a_bad_question_length_setting_is_named(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("SPEECH_COPILOT_MAX_QUESTION", setting)
    with pytest.raises(CopilotError, match="SPEECH_COPILOT_MAX_QUESTION"):
        Settings.from_env()


def _many_parts(n: int) -> str:
    return ", ".join(f"what is thing number {i}" for i in range(n)).capitalize() + "?"


def test_a_question_of_more_parts_than_the_cap_is_refused_not_answered_in_part() -> None:
    assert len(parts(_many_parts(MAX_PARTS))) == MAX_PARTS
    with pytest.raises(QuestionError, match=rf"asks {MAX_PARTS + 1} things at once, more than the {MAX_PARTS}"):
        parts(_many_parts(MAX_PARTS + 1))
    with pytest.raises(QuestionError, match="asks 1000 things at once"):
        parts(_many_parts(1000))


@pytest.mark.parametrize(
    ("question", "refused"),
    [("x" * 5000, "above the 4000 character limit"), (_many_parts(MAX_PARTS + 5), f"asks {MAX_PARTS + 5} things")],
)
def test_the_agent_refuses_before_any_llm_call(tmp_path: Path, question: str, refused: str) -> None:
    llm = ScriptedLLM()  # no replies: any call to it fails the test
    agent = Copilot(LLMPlanner(llm), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite"))
    with pytest.raises(QuestionError, match=refused):
        agent.ask({"audio1": from_array(np.zeros(16000, np.float32))}, question)
    assert llm.prompts == []
