"""What every planner is: a program writer and an answer composer, over one chat LLM interface."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from copilot.answer import Evidence, Request
from copilot.program import Program
from copilot.registry import Registry


class Completion(BaseModel):
    """One LLM reply with what it cost."""

    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class LLM(Protocol):
    """A chat model that can be held to a JSON schema."""

    name: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
        """The model's reply to ``messages``, as JSON text that validates against ``schema``."""
        ...


class Draft(BaseModel):
    """A planner's answer before evidence and trace are attached."""

    text: str
    choice: int | None = None
    answered_by: str = "llm"
    measured: bool = Field(True, description="false when the evidence does not bear on the question (a part's answer)")
    notes: list[str] = Field(default_factory=list, description="caveats of the answer, e.g. measurements cut to fit")


class Planner(Protocol):
    """Writes programs and composes answers."""

    name: str
    amended: bool
    """Whether the agent adds the steps a question plainly needs to this planner's programs; a fixed cascade's
    program is its definition, so it runs as written."""

    def plan(self, request: Request, registry: Registry, feedback: list[str], part: bool = False) -> Program:
        """A program for ``request``; ``feedback`` holds problems of the previous round to repair. For a ``part`` of a
        compound question, a program with no steps says that no tool measures it."""
        ...

    def answer(self, request: Request, evidence: list[Evidence], part: bool = False) -> Draft:
        """The answer to ``request`` from the evidence alone; for a ``part`` of a compound question, a draft that is
        not ``measured`` when the evidence does not bear on it."""
        ...
