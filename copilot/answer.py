"""Questions and answers: the request, each step's evidence, the answer with its trace, and option matching."""

from __future__ import annotations

import re
import string
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from copilot.program import Program
from copilot.questions import check_length
from copilot.tool import Findings

_LETTER = re.compile(r"\(([a-z])\)\s*")  # opens an option
_NEXT_LETTER = re.compile(r"\([a-z]\)(?=\s|\Z)")  # ends the option before it, with the spaces before it


class Request(BaseModel):
    """A question about one or two clips; ``options`` makes it multiple choice."""

    question: str
    options: list[str] = Field(default_factory=list, description="option texts, lettered (a), (b), ... in order")
    clips: dict[str, float] = Field(default_factory=dict, description="clip name -> duration in seconds")

    @classmethod
    def from_text(cls, question: str, clips: dict[str, float], options: list[str] | None = None) -> Request:
        """A request whose options, when not given, are read from ``(a) ... (b) ...`` inside the question; a question
        over the length limit is refused (`check_length`) before it is read."""
        check_length(question)
        if options is None:
            stem, options = split_options(question)
            question = stem if options else question
        return cls(question=question.strip(), options=options, clips=clips)

    @property
    def letters(self) -> list[str]:
        return list(string.ascii_lowercase[: len(self.options)])

    @property
    def lettered(self) -> list[str]:
        """The options as listed: ``(a) Female``."""
        return [f"({letter}) {text}" for letter, text in zip(self.letters, self.options, strict=True)]

    def option_text(self) -> str:
        return " ".join(self.lettered)


class Evidence(BaseModel):
    """What one step of the program did: its output (or error), its findings, and its cost."""

    model_config = ConfigDict(extra="forbid")  # a finding given as a field of its own (labels=...) is an error, not lost
    step: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] | None = None
    findings: Findings = Field(
        default_factory=Findings, description="what the output tells the answer step; in JSON, its facts and labels"
    )
    error: str | None = None
    final: bool = Field(False, exclude=True, description="the error is a finding about the audio (no speech to measure)")
    cached: bool = False
    seconds: float = 0.0

    @field_serializer("findings")
    def _readable(self, findings: Findings) -> dict[str, Any]:
        """The facts and labels, what a person reads; the rest serves the answer step alone (a sound tagger's
        vocabulary is hundreds of names)."""
        return findings.model_dump(include={"facts", "labels"})


class Trace(BaseModel):
    """How the answer was reached: the planner, each round's program and problems, and the timings."""

    planner: str
    rounds: list[Program] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    answered_by: str = ""
    notes: list[str] = Field(default_factory=list, description="caveats of the answer, e.g. measurements cut to fit")
    amendments: list[str] = Field(
        default_factory=list, description="steps code added to the planner's program, e.g. asr for a question about what is said"
    )
    reused_plan: bool = Field(False, description="the first round ran the program kept for an earlier question of this shape")
    reused_like: str | None = Field(
        None, description="when the reused program was written for a question worded otherwise: that question and how alike"
    )


class PartAnswer(BaseModel):
    """The answer to one part of a compound question, from the steps that served that part alone."""

    question: str
    text: str
    steps: list[str] = Field(default_factory=list, description="ids of the steps whose outputs this answer rests on")
    measured: bool = Field(True, description="false when no tool measured this part, and the text says so")
    answered_by: str = ""


class Answer(BaseModel):
    """The reply to a `Request`, with the evidence it rests on."""

    question: str
    text: str
    choice: str | None = Field(None, description="the chosen option, e.g. '(b) Female', for multiple choice")
    parts: list[PartAnswer] = Field(
        default_factory=list, description="a compound question's answers part by part; empty when it asks one thing"
    )
    evidence: list[Evidence] = Field(default_factory=list)
    program: Program | None = None
    trace: Trace


def split_options(question: str) -> tuple[str, list[str]]:
    """The question's stem and its options, when it lists them as ``(a) ... (b) ...``."""
    first = re.search(r"\(a\)\s", question + " ")
    if not first:
        return question, []
    found = _lettered(question[first.start() :])
    options = [text.strip().rstrip(".;,") for _, text in found]
    letters = [letter for letter, _ in found]
    if len(options) < 2 or letters != list(string.ascii_lowercase[: len(letters)]):
        return question, []
    return question[: first.start()].strip(), options


def _lettered(text: str) -> list[tuple[str, str]]:
    """Each ``(x) option`` in ``text``, as (letter, option), left to right. An option starts after its letter and the
    spaces that follow it (at the last of them when nothing else does) and ends at the spaces before the next letter
    that a space or the end follows, else at the end of ``text`` (before a last newline). A scan with one search for
    each letter and no pattern that could backtrack, so its time grows with the length of ``text``, not its square."""
    found: list[tuple[str, str]] = []
    pos = 0
    while letter := _LETTER.search(text, pos):
        start = letter.end()
        if start == len(text):
            if start == letter.end(1) + 1:  # nothing after the letter: no option
                break
            start -= 1
        end = _option_end(text, start + 1)
        found.append((letter.group(1), text[start:end]))
        pos = end
    return found


def _option_end(text: str, lo: int) -> int:
    """Where the option that runs to at least ``lo`` ends: before the spaces before the next letter, else at the end."""
    following = _NEXT_LETTER.search(text, lo)
    if following:
        return lo + len(text[lo : following.start()].rstrip())
    return len(text) - 1 if text.endswith("\n") and len(text) - 1 >= lo else len(text)


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def match_option(options: list[str], labels: list[str]) -> int | None:
    """The index of the option that a tool's label names outright (``female`` -> ``(b) Female``), else None.

    ``labels`` come likeliest first, so when several options are named the likeliest label's option wins.
    """
    positions = {normalise(option): i for i, option in reversed(list(enumerate(options)))}
    return next((positions[n] for n in map(normalise, labels) if n in positions), None)
