"""What the agent's graph carries: `State`, the record its nodes read and update, and `Context`, what one run works
with (the clips and the agent's collaborators), which langgraph hands every node by reference (`Runtime.context`),
so the audio is never copied into the state or a `Send` payload.

`State` and `Context` live here rather than in `graph.py` because the parts, reuse and amendment modules, which the
graph's nodes call, read them too.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, TypedDict

from copilot.answering.models import Draft, PartAnswer
from copilot.cache import ToolCache
from copilot.evidence import Evidence
from copilot.llm import LLM
from copilot.planners.base import Planner
from copilot.plans import PlanBook
from copilot.program import Program, Step
from copilot.question.request import Request
from copilot.registry import Registry
from copilot.tool import Clips
from copilot.tool_runner import ToolRunner


def _merge(a: dict, b: dict) -> dict:
    return {**a, **b}


class State(TypedDict, total=False):
    """What the graph's nodes read and update while answering one question."""

    request: Request
    program: Program | None
    rounds: Annotated[list[Program], operator.add]
    problems: list[str]
    all_problems: Annotated[list[str], operator.add]
    amendments: Annotated[list[str], operator.add]
    reused: bool
    reused_like: str | None  # the earlier question, worded otherwise, whose program was reused
    evidence: Annotated[dict[str, Evidence], _merge]
    timings: Annotated[dict[str, float], _merge]
    draft: Draft
    part_programs: list[Program]  # each part's program as planned, before the merge
    part_answers: list[PartAnswer]


class StepInput(TypedDict):
    """What a `Send` gives run_step: the round, the step, and the round's evidence so far by step id."""

    round: int
    step: Step
    evidence: dict[str, Evidence]


@dataclass(frozen=True)
class Context:
    """One run's clips and the agent's collaborators and limits; it holds no state of the run."""

    clips: Clips
    planner: Planner
    llm: LLM  # the answer stage's
    amend: bool  # whether code adds the steps a question plainly needs (`amend`)
    registry: Registry
    cache: ToolCache
    runner: ToolRunner
    plans: PlanBook | None
    max_rounds: int
    step_timeout: float


def current(state: State) -> dict[str, Evidence]:
    """This round's evidence by step id."""
    prefix = f"{len(state['rounds'])}:"
    return {k.split(":", 1)[1]: e for k, e in state.get("evidence", {}).items() if k.startswith(prefix)}


def final_evidence(state: State) -> list[Evidence]:
    """Every distinct successful step of every round, and the failures of the last round."""
    last = f"{len(state.get('rounds', []))}:"
    seen: set[str] = set()
    kept = []
    for key, e in state.get("evidence", {}).items():
        signature = f"{e.tool}:{sorted(e.args.items())}"
        if (e.error is None and signature not in seen) or (e.error is not None and key.startswith(last)):
            seen.add(signature)
            kept.append(e)
    return kept
