"""Plan reuse: the programs a planner wrote, kept by question shape, so that a question of a shape seen before runs
the same program without asking the LLM again.

A shape (`copilot.question.shape`) is the question's own words, normalised (case, quote marks, spacing,
punctuation), with the number of clips and the number of options and which of them are numbers; the options' texts
are left out, so "Which animal is it? (a) dog (b) cow" and the same question with other animals share one program. Programs are kept per planner and
per registry (its tools' names, versions, descriptions and schemas), so a new tool, a changed tool or another
planner model starts afresh. Only a program that ran without a failure is kept, and only when nothing in it depends
on the clip it was written for: a time range that spans the whole clip is dropped (it is the default), any other
range that the question does not state keeps the program out.

A question worded anew borrows a program too, when it is worded like questions seen before: when its `NEAREST`
nearest kept questions of its kind (clips and options as above), by the cosine of their MiniLM sentence
embeddings, are all at least `SIMILAR` to it and their programs call the same tools, the nearest one's program
runs. Three questions the planner wrote one program for, each close to this one, are the evidence; a lone
neighbour is not. A compound question's program (one with parts) lends nothing: its parts are its own. Measured
by replaying two runs' kept programs in their order (SAKURA dev, ds-dev): this left 80 of SAKURA's 320 questions
and 55 of ds-dev's 250 to the planner (157 and 88 with exact shapes alone), and where the borrowed program differed
from the one the planner had written, it called a subset or a superset of the same tools (10 of 226), never other
ones.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from copilot.cache import default_path, open_table
from copilot.program import Program, Step
from copilot.question.figures import FIGURE
from copilot.question.request import Request
from copilot.question.shape import SHAPE_VERSION, kind, shape, wording
from copilot.registry import Registry

NEAREST = 3  # kept questions that must agree on a program for a question worded anew to borrow it
SIMILAR = 0.5  # the cosine each of them must reach
_TIME_ARGS = ("start", "end")


def registry_version(registry: Registry) -> str:
    """A digest of everything about the tools a planner reads: names, versions, descriptions and schemas."""
    specs = json.dumps(registry.specs(), sort_keys=True, default=str)
    return hashlib.sha256(specs.encode()).hexdigest()[:16]


def portable(program: Program, request: Request) -> Program | None:
    """``program`` as it would serve any clip of this shape: time ranges that span a whole clip dropped. None when a
    step keeps a time the question does not state (the planner read it off this clip's length)."""
    stated = {float(n) for n in FIGURE.findall(request.question)}
    steps = []
    for step in program.steps:
        args = dict(step.args)
        length = request.clips.get(str(args.get("audio", "audio1")))
        if isinstance(args.get("start"), int | float) and args["start"] == 0:
            del args["start"]
        if isinstance(args.get("end"), int | float) and length is not None and math.isclose(args["end"], length, abs_tol=0.05):
            del args["end"]
        if any(isinstance(args.get(name), int | float) and float(args[name]) not in stated for name in _TIME_ARGS):
            return None
        steps.append(Step(id=step.id, tool=step.tool, args=args, after=step.after))
    return program.model_copy(update={"steps": steps})


@dataclass(frozen=True)
class Kept:
    """A kept program found for a question: ``like`` is the earlier question it was written for when that one was
    worded otherwise (None for the same shape), ``similarity`` the cosine between the two."""

    program: Program
    like: str | None = None
    similarity: float = 1.0


Embed = Callable[[Sequence[str]], np.ndarray]


def _sentences(texts: Sequence[str]) -> np.ndarray:
    from copilot import sentences

    return sentences.embed(texts)


class PlanBook:
    """Programs by question shape, for one planner and one registry, in a SQLite table beside the tool cache.

    ``embed`` gives unit-length sentence embeddings (MiniLM by default) for finding questions worded alike."""

    def __init__(self, planner: str, registry: Registry, path: Path | None = None, embed: Embed = _sentences):
        self._db = open_table(
            path or default_path(), "kept_programs (key TEXT PRIMARY KEY, scope TEXT, kind TEXT, words TEXT, program TEXT)"
        )
        self._scope = json.dumps([SHAPE_VERSION, planner, registry_version(registry)])
        self._lock = threading.Lock()
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}
        self._parsed: dict[str, Program | None] = {}  # kept programs as read, by their JSON: parsed once per book

    def _key(self, request: Request) -> str:
        return hashlib.sha256(f"{self._scope}\n{shape(request)}".encode()).hexdigest()

    def find(self, request: Request) -> Kept | None:
        """The program kept for ``request``'s shape, else one borrowed from questions worded like it, if any."""
        with self._lock:
            row = self._db.execute("SELECT program FROM kept_programs WHERE key = ?", (self._key(request),)).fetchone()
        if row is not None and (program := _program(row[0])) is not None:
            return Kept(program)
        return self._similar(request)

    def _similar(self, request: Request) -> Kept | None:
        """The nearest kept question's program when the `NEAREST` nearest all reach `SIMILAR` and call the same tools."""
        with self._lock:
            rows = self._db.execute(
                "SELECT words, program FROM kept_programs WHERE scope = ? AND kind = ?", (self._scope, kind(request))
            ).fetchall()
        words = wording(request)
        programs = [(text, p) for text, raw in rows if text != words and (p := self._parse(raw)) is not None and not p.parts]
        if len(programs) < NEAREST:
            return None
        missing = [text for text in {words, *(text for text, _ in programs)} if text not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._embed(missing), strict=True))
        similarity = np.array([float(self._vectors[words] @ self._vectors[text]) for text, _ in programs])
        nearest = np.argsort(-similarity, kind="stable")[:NEAREST]
        tools = {frozenset(s.tool for s in programs[i][1].steps) for i in nearest}
        if similarity[nearest[-1]] < SIMILAR or len(tools) > 1:
            return None
        text, program = programs[nearest[0]]
        return Kept(program.model_copy(deep=True), like=text, similarity=round(float(similarity[nearest[0]]), 3))

    def _parse(self, raw: str) -> Program | None:
        if raw not in self._parsed:
            self._parsed[raw] = _program(raw)
        return self._parsed[raw]

    def keep(self, request: Request, program: Program) -> bool:
        """Keep ``program`` for ``request``'s shape, replacing any kept before; False when it depends on the clip."""
        kept = portable(program, request)
        if kept is None or not kept.steps:
            return False
        row = (self._key(request), self._scope, kind(request), wording(request), kept.model_dump_json())
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO kept_programs VALUES (?, ?, ?, ?, ?)", row)
        return True

    def forget(self, request: Request) -> None:
        """Drop the program kept for ``request``'s shape: it failed on a clip of that shape."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM kept_programs WHERE key = ?", (self._key(request),))


def _program(raw: str) -> Program | None:
    try:
        return Program.model_validate_json(raw)
    except ValueError:
        return None  # written by another version of the program schema: planned again, and kept anew
