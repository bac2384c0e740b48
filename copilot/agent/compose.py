"""Composing the agent's draft answer, for a whole question or for one part of a compound question."""

from __future__ import annotations

from copilot.agent.state import Context
from copilot.answering import answer
from copilot.answering.models import Draft
from copilot.errors import CopilotError
from copilot.evidence import Evidence
from copilot.question.request import Request


def compose(request: Request, evidence: list[Evidence], ctx: Context, part: bool = False) -> Draft:
    """The answer stage's answer from ``evidence``, or the measurements themselves when none could be composed."""
    try:
        return answer(request, evidence, ctx.llm, part)
    except (CopilotError, ValueError, KeyError) as exc:
        facts = "; ".join(e.findings.facts for e in evidence if e.findings.facts) or "nothing"
        return Draft(text=f"No answer could be composed ({exc}). The tools measured: {facts}", answered_by="fallback")
