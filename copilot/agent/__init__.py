"""The agent: plan, run the program's steps, answer. `Copilot.ask` is its entry; the rest is split by concern:
`graph` (the langgraph graph and its nodes), `state` (what the graph carries, and the run's context), `parts`
(compound questions, planned and answered part by part), `reuse` (programs kept for a question's shape), `amend`
(the steps code adds to a planner's program) and `compose` (the draft answer)."""

from __future__ import annotations

import time
from typing import cast

from copilot.agent.graph import build
from copilot.agent.reuse import remember
from copilot.agent.state import Context, State, final_evidence
from copilot.answering.models import Answer, Draft, Trace
from copilot.cache import ToolCache
from copilot.llm import LLM
from copilot.planners.base import Planner
from copilot.plans import PlanBook
from copilot.question.request import Request
from copilot.registry import Registry, default_registry
from copilot.tool import Clips
from copilot.tool_runner import ToolRunner


class Copilot:
    """Answers questions about clips with a planner, the LLM that answers, the tool registry and a tool-output cache.

    ``amend``: whether code adds the steps a question plainly needs to the planner's programs; a fixed cascade's
    program is its definition, so it runs as written (``amend=False``)."""

    def __init__(
        self,
        planner: Planner,
        llm: LLM,
        registry: Registry | None = None,
        cache: ToolCache | None = None,
        *,
        amend: bool = True,
        max_rounds: int = 3,
        step_timeout: float = 300.0,
        plans: PlanBook | None = None,
    ):
        self.planner = planner
        self.llm = llm
        self.amend = amend
        self.registry = registry or default_registry()
        self.cache = cache or ToolCache()
        self.max_rounds = max_rounds
        self.step_timeout = step_timeout
        self.plans = plans
        self._runner = ToolRunner(slots=4)
        self.graph = build()

    def ask(self, clips: Clips, question: str, options: list[str] | None = None) -> Answer:
        """Answer ``question`` about ``clips`` (named audio1, audio2); options make it multiple choice."""
        request = Request.from_text(question, {name: a.duration for name, a in clips.items()}, options)
        started = time.perf_counter()
        state = cast(State, self.graph.invoke(
            {"request": request, "problems": [], "evidence": {}, "timings": {}},
            {"recursion_limit": 200},
            context=self._context(clips),
        ))
        timings = {**state["timings"], "total": round(time.perf_counter() - started, 3)}
        draft: Draft = state["draft"]
        if self.plans is not None:
            remember(self.plans, request, state)
        evidence = final_evidence(state)
        choice = request.lettered[draft.choice] if draft.choice is not None else None
        trace = Trace(
            planner=self.planner.name,
            rounds=state["rounds"],
            problems=state["all_problems"],
            timings=timings,
            answered_by=draft.answered_by,
            notes=draft.notes,
            amendments=state.get("amendments", []),
            reused_plan=state.get("reused", False),
            reused_like=state.get("reused_like"),
        )
        return Answer(
            question=question, text=draft.text, choice=choice, evidence=evidence, parts=state.get("part_answers", []),
            program=state["rounds"][-1] if state["rounds"] else None, trace=trace,
        )

    def _context(self, clips: Clips) -> Context:
        """What one run of the graph works with: ``clips`` and this agent's collaborators and limits."""
        return Context(
            clips=clips, planner=self.planner, llm=self.llm, amend=self.amend, registry=self.registry, cache=self.cache, runner=self._runner,
            plans=self.plans, max_rounds=self.max_rounds, step_timeout=self.step_timeout,
        )
