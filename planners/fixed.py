"""Fixed cascades: the same tools for every question, then the LLM answers (the baselines papers compare against)."""

from __future__ import annotations

from copilot.answer import Evidence, Request
from copilot.inspect import single_clip_tools
from copilot.planners.base import LLM, Draft
from copilot.planners.llm import choose
from copilot.program import Program, Step
from copilot.registry import Registry

CASCADES = {
    "asr": ["asr"],
    "asr+tags": ["asr", "sound_events"],
}


class FixedPlanner:
    """Runs a given list of tools on the first clip (``all``: every single-clip tool) and answers with an LLM; nothing
    is added to that list, so a cascade measures what its name says."""

    amended = False

    def __init__(self, tools: list[str], llm: LLM):
        self.tools = tools
        self.llm = llm
        self.name = f"fixed:{','.join(tools)}"

    def plan(self, request: Request, registry: Registry, feedback: list[str], part: bool = False) -> Program:
        names = single_clip_tools(registry) if self.tools == ["all"] else self.tools
        return Program(steps=[Step(id=f"s{i}", tool=name) for i, name in enumerate(names, 1)])

    def answer(self, request: Request, evidence: list[Evidence], part: bool = False) -> Draft:
        return choose(request, evidence, self.llm, part)
