"""The LLM judge: rates an open answer 0, 1 or 2 with the benchmark's own rubric (JASCO's prompt), using any
planner LLM (by default the embedded one), its reply held to a JSON schema."""

from __future__ import annotations

import json
import threading
from typing import Any, Literal, get_args

from pydantic import BaseModel, ValidationError

from copilot.benchmarks import prompts
from copilot.benchmarks.items import Item
from copilot.errors import CopilotError
from copilot.llm import LLM

Orientation = Literal["Audio-Oriented", "Speech-Oriented", "Both", "Neither"]
"""JASCO's Task 2: which modality the predicted action comes from."""
ORIENTATIONS = list(get_args(Orientation))
_TEXT = {"type": "string", "maxLength": 300}
JUDGE_SCORES = ("judge", "judge_rating", "orientation")
"""The score keys a `Verdict` writes into a result."""


class Verdict(BaseModel):
    """What the judge said about one answer."""

    rating: Literal[0, 1, 2]
    orientation: Orientation | None = None
    refused: bool

    def scores(self) -> dict[str, float | str]:
        """The result's judge scores. JASCO counts a rating only when the answer draws on both sound and speech
        (evaluation/eval.py of BenoitWang/What_Are_They_Doing scores 0 for any other orientation)."""
        if self.orientation is None:
            return {"judge": float(self.rating)}
        counted = self.rating if self.orientation == "Both" else 0
        return {"judge": float(counted), "judge_rating": float(self.rating), "orientation": self.orientation}


def _schema(fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": fields, "required": list(fields), "additionalProperties": False}


JASCO_SCHEMA = _schema({
    "explanation1": _TEXT, "rating": {"enum": [0, 1, 2]}, "explanation2": _TEXT,
    "orientation": {"enum": ORIENTATIONS}, "refused": {"type": "boolean"},
})
GENERIC_SCHEMA = _schema({"reason": _TEXT, "rating": {"enum": [0, 1, 2]}, "refused": {"type": "boolean"}})


class Judge:
    """Rates open answers with an LLM named by a `copilot.planners.load_llm` spec (loaded on first use) or given."""

    def __init__(self, llm: str | LLM = "embedded"):
        self._spec = llm if isinstance(llm, str) else None
        self._llm = None if isinstance(llm, str) else llm
        self._lock = threading.Lock()

    @property
    def llm(self) -> LLM:
        with self._lock:
            if self._llm is None:
                from copilot.planners import load_llm

                self._llm = load_llm(self._spec)
            return self._llm

    @property
    def name(self) -> str:
        return self.llm.name

    def rate(self, item: Item, question: str, prediction: str) -> Verdict:
        """The verdict on ``prediction`` to the wording ``question`` of ``item``, by the item's rubric."""
        if item.rubric == "jasco":
            m = item.metadata
            user = prompts.JASCO_JUDGE_ITEM.format(
                audio_sound=m["audio_sound"], spoken_text=m["spoken_text"], question=question,
                audio_only_target=m["audio_only_answer"], speech_only_target=m["speech_only_answer"],
                reference=item.reference, keywords=",".join(item.keywords), prediction=prediction,
            ) + prompts.JSON_REPLY
            system = f"{prompts.JASCO_JUDGE_SYSTEM}\n\n{prompts.JASCO_JUDGE_RUBRIC}"
            schema, max_tokens = JASCO_SCHEMA, 400
        else:
            user = prompts.GENERIC_JUDGE_PROMPT.format(question=question, reference=item.reference, prediction=prediction)
            system, schema, max_tokens = prompts.GENERIC_JUDGE_SYSTEM, GENERIC_SCHEMA, 200
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = self.llm.complete(messages, schema, max_tokens).text
        try:
            reply = json.loads(text)
            return Verdict(rating=reply.get("rating"), orientation=reply.get("orientation"), refused=reply.get("refused"))
        except (json.JSONDecodeError, AttributeError, ValidationError):
            raise CopilotError(f"the judge {self.name} replied with no valid verdict: {text[:200]!r}") from None
