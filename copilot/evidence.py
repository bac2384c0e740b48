"""What one step of a program measured, as the answer stage reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from copilot.tool import Attribute, Quantity


class Evidence(BaseModel):
    """What one step of the program did: its output (or error), a readable summary, and its cost."""

    step: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] | None = None
    facts: str = ""
    labels: list[str] = Field(default_factory=list)
    attribute: Attribute | None = Field(None, exclude=True, description="the closed set the labels come from")
    quantities: list[Quantity] = Field(default_factory=list, exclude=True, description="the numbers it measured")
    named_values: dict[str, str] = Field(default_factory=dict, exclude=True, description="what it names outright")
    vocabulary: list[str] = Field(default_factory=list, exclude=True, description="every label the tool could give")
    by_speaker: list[list[str]] = Field(
        default_factory=list, exclude=True, description="each speaker's labels, in order of first speech"
    )
    error: str | None = None
    final: bool = Field(False, exclude=True, description="the error is a finding about the audio (no speech to measure)")
    cached: bool = False
    seconds: float = 0.0
