"""Composing the agent's draft answer, for a whole question or for one part of a compound question."""

from __future__ import annotations

from copilot.agent.state import Context
from copilot.answer import Evidence, Request
from copilot.errors import CopilotError
from copilot.planners.base import Draft


def compose(request: Request, evidence: list[Evidence], ctx: Context, part: bool = False) -> Draft:
    """The planner's answer from ``evidence``, or the measurements themselves when none could be composed."""
    try:
        return ctx.planner.answer(request, evidence, part)
    except (CopilotError, ValueError, KeyError) as exc:
        facts = "; ".join(e.facts for e in evidence if e.facts) or "nothing"
        return Draft(text=f"No answer could be composed ({exc}). The tools measured: {facts}", answered_by="fallback")
