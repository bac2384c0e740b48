"""Tool calls run with a bound on how many run at once, one at a time for the heavy ones, and a time limit on each call's
own run time."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class StepTimeout(Exception):
    """A call that ran longer than its time limit and was abandoned."""


class _Outcome(Generic[T]):
    """What a call returned or raised, filled in by the thread that ran it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class ToolRunner:
    """Runs calls on at most ``slots`` threads at once; each call's time limit counts from when it starts running,
    never the time it waited for a slot.

    A call over its limit is abandoned: its slot is given back at once, so a hung tool holds up later calls for at
    most one time limit. What it cannot do is stop the abandoned call: Python cannot kill a thread, so it runs on
    (on a daemon thread, using CPU and memory) until it returns on its own, and its result is dropped; an abandoned
    ``alone`` call then runs beside the next one.
    """

    def __init__(self, slots: int = 4):
        self._slots = threading.BoundedSemaphore(slots)
        self._alone = threading.Lock()

    def run(self, call: Callable[[], T], timeout: float, alone: bool = False) -> T:
        """``call()``'s result or exception, once a slot is free; `StepTimeout` after ``timeout`` seconds of running.

        ``alone``: the call also waits until no other ``alone`` call runs (a tool over a long recording, whose working
        memory would add up with another's); other calls run beside it as before."""
        with self._alone if alone else nullcontext(), self._slots:
            outcome: _Outcome[T] = _Outcome()
            # in the caller's context: a tool's progress goes where the caller's does (`copilot.progress.reported_to`)
            threading.Thread(target=contextvars.copy_context().run, args=(_fill, call, outcome), name="tool", daemon=True).start()
            if not outcome.done.wait(timeout):
                raise StepTimeout(f"took longer than {timeout:g} s")
        if outcome.error is not None:
            raise outcome.error
        return cast(T, outcome.value)


def _fill(call: Callable[[], T], outcome: _Outcome[T]) -> None:
    try:
        outcome.value = call()
    except BaseException as exc:  # noqa: BLE001  # not swallowed: the waiting caller raises it in its own thread
        outcome.error = exc
    finally:
        outcome.done.set()
