"""What a benchmark is made of: items to ask, a system's prediction, and the scored result of one question."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field, model_validator

from copilot.program import Program

Kind = Literal["choice", "open", "classification", "transcript", "number", "compound", "longform"]
"""How an item is scored: option match, LLM judge, label match and macro-F1, WER/CER, absolute error, each of a
compound question's parts on its own (`Part`), or a question about a long recording by its `LongformTruth`."""

PartKind = Literal[
    "count", "sound", "sound_yes", "gender", "gender_first", "gender_second", "words", "duration", "loudness",
    "unmeasurable",
]


class PartSpec(NamedTuple):
    """What a part of one kind asks, the type of its truth, and the tools that can measure it."""

    truth: type
    tools: tuple[str, ...]
    about: str


PART_KINDS: dict[PartKind, PartSpec] = {
    "count": PartSpec(int, ("diarization",), "how many people speak"),
    "sound": PartSpec(list, ("sound_events",), "the background sound: any of the words names it"),
    "sound_yes": PartSpec(bool, ("sound_events",), "whether a named sound is in the clip: yes or no"),
    "gender": PartSpec(str, ("gender",), "male or female, of a clip's one talker"),
    "gender_first": PartSpec(str, ("gender",), "male or female, of the first to speak (gender with by_speaker)"),
    "gender_second": PartSpec(str, ("gender",), "male or female, of the second to speak (gender with by_speaker)"),
    "words": PartSpec(list, ("asr",), "what is said: any of the content words"),
    "duration": PartSpec(float, ("duration",), "seconds, right within 5% or 0.3 s"),
    "loudness": PartSpec(str, ("loudness",), "quiet (about -35 LUFS), moderate (-23) or loud (-12)"),
    "unmeasurable": PartSpec(type(None), (), "nothing a tool here measures: right when the answer says so"),
}
"""Every part kind: its truth's type, the tools that serve it, and what it asks."""

WORDINGS = [
    "{question}",
    "Listen to the recording carefully. {question}",
    "{question} Base your answer on what can be heard in the audio.",
]
"""Prompt variants for items whose benchmark publishes none: three wordings of the same question, in the spirit
of Talk Arena's three prompts per task (our own wordings; theirs are not reproduced). The first is the question as given."""


class Part(BaseModel):
    """One question of a compound question, asked on its own, with its truth."""

    kind: PartKind
    question: str
    truth: bool | int | float | str | list[str] | None

    @model_validator(mode="after")
    def _truth_fits(self) -> Part:
        if type(self.truth) is not PART_KINDS[self.kind].truth:
            raise ValueError(f"a {self.kind} part's truth is a {PART_KINDS[self.kind].truth.__name__}, not {self.truth!r}")
        return self


LongformAsk = Literal["factual", "time", "speaker", "absent", "summary"]
"""What a question about a long recording asks: a value stated once, when a topic starts, who proposed something or
talks the most, a value the recording never states, or the decisions taken over all of it."""


class LongformTruth(BaseModel):
    """The truth of a question about a long recording, known by construction. A key is a word or phrase with its
    alternatives after ``|`` ("42000|forty two thousand"), said in any inflection."""

    ask: LongformAsk
    keys: list[str] = Field(default_factory=list, description="factual and speaker: every key must be said; "
                            "summary: one key per decision, the share said is the score")
    others: list[str] = Field(default_factory=list, description="keys of the other candidate values (other sums, "
                              "streets, currencies, people): factual and speaker answers must not name them first")
    seconds: float | None = Field(None, description="time: when the topic starts; else when the fact is stated")

    @model_validator(mode="after")
    def _fits(self) -> LongformTruth:
        if self.ask in ("factual", "speaker", "summary") and not self.keys:
            raise ValueError(f"a {self.ask} question's truth needs keys")
        if (self.ask == "time") != (self.seconds is not None and not self.keys):
            raise ValueError("a time question's truth is seconds alone; another's has no time but where it is said")
        return self


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
    parts: list[Part] = Field(default_factory=list, description="a compound item's questions, in order, each scored on its own")
    truth: LongformTruth | None = Field(None, description="a longform item's truth")

    @model_validator(mode="after")
    def _compound_has_parts(self) -> Item:
        if (self.kind == "compound") != bool(self.parts) or len(self.parts) == 1:
            raise ValueError("a compound item has two parts or more, and an item of another kind none")
        if (self.kind == "longform") != (self.truth is not None):
            raise ValueError("a longform item has a truth, and an item of another kind none")
        return self

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
    parts: list[str] = Field(default_factory=list, description="the answer's text for each part of a compound question, "
                             "when the system answered part by part")
    program: Program | None = Field(None, description="the program the system planned, when it plans one")


class PartScore(BaseModel):
    """How one part of a compound item fared: planned with a serving tool, measured by one, answered right, and a
    claim stated without a measurement. A part of an item whose answer failed is none of these."""

    kind: PartKind
    planned: bool = False
    measured: bool = False
    right: bool = False
    claim: bool = False


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
    parts: list[str] = Field(default_factory=list, description="the prediction's text per part (`Prediction.parts`)")
    program: Program | None = None
    part_scores: list[PartScore] = Field(default_factory=list, description="a compound item's parts, how each fared")
    error: str | None = None


def result_key(item_id: str, variant: int) -> str:
    return f"{item_id}#v{variant}"
