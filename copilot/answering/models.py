"""The answer stage's records: a draft answer, and the answer to a request with its evidence and its trace."""

from __future__ import annotations

from pydantic import BaseModel, Field

from copilot.evidence import Evidence
from copilot.program import Program


class Draft(BaseModel):
    """An answer before evidence and trace are attached."""

    text: str
    choice: int | None = None
    answered_by: str = "llm"
    measured: bool = Field(True, description="false when the evidence does not bear on the question (a part's answer)")
    notes: list[str] = Field(default_factory=list, description="caveats of the answer, e.g. measurements cut to fit")


class Trace(BaseModel):
    """How the answer was reached: the planner, each round's program and problems, and the timings."""

    planner: str
    rounds: list[Program] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    answered_by: str = ""
    notes: list[str] = Field(default_factory=list, description="caveats of the answer, e.g. measurements cut to fit")
    amendments: list[str] = Field(
        default_factory=list, description="steps code added to the planner's program, e.g. asr for a question about what is said"
    )
    reused_plan: bool = Field(False, description="the first round ran the program kept for an earlier question of this shape")
    reused_like: str | None = Field(
        None, description="when the reused program was written for a question worded otherwise: that question and how alike"
    )


class PartAnswer(BaseModel):
    """The answer to one part of a compound question, from the steps that served that part alone."""

    question: str
    text: str
    steps: list[str] = Field(default_factory=list, description="ids of the steps whose outputs this answer rests on")
    measured: bool = Field(True, description="false when no tool measured this part, and the text says so")
    answered_by: str = ""


class Answer(BaseModel):
    """The reply to a `Request`, with the evidence it rests on."""

    question: str
    text: str
    choice: str | None = Field(None, description="the chosen option, e.g. '(b) Female', for multiple choice")
    parts: list[PartAnswer] = Field(
        default_factory=list, description="a compound question's answers part by part; empty when it asks one thing"
    )
    evidence: list[Evidence] = Field(default_factory=list)
    program: Program | None = None
    trace: Trace
