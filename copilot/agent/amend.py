"""The steps code adds to a planner's program. A question about what is said always gets an asr step: code adds one
to a program without it, and the trace says so. On a long recording, a question about which speaker said something
also gets a diarization step on the asr step's span, and word times from asr, so that its passages name who said
what."""

from __future__ import annotations

from typing import Any

from copilot.agent.state import Context
from copilot.answering.passages import LONG_CLIP
from copilot.program import Program, Step
from copilot.question.figures import counted, counts_people_told_of
from copilot.question.parts import asks_per_speaker
from copilot.question.reading import asks_about_content, asks_about_the_audio, asks_what_is_said, asks_which_speaker
from copilot.question.request import Request
from copilot.registry import Registry
from copilot.words import says, stems

SPAN = ("audio", "start", "end")  # the arguments that say which clip, and which part of it, a step runs on


def amend(program: Program, request: Request, round_: int, ctx: Context, part: int | None = None) -> tuple[Program, list[str]]:
    """``program`` with the steps the question plainly needs and the planner left out or set up for the whole
    clip, and what was changed, for the trace: an asr step on each clip when the question asks what is said or
    what happens in it ("when is the appointment?"), or counts people that what is said tells of ("how many people
    were invited?"), or, on a recording longer than `LONG_CLIP`, is not about the audio itself ("on which street is
    the office?"); a step of a tool whose `serves` words the question names ("the speaker's emotion") when no step's
    tool serves them; a tool that can answer speaker by speaker set to, when the question is about one speaker among
    several ("who speaks first"); and, on a long recording, a diarization step on the span of each asr step, and word
    times on that asr step, when the question asks which speaker said something (`_speakers`): Whisper's segments of a
    long meeting held several turns, and a segment without word times takes the speaker of most of it
    (`copilot.transcript`). A small planner has sent "does the speaker say the
    word "tomato"?" to sound_events alone, "which facial expression goes with the speaker's emotion?" to asr alone,
    "when is the vet appointment?" to diarization, "who speaks first, a man or a woman?" to gender on the whole
    clip, and a question about a street named in a 9-minute meeting to diarization and sound_events. Steps added
    for ``part`` n are named p{n}..."""
    if not ctx.amend:
        return program, []
    registry = ctx.registry
    question = request.question
    planned = {s.tool for s in program.steps}
    long = any(seconds > LONG_CLIP for seconds in request.clips.values())
    told_of = counts_people_told_of(question)
    needed: list[tuple[str, str]] = []
    if "asr" in registry and "asr" not in planned:
        if asks_what_is_said(question):
            needed.append(("asr", "the question asks what is said"))
        elif asks_about_content(question):
            needed.append(("asr", "the question asks what happens in what is said"))
        elif told_of:
            needed.append(("asr", "the question counts people that what is said tells of"))
        elif long and not asks_about_the_audio(question):
            needed.append(("asr", "the question is not about the audio itself, so on a long recording it is about what is said"))
    said = stems(question)
    served = {phrase for s in program.steps if s.tool in registry for phrase in registry.get(s.tool).serves}
    for tool in registry:
        # "how many people" names no speaker count in "how many people were invited?"
        named = next((p for p in tool.serves if says(said, p) and not (told_of and counted(p) is not None)), None)
        if named is not None and named not in served and tool.name not in planned:
            needed.append((tool.name, f'the question names "{named}"'))
            served.update(tool.serves)
    of = f"part {part}, " if part is not None else ""
    prefix = f"p{part}" if part is not None else ""
    steps, notes = list(program.steps), []
    per_speaker = asks_per_speaker(question)
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
            step_id = _free_id(f"{prefix}{tool_name}", taken)
            args: dict[str, Any] = {"audio": name} if two else {}
            if per_speaker and _speaks_per_speaker(registry, tool_name):
                args["by_speaker"] = True
            steps.append(Step(id=step_id, tool=tool_name, args=args))
            notes.append(f"round {round_}: {of}added step {step_id!r}, {tool_name}{' on ' + name if two else ''}: "
                         f"{why} and the planner planned no step for it")
    if long and "diarization" in registry and asks_which_speaker(question):
        for i, step in enumerate(steps):
            if step.tool == "asr" and _on_long_clip(step, request) and not step.args.get("word_timestamps"):
                steps[i] = step.model_copy(update={"args": {**step.args, "word_timestamps": True}})
                notes.append(f"round {round_}: {of}step {step.id!r}, asr: set word_timestamps, as the question asks which "
                             f"speaker said it and a segment of a long recording may hold several speakers' words")
        for args in _speakers(steps, request):
            step_id = _free_id(f"{prefix}diarization", taken)
            steps.append(Step(id=step_id, tool="diarization", args=args))
            on = f" on {args.get('audio', 'audio1')}" if two else ""
            span = f" ({args.get('start', 0)}-{args['end']} s)" if "end" in args else ""
            notes.append(f"round {round_}: {of}added step {step_id!r}, diarization{on}{span}: the question asks which "
                         f"speaker said it, and a long recording's passages name speakers only from a diarization of "
                         f"the same span")
    return program.model_copy(update={"steps": steps}), notes


def _speakers(steps: list[Step], request: Request) -> list[dict[str, Any]]:
    """The span arguments of the diarization steps a long recording's question about its speakers needs: the span of
    each asr step on a clip longer than `LONG_CLIP`, or with no asr step the whole of each such clip, when no
    diarization step has that span. A diarization of another span names no speaker in the asr step's passages
    (`copilot.answering.passages.recording` joins the two only when their spans agree)."""
    def span(step: Step) -> tuple[Any, ...]:
        return step.args.get("audio", "audio1"), step.args.get("start"), step.args.get("end")

    heard = [s for s in steps if s.tool == "asr" and _on_long_clip(s, request)]
    wanted = [{k: s.args[k] for k in SPAN if k in s.args} for s in heard] or [
        {"audio": name} if len(request.clips) > 1 else {} for name, seconds in request.clips.items() if seconds > LONG_CLIP
    ]
    have = {span(s) for s in steps if s.tool == "diarization"}
    needed: list[dict[str, Any]] = []
    for args in wanted:
        key = (args.get("audio", "audio1"), args.get("start"), args.get("end"))
        if key not in have:
            have.add(key)
            needed.append(args)
    return needed


def _on_long_clip(step: Step, request: Request) -> bool:
    return request.clips.get(step.args.get("audio", "audio1"), 0.0) > LONG_CLIP


def _free_id(stem: str, taken: set[str]) -> str:
    """The first of ``stem``1, ``stem``2, ... not in ``taken``, which it joins."""
    step_id = next(f"{stem}{k}" for k in range(1, len(taken) + 2) if f"{stem}{k}" not in taken)
    taken.add(step_id)
    return step_id


def _speaks_per_speaker(registry: Registry, tool_name: str) -> bool:
    """Whether the tool can answer speaker by speaker (a ``by_speaker`` argument)."""
    return tool_name in registry and "by_speaker" in registry.get(tool_name).input_model.model_fields
