"""The chat LLM interface that planning and answering share; its implementations are in `copilot.planners`
(llama.cpp in-process, any OpenAI-compatible endpoint)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel


class Completion(BaseModel):
    """One LLM reply with what it cost."""

    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class LLM(Protocol):
    """A chat model that can be held to a JSON schema."""

    name: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
        """The model's reply to ``messages``, as JSON text that validates against ``schema``."""
        ...
