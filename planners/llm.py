"""The LLM planner: an LLM writes the program."""

from __future__ import annotations

from copilot.llm import LLM
from copilot.planners import prompts
from copilot.program import Program, ProgramError, parse
from copilot.question.request import Request
from copilot.registry import Registry


class LLMPlanner:
    """Plans with an LLM held to the registry's program schema."""

    def __init__(self, llm: LLM):
        self.llm = llm
        self.name = f"llm:{llm.name}"

    def plan(self, request: Request, registry: Registry, feedback: list[str], part: bool = False) -> Program:
        messages = [
            {"role": "system", "content": prompts.plan_system(registry)},
            {"role": "user", "content": prompts.plan_user(request, feedback, part)},
        ]
        schema = prompts.program_schema(registry, len(request.clips), min_steps=0 if part else 1)
        reply = self.llm.complete(messages, schema, max_tokens=256)
        try:
            return parse(reply.text)
        except ProgramError as exc:
            raise ProgramError([f"the planner's reply is not a valid program ({p})" for p in exc.problems]) from None
