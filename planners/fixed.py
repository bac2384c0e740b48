"""Fixed cascades: the same tools for every question, then the LLM answers (the baselines papers compare against)."""

from __future__ import annotations

from copilot.inspection import single_clip_tools
from copilot.program import Program, Step
from copilot.question.request import Request
from copilot.registry import Registry

CASCADES = {
    "asr": ["asr"],
    "asr+tags": ["asr", "sound_events"],
}


class FixedPlanner:
    """Runs a given list of tools on the first clip (``all``: every single-clip tool). The agent that runs it adds no
    step to that list (`Copilot` with ``amend=False``), so a cascade measures what its name says."""

    def __init__(self, tools: list[str]):
        self.tools = tools
        self.name = f"fixed:{','.join(tools)}"

    def plan(self, request: Request, registry: Registry, feedback: list[str], part: bool = False) -> Program:
        names = single_clip_tools(registry) if self.tools == ["all"] else self.tools
        return Program(steps=[Step(id=f"s{i}", tool=name) for i, name in enumerate(names, 1)])
