"""A learned head as a tool: no code to write, its description made from its label set and measured figures."""

from __future__ import annotations

import sys

import numpy as np
from pydantic import BaseModel, Field

from copilot.errors import ModelError
from copilot.heads.features import encoder_for
from copilot.heads.head import Head
from copilot.heads.store import HeadFile, installed, trained
from copilot.tool import Attribute, Clips, Findings, SpanInput, Tool, ToolOutput


class LabelScore(BaseModel):
    label: str
    probability: float = Field(description="0 to 1")


class HeadOutput(ToolOutput):
    attribute_name: str = Field(description="the property the labels are values of")
    label: str = Field(description="the likeliest label")
    confidence: float = Field(description="the likeliest label's probability")
    scores: list[LabelScore] = Field(description="every label the head knows, likeliest first")
    head: str = Field(description="the head that answered: name and the start of its sha256")

    def findings(self) -> Findings:
        rest = ", ".join(f"{s.label} ({s.probability:.2f})" for s in self.scores[1:4])
        return Findings(
            facts=f"{self.attribute_name.capitalize()}: {self.label} (p={self.confidence:.2f}); then {rest} "
            f"[learned head {self.head}]",
            labels=[s.label for s in self.scores],  # the whole ranking: the best-scored option is the head's pick
            attribute=Attribute(name=self.attribute_name, values=[s.label for s in self.scores]),
        )


def classify(head: Head, features: np.ndarray) -> list[LabelScore]:
    """The head's labels with their probabilities for one feature vector, likeliest first."""
    probs = head.probabilities(features)
    order = np.argsort(-probs, kind="stable")
    return [LabelScore(label=head.meta.labels[i], probability=round(float(probs[i]), 3)) for i in order]


def describe(head: Head) -> str:
    """The planner's description of a head's tool, from its label set, training data and figures."""
    m, f = head.meta, head.meta.figures
    unseen = f"on {f.groups} groups (speakers) it was not trained on" if f.groups else "on held-out clips"
    return (
        f"Classify the {m.attribute} of the audio as one of: {', '.join(m.labels)} (a head learned from labelled clips).\n\n"
        f"A classifier trained by `copilot learn` on {m.clips} clips of {m.data}, over {m.feature_spec}. "
        f"Cross-validated {unseen}: unweighted average recall {f.unweighted_average_recall:.0%} "
        f"(chance {1 / len(m.labels):.0%}), accuracy {f.accuracy:.0%}. It knows only these labels and has "
        f"never heard audio unlike its training clips, so treat its answer as a measurement of that quality "
        f"only; use start/end to judge one speaker's turn.{' ' + m.notes if m.notes else ''}"
    )


def head_tool(ref: HeadFile) -> Tool:
    """The tool that runs the head in ``ref`` on a clip or a range of it."""
    head = ref.load()
    enc = encoder_for(head)

    def run(args: SpanInput, clips: Clips) -> HeadOutput:
        scores = classify(head, enc.extract(args.clip(clips)))
        return HeadOutput(
            attribute_name=head.meta.attribute, label=scores[0].label, confidence=scores[0].probability, scores=scores,
            head=f"{ref.name} {ref.sha256[:12]}",
        )  # fmt: skip

    return Tool(ref.name, describe(head), ref.sha256[:12], SpanInput, HeadOutput, run, (head.meta.attribute,))


def head_tools() -> list[Tool]:
    """A tool for every trained and installed head; a head that cannot be loaded is reported and skipped."""
    tools = []
    for ref in [*trained(), *installed()]:
        try:
            tools.append(head_tool(ref))
        except (ModelError, ValueError) as exc:
            print(f"warning: skipping head {ref.name!r}: {exc}", file=sys.stderr)
    return tools
