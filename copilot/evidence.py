"""What one step of a program measured, as the answer stage reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from copilot.tool import Findings


class Evidence(BaseModel):
    """What one step of the program did: its output (or error), its findings, and its cost."""

    model_config = ConfigDict(extra="forbid")  # a finding given as a field of its own (labels=...) is an error, not lost
    step: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] | None = None
    findings: Findings = Field(
        default_factory=Findings, description="what the output tells the answer step; in JSON, its facts and labels"
    )
    error: str | None = None
    final: bool = Field(False, exclude=True, description="the error is a finding about the audio (no speech to measure)")
    cached: bool = False
    seconds: float = 0.0

    @field_serializer("findings")
    def _readable(self, findings: Findings) -> dict[str, Any]:
        """The facts and labels, what a person reads; the rest serves the answer step alone (a sound tagger's
        vocabulary is hundreds of names)."""
        return findings.model_dump(include={"facts", "labels"})
