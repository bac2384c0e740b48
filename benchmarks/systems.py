"""Systems under test: this copilot with any planner, the fixed cascades of Speech-Copilot's table, and an
end-to-end audio LLM behind an OpenAI-compatible chat API, all answering `Item`s through one interface.

    copilot                 the copilot with ``planner`` (default: the embedded LLM planner)
    cascade:asr             ASR + LLM           (fixed:asr, answered by ``llm``)
    cascade:asr+tags        ASR + tags + LLM    (fixed:asr+tags)
    cascade:all             all tools + LLM     (fixed:all)
    openai-audio[:MODEL]    an audio LLM sent ``input_audio`` parts: GPT-4o audio, or Qwen2-Audio and other audio
                            models served by vLLM (``--base-url`` or OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL)
    oracle                  the copilot's answer step given the dataset's own account of the audio (JASCO's spoken
                            text and sound) in place of the tools' measurements: how far ``llm`` gets with perfect tools
"""

from __future__ import annotations

import base64
import io
import os
import string
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from copilot.benchmarks.items import Item, Prediction
from copilot.benchmarks.prompts import audio_llm_prompt
from copilot.errors import CopilotError
from copilot.llm import LLM

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionContentPartParam

CASCADES = {"cascade:asr": "fixed:asr", "cascade:asr+tags": "fixed:asr+tags", "cascade:all": "fixed:all"}


class System(Protocol):
    """Something that answers benchmark items; ``name`` labels its results."""

    name: str

    def answer(self, item: Item, question: str) -> Prediction:
        """The answer to ``item`` asked in the wording ``question``."""
        ...


class CopilotSystem:
    """The copilot agent: plans tool calls, runs them and answers, its evidence and timings kept."""

    def __init__(self, planner: str = "embedded", llm: str = "embedded", name: str | None = None,
                 cache: Path | None = None, reuse_plans: bool = False):
        from copilot.agent import Copilot
        from copilot.cache import ToolCache
        from copilot.planners import load_planner
        from copilot.plans import PlanBook
        from copilot.registry import default_registry

        loaded, registry = load_planner(planner, llm), default_registry()
        plans = PlanBook(loaded.planner.name, registry, cache) if reuse_plans else None
        self.agent = Copilot(loaded.planner, loaded.llm, registry, ToolCache(cache), amend=loaded.amend, plans=plans)
        self.name = name or (f"copilot[{planner}, {llm}]" if planner.startswith("fixed") else f"copilot[{planner}]")

    def answer(self, item: Item, question: str) -> Prediction:
        from copilot.audio import load

        clips = {f"audio{i}": load(path) for i, path in enumerate(item.audio, 1)}
        reply = self.agent.ask(clips, question, item.options or None)
        choice = string.ascii_lowercase.index(reply.choice[1]) if reply.choice else None
        evidence = [{"tool": e.tool, "args": e.args, "facts": e.findings.facts, "error": e.error, "cached": e.cached}
                    for e in reply.evidence]
        evidence += [{"problem": problem} for problem in reply.trace.problems]  # why a round was planned again
        return Prediction(text=reply.text, choice=choice, evidence=evidence, timings=reply.trace.timings,
                          reused_plan=reply.trace.reused_plan, parts=[part.text for part in reply.parts],
                          program=reply.program)


class OpenAIAudioSystem:
    """An end-to-end audio LLM: each clip goes as a base64 16 kHz mono wav ``input_audio`` part, then the question
    (with its options listed) as text; the reply is the prediction, its option read by the scorers."""

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 300, max_tokens: int = 512):
        import openai

        self.model = model or os.environ.get("OPENAI_MODEL") or "gpt-4o-audio-preview"
        self.name = f"openai-audio:{self.model}"
        self.max_tokens = max_tokens
        self._client = openai.OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout, max_retries=2,
        )

    def answer(self, item: Item, question: str) -> Prediction:
        import openai

        content: list[ChatCompletionContentPartParam] = [
            {"type": "input_audio", "input_audio": {"data": wav_base64(path), "format": "wav"}} for path in item.audio
        ]
        content.append({"type": "text", "text": audio_llm_prompt(question, item.options)})
        started = time.perf_counter()
        try:
            reply = self._client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": content}],
                max_tokens=self.max_tokens, temperature=0,
            )
        except openai.OpenAIError as exc:
            raise CopilotError(f"the audio LLM endpoint failed: {exc}") from None
        text = (reply.choices[0].message.content or "").strip()
        return Prediction(text=text, timings={"total": round(time.perf_counter() - started, 3)})


class OracleSystem:
    """The answer step with perfect perception: the item's reference facts stand in for the tools' measurements, so
    its score is what the answering LLM reaches when every tool is right."""

    def __init__(self, llm: str | LLM = "embedded", name: str | None = None):
        from copilot.planners import load_llm

        self.llm = load_llm(llm) if isinstance(llm, str) else llm
        self.name = name or f"oracle[{llm if isinstance(llm, str) else llm.name}]"

    def answer(self, item: Item, question: str) -> Prediction:
        from copilot import answering
        from copilot.evidence import Evidence
        from copilot.question.request import Request
        from copilot.tool import Findings

        if not item.perception:
            raise CopilotError(f"item {item.id} has no reference account of its audio to answer from (oracle needs "
                               "one: JASCO items have it)")
        facts = list(item.perception.items())
        evidence = [Evidence(step=f"s{i}", tool=tool, findings=Findings(facts=text)) for i, (tool, text) in enumerate(facts, 1)]
        clips = {f"audio{i}": 0.0 for i in range(1, len(item.audio) + 1)}
        started = time.perf_counter()
        draft = answering.answer(Request(question=question, options=item.options, clips=clips), evidence, self.llm)
        return Prediction(text=draft.text, choice=draft.choice, evidence=[{"tool": t, "facts": f} for t, f in facts],
                          timings={"total": round(time.perf_counter() - started, 3)})


def wav_base64(path: Path) -> str:
    """The clip at ``path`` decoded to 16 kHz mono and encoded as a 16-bit PCM wav, in base64."""
    import soundfile as sf

    from copilot.audio import SAMPLE_RATE, load

    buffer = io.BytesIO()
    sf.write(buffer, load(path).samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_system(spec: str, planner: str = "embedded", llm: str = "embedded", base_url: str | None = None,
                name: str | None = None, reuse_plans: bool = True) -> System:
    """The system named by ``spec`` (see the module docstring); ``name`` overrides the label its results carry, and
    ``reuse_plans`` lets the copilot run a program kept for a question of the same shape (`copilot.plans`)."""
    kind, _, model = spec.partition(":")
    if spec == "copilot":
        return CopilotSystem(planner, llm, name, reuse_plans=reuse_plans and not planner.startswith("fixed"))
    if spec in CASCADES:
        return CopilotSystem(CASCADES[spec], llm, name or f"{spec}[{llm}]")
    if kind == "openai-audio":
        system = OpenAIAudioSystem(model or None, base_url)
        system.name = name or system.name
        return system
    if spec == "oracle":
        return OracleSystem(llm, name)
    raise CopilotError(f"unknown system {spec!r}: use copilot, {', '.join(CASCADES)}, openai-audio[:MODEL] or oracle")
