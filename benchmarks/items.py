"""What a benchmark is made of: items to ask, a system's prediction, and the scored result of one question."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["choice", "open", "classification", "transcript", "number"]
"""How an item is scored: option match, LLM judge, label match and macro-F1, WER/CER, or absolute error."""

WORDINGS = [
    "{question}",
    "Listen to the recording carefully. {question}",
    "{question} Base your answer on what can be heard in the audio.",
]
"""Prompt variants for items whose benchmark publishes none: three wordings of the same question, in the spirit
of Talk Arena's three prompts per task (our own wordings; theirs are not reproduced). The first is the question as given."""


class Item(BaseModel):
    """One benchmark question about one or two clips, with its reference answer."""

    id: str
    audio: list[Path] = Field(min_length=1, max_length=2, description="the clips, asked about as audio1 (and audio2)")
    question: str = Field(description="the question as the dataset words it, without its options")
    options: list[str] = Field(default_factory=list, description="option texts of a multiple-choice item, lettered (a), (b), ...")
    reference: str = Field(description="the answer as text: the correct option, label, transcript or number")
    answer_index: int | None = Field(None, description="index of the correct option, when it is one of the options")
    kind: Kind
    choice_rule: Literal["letter", "mmau"] = Field(
        "letter", description="how a multiple-choice answer is matched: by option letter or text, or by MMAU's string match"
    )
    category: str = Field("all", description="report row; 'group/detail' also adds a row for the group")
    keywords: list[str] = Field(default_factory=list, description="reference keywords (JASCO)")
    rubric: Literal["jasco", "generic"] = Field("generic", description="the judge's rubric for an open item")
    variants: list[str] = Field(default_factory=list, description="the benchmark's own wordings of the question, if any")
    perception: dict[str, str] = Field(
        default_factory=dict, description="the dataset's own account of the audio, as facts per tool (for `oracle`)"
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="everything else the dataset says about the item")

    def wordings(self) -> list[str]:
        """The prompt variants to ask, the default first: the benchmark's own, or `WORDINGS` around the question."""
        return self.variants or [w.format(question=self.question) for w in WORDINGS]


class Prediction(BaseModel):
    """What a system under test answered to one wording of an item."""

    text: str
    choice: int | None = Field(None, description="the option the system committed to, when it chooses structurally")
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    reused_plan: bool = Field(False, description="the copilot ran a program kept for an earlier question of this shape")


class Result(BaseModel):
    """One line of a results file: an item asked in one wording, the prediction, its scores, or the error."""

    key: str = Field(description="unique per line of work: item id and variant")
    id: str
    variant: int = 0
    benchmark: str
    system: str
    category: str
    kind: Kind
    question: str = Field(description="the wording that was asked")
    reference: str
    prediction: str = ""
    choice: str | None = Field(None, description="the option chosen, e.g. '(b) Female'")
    score: dict[str, float | str] = Field(default_factory=dict)
    judge: str | None = Field(None, description="the LLM that judged the prediction, if one did")
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    reused_plan: bool = False
    error: str | None = None


def result_key(item_id: str, variant: int) -> str:
    return f"{item_id}#v{variant}"
