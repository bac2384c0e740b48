"""The agent's graph: plan, run the program's steps, answer, as a langgraph `StateGraph` of plain functions.

    plan ──(valid program)──> schedule ──Send──> run_step (independent steps in parallel)
      ^                          │  <───────────────┘
      └──(invalid, or a step failed, and rounds left)── review ──> answer ──> END

A failed step or an invalid program goes back to the planner with the problems, for at most
``max_rounds`` rounds; after that the agent answers from what it has and says what failed. A step that
found nothing to measure (`NothingToMeasure`: no speech in the range) is a finding, not a problem to repair.
A step fails alone, whatever its tool raised (its traceback goes to the log) and however long the tool hangs (its
time limit counts from when it starts, and a tool past it is abandoned and frees its slot for the next step).

Every node and router gets the run's `Context` (the clips, the planner, the registry, the cache, the tool runner and
the limits) from langgraph's `Runtime`, by reference; the state and the `Send` payloads carry no audio.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from copilot.agent import long_steps
from copilot.agent.amend import amend
from copilot.agent.compose import compose
from copilot.agent.parts import answer_parts, parts_asked, plan_parts
from copilot.agent.reuse import reused
from copilot.agent.state import Context, State, StepInput, current, final_evidence
from copilot.answering.models import Draft
from copilot.errors import CopilotError, NothingToMeasure
from copilot.evidence import Evidence
from copilot.program import Program, ProgramError, Step, dependencies, resolve, validate
from copilot.tool_runner import StepTimeout

log = logging.getLogger("copilot.agent")


def build() -> CompiledStateGraph[State, Context, State, State]:
    """The compiled graph; each run is given its `Context` (``invoke(..., context=...)``)."""
    graph = StateGraph(State, context_schema=Context)
    graph.add_node("plan", _plan)
    graph.add_node("schedule", lambda state: {})
    graph.add_node("run_step", _run_step)
    graph.add_node("review", _review)
    graph.add_node("answer", _answer)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", _after_plan, ["schedule", "plan", "answer"])
    graph.add_conditional_edges("schedule", _ready_steps, ["run_step", "review"])
    graph.add_edge("run_step", "schedule")
    graph.add_conditional_edges("review", _after_review, ["plan", "answer"])
    graph.add_edge("answer", END)
    return graph.compile()


def _plan(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    started = time.perf_counter()
    round_ = len(state.get("rounds", [])) + 1
    kept = reused(state["request"], ctx) if round_ == 1 else None
    if kept is not None:
        like = None if kept.like is None else f"{kept.like!r} (similarity {kept.similarity:.2f})"
        # written for another wording: add what this one's words plainly need
        program, amended = (kept.program, []) if like is None else amend(kept.program, state["request"], round_, ctx)
        return {
            "program": program, "problems": [], "rounds": [program], "reused": True, "reused_like": like,
            "amendments": amended, "timings": {f"plan.{round_}": round(time.perf_counter() - started, 3)},
        }
    request = state["request"]
    asked = parts_asked(request)
    update: dict[str, Any] = {}
    try:
        if len(asked) > 1:
            program, amended, update["part_programs"], update["all_problems"] = plan_parts(state, asked, round_, ctx)
        else:
            program = ctx.planner.plan(state["request"], ctx.registry, state.get("problems", []))
            program, amended = amend(program, state["request"], round_, ctx)
        if program.steps or not program.parts:  # a compound question whose every part no tool measures has none
            validate(program, ctx.registry, list(ctx.clips))
        update.update({"program": program, "problems": [], "rounds": [program], "amendments": amended})
    except (ProgramError, CopilotError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, ProgramError) else [str(exc)]
        update.update({"program": None, "problems": problems, "rounds": [Program()]})
        update["all_problems"] = update.get("all_problems", []) + problems
    update["timings"] = {f"plan.{round_}": round(time.perf_counter() - started, 3)}
    return update


def _after_plan(state: State, runtime: Runtime[Context]) -> str:
    if state.get("program") is not None:
        return "schedule"
    return "plan" if len(state["rounds"]) < runtime.context.max_rounds else "answer"


def _ready_steps(state: State) -> list[Send] | str:
    done = current(state)
    ready = []
    for step in state["rounds"][-1].steps:  # this round's program; a failed plan is never scheduled
        if step.id in done:
            continue
        deps = dependencies(step)
        if all(d in done and done[d].error is None for d in deps):
            payload: StepInput = {"round": len(state["rounds"]), "step": step, "evidence": done}
            ready.append(Send("run_step", payload))
    return ready or "review"


def _run_step(state: StepInput, runtime: Runtime[Context]) -> dict[str, Any]:
    """One step's evidence: what its tool measured, or its error, whatever the tool raised."""
    ctx = runtime.context
    step = state["step"]
    started = time.perf_counter()
    evidence = Evidence(step=step.id, tool=step.tool)
    try:
        _measure(step, state, evidence, ctx)
    except StepTimeout as exc:
        evidence.error = f"{step.tool} {exc} and was abandoned"
    except CopilotError as exc:
        evidence.error, evidence.final = str(exc), isinstance(exc, NothingToMeasure)
    except Exception as exc:  # a tool's own failure is its step's error: the other steps still answer
        log.exception("step %r (%s) failed", step.id, step.tool)
        evidence.error = internal_error(step.tool, exc)
    evidence.seconds = round(time.perf_counter() - started, 3)
    return {"evidence": {f"{state['round']}:{step.id}": evidence}, "timings": {f"step.{step.id}.{step.tool}": evidence.seconds}}


def _measure(step: Step, state: StepInput, evidence: Evidence, ctx: Context) -> None:
    """Fill ``evidence`` with the step's output: from the cache, else from running its tool in a slot of the
    runner, where its time limit counts from when it starts; a step over a long recording runs alone (`long_steps`)."""
    tool, clips = ctx.registry.get(step.tool), ctx.clips
    outputs = {sid: e.output or {} for sid, e in state["evidence"].items()}
    args = tool.parse(resolve(step, outputs))
    evidence.args = args.model_dump(mode="json", exclude_none=True)
    result = long_steps.kept(tool, args, clips, ctx.cache)
    evidence.cached = result is not None
    if result is None:
        alone, limit = long_steps.alone(args, clips), long_steps.time_limit(args, clips, ctx.step_timeout)
        try:
            result = ctx.runner.run(lambda: tool(args, clips), limit, alone=alone)
        finally:
            if alone:
                long_steps.give_back()
        ctx.cache.keep(ctx.cache.key(tool, args, clips), tool.name, result)
    evidence.output = result.model_dump(mode="json")
    evidence.findings = result.findings()


def internal_error(tool: str, exc: Exception) -> str:
    """A tool's unexpected failure in one line, for the answer and the planner: the tool and the first line of what it
    said, never its traceback (that goes to the log)."""
    said = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"internal error in {tool}: {said}" if said else f"internal error in {tool} (details in the log)"


def _review(state: State) -> dict[str, Any]:
    done = current(state)
    failed = [e for e in done.values() if e.error]
    problems = [f"step {e.step!r} ({e.tool}) failed: {e.error}" for e in failed]
    blocked = [s.id for s in state["rounds"][-1].steps if s.id not in done]
    problems += [f"step {sid!r} did not run because a step it needs failed" for sid in blocked]
    # no other program finds speech where a tool found none: only other failures are worth another round
    fixable = any(not e.final for e in failed)
    return {"problems": problems if fixable else [], "all_problems": problems}


def _after_review(state: State, runtime: Runtime[Context]) -> str:
    return "plan" if state["problems"] and len(state["rounds"]) < runtime.context.max_rounds else "answer"


def _answer(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    started = time.perf_counter()
    program = state["rounds"][-1] if state.get("rounds") else None
    if program is None or not program.parts:
        draft = compose(state["request"], final_evidence(state), ctx)
        return {"draft": draft, "timings": {"answer": round(time.perf_counter() - started, 3)}}
    answers, notes = answer_parts(state["request"], program, current(state), ctx)
    draft = Draft(text=" ".join(a.text for a in answers), answered_by="part by part", notes=notes)
    return {"draft": draft, "part_answers": answers, "timings": {"answer": round(time.perf_counter() - started, 3)}}
