"""An LLM behind any OpenAI-compatible chat API: OpenAI itself, vLLM, Ollama, a llama.cpp server."""

from __future__ import annotations

import json
import os
import re
import time
from typing import TYPE_CHECKING, Any, cast

from copilot.errors import ContextOverflow, CopilotError
from copilot.llm import Completion

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
    from openai.types.chat.completion_create_params import ResponseFormat


class OpenAICompatibleLLM:
    """Chat completions with structured output (JSON schema), falling back to JSON mode where unsupported.

    The base URL, model and key come from the arguments or from ``OPENAI_BASE_URL``,
    ``OPENAI_MODEL`` and ``OPENAI_API_KEY``.
    """

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None, timeout: float = 120):
        import openai

        self.model = model or os.environ.get("OPENAI_MODEL") or "gpt-4o-mini"
        self.name = self.model
        self._client = openai.OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout,
            max_retries=1,
        )
        self._json_schema = True

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
        import openai

        started = time.perf_counter()
        try:
            try:
                reply = self._create(messages, schema, max_tokens)
            except openai.BadRequestError as exc:
                if not self._json_schema or _overflow(exc):
                    raise
                self._json_schema = False  # the server has no structured output: ask for JSON mode instead
                reply = self._create(messages, schema, max_tokens)
        except openai.BadRequestError as exc:
            raise _overflow(exc) or CopilotError(f"the LLM endpoint refused the request: {exc}") from None
        except openai.OpenAIError as exc:
            raise CopilotError(f"the LLM endpoint failed: {exc}") from None
        usage = reply.usage
        return Completion(
            text=reply.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=time.perf_counter() - started,
        )

    def _create(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> ChatCompletion:
        if self._json_schema:
            fmt: ResponseFormat = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        else:
            fmt = {"type": "json_object"}
            hint = f"\nReply with one JSON object that follows this JSON schema:\n{json.dumps(schema)}"
            messages = [{**messages[0], "content": messages[0]["content"] + hint}, *messages[1:]]
        return self._client.chat.completions.create(
            model=self.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            max_tokens=max_tokens,
            temperature=0,
            response_format=fmt,
        )


# How OpenAI, vLLM and llama.cpp's server say a prompt is over the context, and the counts they give
_OVERFLOW = re.compile(r"context_length_exceeded|maximum context length|context (?:size|length|window)", re.I)
_CONTEXT_TOKENS = re.compile(r"(?:maximum context length is|context size \(?) ?(\d+)", re.I)
_PROMPT_TOKENS = re.compile(r"(?:resulted in|requested|request \() ?(\d+) tokens", re.I)


def _overflow(exc: Exception) -> ContextOverflow | None:
    """The endpoint's refusal as a `ContextOverflow`, if it is one."""
    text = f"{getattr(exc, 'code', '')} {exc}"
    if not _OVERFLOW.search(text):
        return None
    context, prompt = _CONTEXT_TOKENS.search(text), _PROMPT_TOKENS.search(text)
    return ContextOverflow(
        f"the prompt is longer than the LLM's context: {exc}",
        int(prompt.group(1)) if prompt else None,
        int(context.group(1)) if context else None,
    )

