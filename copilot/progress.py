"""Progress of a long step on stderr: a bar for a person watching, nothing for a short clip or a log.

A step that may run long (a tool over an hour of audio) wraps its work in `progress` and reports each piece done. Nothing
is shown until the step has run `DELAY` seconds, so a short clip prints nothing. Where it goes is set by
``SPEECH_COPILOT_PROGRESS``:

- ``auto`` (the default): a tqdm bar when stderr is a terminal, nothing otherwise (a log, a pipe, the server);
- ``on``: also when stderr is not a terminal, as plain lines (``asr: 40% (1440/3600 s), 52 s``) at most one every
  `LINE_EVERY` seconds, which a log keeps readable;
- ``off``: never.

Progress never goes to stdout, which holds the answer or the tool's JSON. Whatever stderr shows, a listener set with
`reported_to` is told every step's progress as a line: the server streams it to the page.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

DELAY = 3.0  # seconds a step runs before its progress shows
LINE_EVERY = 10.0  # seconds between two plain lines
VARIABLE = "SPEECH_COPILOT_PROGRESS"

Advance = Callable[[float], None]
"""Reports ``n`` more units of the step done."""
Listener = Callable[[str], None]
"""Is told a running step's progress as a line (``asr: 40% (1440/3600 s)``), and "" when the step ends."""
_listener: ContextVar[Listener | None] = ContextVar("progress_listener", default=None)


def mode() -> str:
    """``auto``, ``on`` or ``off``, from ``SPEECH_COPILOT_PROGRESS`` (anything else counts as auto)."""
    value = os.environ.get(VARIABLE, "").strip().lower()
    if value in {"1", "on", "true", "yes"}:
        return "on"
    if value in {"0", "off", "false", "no"}:
        return "off"
    return "auto"


@contextmanager
def reported_to(listener: Listener) -> Iterator[None]:
    """Tell ``listener`` the progress of every step run in this context, and in the threads started with a copy of it
    (langgraph's nodes, the agent's tool runner), from its start; steps run in parallel tell it in turn."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def progress(
    desc: str, total: float, unit: str = "s", *, stream: TextIO | None = None, delay: float = DELAY
) -> Iterator[Advance]:
    """Report the progress of a step of ``total`` ``unit`` named ``desc``; yields the function that advances it.

    A bar (tqdm, when installed) on a terminal, plain lines elsewhere when ``SPEECH_COPILOT_PROGRESS=on``; nothing
    before ``delay`` seconds, nothing at all with ``SPEECH_COPILOT_PROGRESS=off`` or, by default, off a terminal.
    ``stream`` defaults to stderr. The listener of `reported_to`, if any, is told every advance.
    """
    told = _listener.get()
    with _shown(desc, total, unit, stream or sys.stderr, delay) as shown:
        if told is None:
            yield shown
            return
        done, lock = 0.0, threading.Lock()

        def advance(n: float) -> None:
            nonlocal done
            shown(n)
            with lock:
                done += n
                told(described(desc, done, total, unit))

        told(described(desc, 0.0, total, unit))
        try:
            yield advance
        finally:
            told("")


def described(desc: str, done: float, total: float, unit: str) -> str:
    """``asr: 40% (1440/3600 s)``."""
    share = done / total if total else 1.0
    return f"{desc}: {share:.0%} ({done:.0f}/{total:.0f} {unit})"


@contextmanager
def _shown(desc: str, total: float, unit: str, out: TextIO, delay: float) -> Iterator[Advance]:
    """The advance of what stderr (``out``) shows, as `mode` chooses."""
    chosen = mode()
    terminal = bool(getattr(out, "isatty", lambda: False)())
    if chosen == "off" or (chosen == "auto" and not terminal):
        yield _ignore
        return
    if terminal:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            with tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=out,
                delay=delay,
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]",
            ) as bar:
                yield bar.update
            return
    lines = _Lines(desc, total, unit, out, delay)
    yield lines.advance
    lines.finish()


def _ignore(n: float) -> None:
    pass


class _Lines:
    """The plain-line fallback: a line when the step has run ``delay`` seconds, then at most one every `LINE_EVERY`
    seconds, and a last one when a step that printed ends."""

    def __init__(self, desc: str, total: float, unit: str, out: TextIO, delay: float):
        self.desc, self.total, self.unit, self.out = desc, total, unit, out
        self.done, self.started = 0.0, time.monotonic()
        self.next_line = self.started + delay
        self.printed = False
        self.lock = threading.Lock()

    def advance(self, n: float) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now >= self.next_line:
                self._line(now)
                self.next_line = now + LINE_EVERY

    def finish(self) -> None:
        if self.printed:
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        print(f"{described(self.desc, self.done, self.total, self.unit)}, {now - self.started:.0f} s", file=self.out, flush=True)
        self.printed = True
