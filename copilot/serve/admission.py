"""Admission to the server's work: the `Gate` (so many requests worked on at once, so many waiting, a 503 for any
more), a request's `Place` in it, and the `Job` through which the event loop follows and abandons its work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from copilot.serve.errors import ApiError

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")

RETRY_AFTER = 10  # seconds a client refused for a full queue is told to wait


class Place:
    """An admitted request's place in the gate; once its work is submitted, the work holds the place."""

    def __init__(self) -> None:
        self.work: Future[Any] | None = None


class Gate:
    """Admission to the server's work: ``running`` requests worked on at once, each on a thread of the gate's pool,
    ``waiting`` more in a first-come queue, and any further one refused at once with a 503.

    A request holds its place from arrival (its body is read inside it, so the bodies in memory are bounded too)
    until its work ends. Work whose request is abandoned is dropped if it has not started; if it has, it keeps its
    thread and its place until it returns, since a thread cannot be stopped: the limit counts the work really done.
    """

    def __init__(self, running: int, waiting: int) -> None:
        self.capacity = running + waiting
        self._held = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(running, thread_name_prefix="serve")

    @contextmanager
    def place(self) -> Iterator[Place]:
        """A place for one request, or a 503 when every place is taken; given back at the end unless its work holds it."""
        with self._lock:
            if self._held >= self.capacity:
                raise ApiError(
                    503,
                    f"the server is busy ({self.capacity} questions in hand): try again in {RETRY_AFTER} s",
                    "server_busy",
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            self._held += 1
        place = Place()
        try:
            yield place
        finally:
            if place.work is None:
                self._leave()

    def submit(self, place: Place, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` for the pool; the request's place is held until it ends (or is cancelled unstarted)."""
        work = self._pool.submit(fn, *args)
        place.work = work
        work.add_done_callback(lambda _: self._leave())
        return work

    def close(self) -> None:
        """Drop the queued work; the running work ends on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _leave(self) -> None:
        with self._lock:
            self._held -= 1


class Job(Generic[P, R]):
    """One request's work on the gate's pool, as the event loop sees it: ``parsed`` once the body is read and its
    clips decoded (what the reply needs, or the refusal), then ``answered`` (an answer, a transcript); ``abandoned``
    tells the work that nobody waits for it."""

    def __init__(self, parsed: asyncio.Future[P], answered: asyncio.Future[R | None], abandoned: threading.Event) -> None:
        self.parsed = parsed
        self.answered = answered
        self.abandoned = abandoned

    def abandon(self) -> None:
        """Nobody waits for this work any more: drop it if it has not started (cancelling ``answered`` cancels the
        pool's future), skip the answer if it is still decoding; an answer under way runs to its end, unseen."""
        self.abandoned.set()
        self.parsed.cancel()
        self.answered.cancel()
