"""Plan reuse: the programs a planner wrote, kept by question shape, so that a question of a shape seen before runs
the same program without asking the LLM again.

A shape is the question's own words, normalised (case, quote marks, spacing, punctuation), with the number of clips
and the number of options and which of them are numbers; the options' texts are left out, so "Which animal is it?
(a) dog (b) cow" and the same question with other animals share one program. Programs are kept per planner and
per registry (its tools' names, versions, descriptions and schemas), so a new tool, a changed tool or another
planner model starts afresh. Only a program that ran without a failure is kept, and only when nothing in it depends
on the clip it was written for: a time range that spans the whole clip is dropped (it is the default), any other
range that the question does not state keeps the program out.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import unicodedata
from pathlib import Path

from copilot.answer import Request
from copilot.cache import default_path, open_table
from copilot.numbers import FIGURE, read_option
from copilot.program import Program, Step
from copilot.registry import Registry
from copilot.words import plain

SHAPE_VERSION = 2  # raise when `shape` changes, so that programs kept under the old shapes are not found
_TIME_ARGS = ("start", "end")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})  # "speaker’s" and "speaker's" are one word to `plain`


def shape(request: Request) -> str:
    """The shape of ``request``: what two questions must share for one's program to serve the other."""
    words = plain(unicodedata.normalize("NFKC", request.question).translate(_APOSTROPHES))
    kinds = "".join("n" if read_option(option) is not None else "w" for option in request.options)
    return f"{len(request.clips)} clip(s), options [{kinds}]: {words}"


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


class PlanBook:
    """Programs by question shape, for one planner and one registry, in a SQLite table beside the tool cache."""

    def __init__(self, planner: str, registry: Registry, path: Path | None = None):
        self._db = open_table(path or default_path(), "plans (key TEXT PRIMARY KEY, shape TEXT, program TEXT)")
        self._scope = json.dumps([SHAPE_VERSION, planner, registry_version(registry)])
        self._lock = threading.Lock()

    def _key(self, request: Request) -> str:
        return hashlib.sha256(f"{self._scope}\n{shape(request)}".encode()).hexdigest()

    def find(self, request: Request) -> Program | None:
        """The program kept for ``request``'s shape, if any."""
        with self._lock:
            row = self._db.execute("SELECT program FROM plans WHERE key = ?", (self._key(request),)).fetchone()
        if row is None:
            return None
        try:
            return Program.model_validate_json(row[0])
        except ValueError:
            return None  # written by another version of the program schema: planned again, and kept anew

    def keep(self, request: Request, program: Program) -> bool:
        """Keep ``program`` for ``request``'s shape, replacing any kept before; False when it depends on the clip."""
        kept = portable(program, request)
        if kept is None or not kept.steps:
            return False
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO plans VALUES (?, ?, ?)", (self._key(request), shape(request), kept.model_dump_json())
            )
        return True

    def forget(self, request: Request) -> None:
        """Drop the program kept for ``request``'s shape: it failed on a clip of that shape."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM plans WHERE key = ?", (self._key(request),))

