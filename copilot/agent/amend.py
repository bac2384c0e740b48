"""The steps code adds to a planner's program. A question about what is said always gets an asr step: code adds one
to a program without it, and the trace says so."""

from __future__ import annotations

from typing import Any

from copilot.agent.state import Context
from copilot.program import Program, Step
from copilot.question.parts import asks_per_speaker
from copilot.question.reading import asks_about_content, asks_what_is_said
from copilot.question.request import Request
from copilot.registry import Registry
from copilot.words import says, stems


def amend(program: Program, request: Request, round_: int, ctx: Context, part: int | None = None) -> tuple[Program, list[str]]:
    """``program`` with the steps the question plainly needs and the planner left out or set up for the whole
    clip, and what was changed, for the trace: an asr step on each clip when the question asks what is said or
    what happens in it ("when is the appointment?"); a step of a tool whose `serves` words the question names
    ("the speaker's emotion") when no step's tool serves them; and a tool that can answer speaker by speaker set
    to, when the question is about one speaker among several ("who speaks first"). A small planner has sent "does
    the speaker say the word "tomato"?" to sound_events alone, "which facial expression goes with the speaker's
    emotion?" to asr alone, "when is the vet appointment?" to diarization, and "who speaks first, a man or a
    woman?" to gender on the whole clip. Steps added for ``part`` n are named p{n}..."""
    if not ctx.amend:
        return program, []
    registry = ctx.registry
    planned = {s.tool for s in program.steps}
    needed: list[tuple[str, str]] = []
    if "asr" in registry and "asr" not in planned:
        if asks_what_is_said(request.question):
            needed.append(("asr", "the question asks what is said"))
        elif asks_about_content(request.question):
            needed.append(("asr", "the question asks what happens in what is said"))
    said = stems(request.question)
    served = {phrase for s in program.steps if s.tool in registry for phrase in registry.get(s.tool).serves}
    for tool in registry:
        named = next((phrase for phrase in tool.serves if says(said, phrase)), None)
        if named is not None and named not in served and tool.name not in planned:
            needed.append((tool.name, f'the question names "{named}"'))
            served.update(tool.serves)
    of = f"part {part}, " if part is not None else ""
    prefix = f"p{part}" if part is not None else ""
    steps, notes = list(program.steps), []
    per_speaker = asks_per_speaker(request.question)
    if per_speaker:
        for i, step in enumerate(steps):
            if _speaks_per_speaker(registry, step.tool) and not step.args.get("by_speaker"):
                steps[i] = step.model_copy(update={"args": {**step.args, "by_speaker": True}})
                notes.append(f"round {round_}: {of}step {step.id!r}, {step.tool}: set by_speaker, "
                             f"as the question is about one speaker among several")
    taken = {s.id for s in steps}
    two = len(request.clips) > 1
    for tool_name, why in needed:
        for name in request.clips:
            step_id = next(f"{prefix}{tool_name}{k}" for k in range(1, len(taken) + 2) if f"{prefix}{tool_name}{k}" not in taken)
            taken.add(step_id)
            args: dict[str, Any] = {"audio": name} if two else {}
            if per_speaker and _speaks_per_speaker(registry, tool_name):
                args["by_speaker"] = True
            steps.append(Step(id=step_id, tool=tool_name, args=args))
            notes.append(f"round {round_}: {of}added step {step_id!r}, {tool_name}{' on ' + name if two else ''}: "
                         f"{why} and the planner planned no step for it")
    return program.model_copy(update={"steps": steps}), notes


def _speaks_per_speaker(registry: Registry, tool_name: str) -> bool:
    """Whether the tool can answer speaker by speaker (a ``by_speaker`` argument)."""
    return tool_name in registry and "by_speaker" in registry.get(tool_name).input_model.model_fields
