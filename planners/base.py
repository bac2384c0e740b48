"""What every planner is: a program writer."""

from __future__ import annotations

from typing import Protocol

from copilot.program import Program
from copilot.question.request import Request
from copilot.registry import Registry


class Planner(Protocol):
    """Writes programs; the agent runs them, and the answer stage (`copilot.answering`) answers from their evidence."""

    name: str

    def plan(self, request: Request, registry: Registry, feedback: list[str], part: bool = False) -> Program:
        """A program for ``request``; ``feedback`` holds problems of the previous round to repair. For a ``part`` of a
        compound question, a program with no steps says that no tool measures it."""
        ...
