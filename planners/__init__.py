"""Planners: turn a question into a program of tool calls.

`load_planner` builds one from a short spec, as the CLI's ``--planner`` takes it, with the LLM that answers:

- ``embedded`` / ``embedded:MODEL``: llama.cpp in-process; MODEL is a model-store name or a .gguf path
- ``openai`` / ``openai:MODEL``: any OpenAI-compatible endpoint (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``)
- ``fixed:TOOL,TOOL`` / ``fixed:asr+tags`` / ``fixed:all``: the same tools for every question, then the LLM answers
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from copilot.errors import CopilotError
from copilot.llm import LLM
from copilot.planners.base import Planner


@cache
def load_llm(spec: str = "embedded") -> LLM:
    """The chat LLM named by ``spec`` (``embedded[:MODEL]`` or ``openai[:MODEL]``), loaded once per process."""
    kind, _, model = spec.partition(":")
    if kind == "embedded":
        from copilot.planners.embedded import DEFAULT_MODEL, EmbeddedLLM

        return EmbeddedLLM(model or DEFAULT_MODEL)
    if kind == "openai":
        from copilot.planners.openai_compatible import OpenAICompatibleLLM

        return OpenAICompatibleLLM(model or None)
    raise CopilotError(f"unknown LLM {spec!r}: use embedded[:MODEL] or openai[:MODEL]")


@dataclass(frozen=True)
class LoadedPlanner:
    """A planner with what the agent runs it with: ``Copilot(p.planner, p.llm, registry, amend=p.amend)``."""

    planner: Planner
    llm: LLM
    """The LLM that answers: an LLM planner's own, a fixed cascade's given one."""
    amend: bool
    """Whether the agent adds the steps a question plainly needs to the planner's programs; a fixed cascade's
    program is its definition, so it runs as written."""


def load_planner(spec: str = "embedded", llm: str = "embedded") -> LoadedPlanner:
    """The planner named by ``spec``; ``llm`` is the answering LLM of a fixed cascade."""
    kind, _, rest = spec.partition(":")
    if kind in {"embedded", "openai"}:
        from copilot.planners.llm import LLMPlanner

        chat = load_llm(spec)
        return LoadedPlanner(LLMPlanner(chat), chat, amend=True)
    if kind == "fixed":
        from copilot.planners.fixed import CASCADES, FixedPlanner

        if not rest:
            raise CopilotError(f"fixed needs tools, e.g. fixed:asr, fixed:asr+tags or fixed:all ({', '.join(CASCADES)})")
        return LoadedPlanner(FixedPlanner(CASCADES.get(rest) or rest.split(",")), load_llm(llm), amend=False)
    raise CopilotError(f"unknown planner {spec!r}: use embedded, openai or fixed:TOOLS")
