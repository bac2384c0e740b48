"""The program a planner writes: declarative steps of tool calls, validated before anything runs.

A program is JSON, never code. Each step names a tool from the registry, gives its arguments,
and may wait for earlier steps (``after``); a step without an id is named by its position
(s1, s2, ...). An argument may also be a reference to an earlier step's output, written
``"$step_id.field.index..."`` (for example ``"$d.turns.1.start"``); a reference implies the
dependency. Validation refuses unknown tools, bad arguments, dangling references, cycles and
oversized programs with messages a planner can act on. A compound question's program also lists its
parts, each with the steps that answer it (`merge`).
"""

from __future__ import annotations

import json
import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from copilot.errors import CopilotError
from copilot.registry import Registry

MAX_STEPS = 12
STEP_ID = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"
_REF = re.compile(r"^\$([A-Za-z][A-Za-z0-9_]{0,31})((?:\.[A-Za-z0-9_]+)*)$")


class ProgramError(CopilotError):
    """A program that cannot run as written; ``problems`` lists each thing to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid program: " + "; ".join(problems))


class Step(BaseModel):
    """One tool call."""

    id: str = Field(pattern=STEP_ID, description="a short name other steps can refer to")
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list, description="ids of steps that must finish first")


class ProgramPart(BaseModel):
    """One part of a compound question and the steps that measure it; no steps when no tool can measure it."""

    question: str = Field(description="the part as a question that stands alone")
    steps: list[str] = Field(default_factory=list, description="ids of the steps whose outputs answer this part")


class Program(BaseModel):
    """Steps of tool calls, run in dependency order (independent steps in parallel)."""

    steps: list[Step] = Field(default_factory=list)
    parts: list[ProgramPart] = Field(
        default_factory=list, description="a compound question's parts, each with its steps; empty when it asks one thing"
    )

    @model_validator(mode="before")
    @classmethod
    def _name_steps(cls, data: Any) -> Any:
        """A step without an id is named by its position (s1, s2, ...): a planner only names steps it refers to."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            steps = enumerate(data["steps"], 1)
            data = {**data, "steps": [{"id": f"s{n}", **s} if isinstance(s, dict) and "id" not in s else s for n, s in steps]}
        return data


def parse(raw: str | dict[str, Any]) -> Program:
    """A `Program` from an LLM's JSON text (or a dict); malformed JSON is a `ProgramError`."""
    try:
        if isinstance(raw, str):
            return Program.model_validate_json(raw)
        return Program.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'program'}: {e['msg']}" for e in exc.errors()[:5]]
        raise ProgramError(problems) from None


def references(value: Any) -> list[tuple[str, list[str]]]:
    """Every ``$step.path`` reference inside an argument value, as (step id, path)."""
    if isinstance(value, str) and (m := _REF.match(value)):
        return [(m.group(1), [p for p in m.group(2).split(".") if p])]
    if isinstance(value, dict):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def dependencies(step: Step) -> set[str]:
    """The steps ``step`` waits for: its ``after`` list and every step it references."""
    return set(step.after) | {sid for sid, _ in references(step.args)}


def prefixed(program: Program, prefix: str) -> Program:
    """``program`` with every step id, and every reference to one, starting with ``prefix`` (s1 -> p2s1)."""
    names = {s.id: f"{prefix}{s.id}"[:32] for s in program.steps}
    steps = [
        Step(id=names[s.id], tool=s.tool, args=_renamed(s.args, names), after=[names.get(a, a) for a in s.after])
        for s in program.steps
    ]
    return program.model_copy(update={"steps": steps})


def merge(parts: list[tuple[str, Program]]) -> Program:
    """One program for a compound question from its parts' programs (step ids already distinct, see `prefixed`):
    a step that an earlier part already planned (the same tool, arguments and dependencies) runs once and serves
    both, and each part records the ids of its steps."""
    steps: list[Step] = []
    kept: dict[str, str] = {}  # signature -> id of the step that runs
    merged: list[ProgramPart] = []
    for question, program in parts:
        names: dict[str, str] = {}
        for sid in order(program):
            step = next(s for s in program.steps if s.id == sid)
            args, after = _renamed(step.args, names), sorted(names.get(a, a) for a in step.after)
            signature = json.dumps([step.tool, args, after], sort_keys=True)
            if signature not in kept:
                kept[signature] = step.id
                steps.append(Step(id=step.id, tool=step.tool, args=args, after=after))
            names[step.id] = kept[signature]
        merged.append(ProgramPart(question=question, steps=list(dict.fromkeys(names[s.id] for s in program.steps))))
    return Program(steps=steps, parts=merged)


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """An argument value with each reference to a renamed step pointing at its new id."""
    if isinstance(value, str) and (m := _REF.match(value)) and m.group(1) in names:
        return f"${names[m.group(1)]}{m.group(2)}"
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value


def validate(program: Program, registry: Registry, clip_names: list[str]) -> Program:
    """Check ``program`` against the registry and the question's clips; raise `ProgramError` listing every problem."""
    problems: list[str] = []
    if not program.steps:
        problems.append("the program has no steps; add at least one tool call")
    if len(program.steps) > MAX_STEPS:
        problems.append(f"too many steps ({len(program.steps)}); at most {MAX_STEPS}")
    ids = [s.id for s in program.steps]
    problems += [f"step id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for step in program.steps:
        problems += _step_problems(step, registry, set(ids), clip_names)
    if not problems:
        try:
            order(program)
        except CycleError as exc:
            problems.append(f"steps depend on each other in a cycle: {' -> '.join(exc.args[1])}")
    if problems:
        raise ProgramError(problems)
    return program


def order(program: Program) -> list[str]:
    """Step ids in an order where each step comes after its dependencies."""
    return list(TopologicalSorter({s.id: dependencies(s) for s in program.steps}).static_order())


def _step_problems(step: Step, registry: Registry, ids: set[str], clip_names: list[str]) -> list[str]:
    where = f"step {step.id!r}"
    if step.tool not in registry:
        return [f"{where}: unknown tool {step.tool!r}; use one of: {', '.join(registry.names)}"]
    problems = [f"{where}: waits for unknown step {d!r}" for d in sorted(dependencies(step) - ids)]
    if step.id in dependencies(step):
        problems.append(f"{where}: depends on itself")
    tool = registry.get(step.tool)
    literal = {k: v for k, v in step.args.items() if not references(v)}
    unknown = set(step.args) - set(tool.input_model.model_fields)
    if unknown:
        problems.append(
            f"{where}: {step.tool} has no argument {', '.join(sorted(unknown))}; "
            f"its arguments are {', '.join(tool.input_model.model_fields)}"
        )
        return problems
    try:
        parsed = tool.input_model.model_validate(literal)
    except ValidationError as exc:
        # a referenced argument is only known at run time: judge the literal ones here
        errors = [e for e in exc.errors() if not (e["loc"] and e["loc"][0] in step.args and e["loc"][0] not in literal)]
        problems += [f"{where}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors]
        return problems
    for field in tool.input_model.clip_fields:
        if field in literal or field not in step.args:
            name = getattr(parsed, field)
            if name not in clip_names:
                problems.append(f"{where}: {field}={name!r} but this question's clips are {', '.join(clip_names)}")
    return problems


def resolve(step: Step, outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``step.args`` with each reference replaced by the value it points to in earlier outputs."""

    def value(v: Any) -> Any:
        refs = references(v)
        if isinstance(v, str) and refs:
            sid, path = refs[0]
            node: Any = outputs[sid]
            for key in path:
                try:
                    node = node[int(key)] if isinstance(node, list) else node[key]
                except (KeyError, IndexError, ValueError, TypeError):
                    raise ProgramError([f"step {step.id!r}: {v} does not exist in the output of {sid!r}"]) from None
            return node
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    return {k: value(v) for k, v in step.args.items()}
