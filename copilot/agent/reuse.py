"""Plan reuse. With a `PlanBook`, a question of a shape seen before runs the program kept for that shape, with no LLM
call to plan it (a question worded like several seen before borrows theirs, with the steps its own words plainly
need added), and a program that ran without a failure is kept for its shape; a kept program that fails is
forgotten, and the next round is planned by the LLM.
"""

from __future__ import annotations

from dataclasses import replace

from copilot.agent.parts import parts_asked
from copilot.agent.state import Context, State, current
from copilot.plans import Kept, PlanBook
from copilot.program import ProgramError, validate
from copilot.question.request import Request


def reused(request: Request, ctx: Context) -> Kept | None:
    """The program kept for the question's shape or borrowed from questions worded like it, when there is one
    and it is valid for these clips."""
    kept = ctx.plans.find(request) if ctx.plans is not None else None
    if kept is None or (kept.like is not None and len(parts_asked(request)) > 1):
        return None  # a compound question's parts are its own: it is planned part by part
    try:
        return replace(kept, program=validate(kept.program, ctx.registry, list(ctx.clips)))
    except ProgramError:
        return None


def remember(plans: PlanBook, request: Request, state: State) -> None:
    """Keep the last round's program for the question's shape when every step of it ran (or found nothing to
    measure); forget the kept program when it was reused and the question ended without a program that ran."""
    if not state["rounds"]:
        return
    program, done = state["rounds"][-1], current(state)
    ran = bool(program.steps) and all(s.id in done and (done[s.id].error is None or done[s.id].final) for s in program.steps)
    was_reused = state.get("reused", False)
    if ran and not (was_reused and len(state["rounds"]) == 1):
        plans.keep(request, program)
    elif was_reused and not ran:
        plans.forget(request)
