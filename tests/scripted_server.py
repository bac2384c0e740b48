"""`copilot serve`'s own application and uvicorn settings around a scripted agent, for tests of the HTTP layer
that need no model: run as a process on a loopback port, or started by `scripted_server` in a test.

    python -m tests.scripted_server --port 8123 [any `copilot serve` option]

The agent answers at once, its text echoing the question; a question ``sleep S ...`` takes S seconds (at most 10) first,
``progress N ...`` first reports a step "asr" of N units (at most 20), one every 0.5 s, as a tool does (`copilot.progress`), and
``crash ...`` raises. The question goes through the copilot's own parser (`Request.from_text`). Each question is
appended to the file ``$SCRIPTED_RECORD`` when its answering starts, so a test can tell which requests ran.
``GET /test/peak-rss`` gives the process's peak resident memory in bytes. ``$SCRIPTED_MEMORY_LIMIT`` (bytes)
caps the address space, so that a decode bomb fails with MemoryError rather than swap the machine.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse

from copilot.answering.models import Answer, Trace
from copilot.audio import Audio
from copilot.cli import _parser
from copilot.progress import progress
from copilot.question.request import Request
from copilot.serve.app import create_app
from copilot.serve.config import config_from_args
from copilot.serve.server import run

ROOT = Path(__file__).resolve().parent.parent


class ScriptedAgent:
    """A stand-in for `Copilot` that answers instantly (see the module's docstring)."""

    planner = SimpleNamespace(name="scripted")

    def __init__(self, record: Path | None = None) -> None:
        self.record = record
        self._lock = threading.Lock()

    def ask(self, clips: dict[str, Audio], question: str, options: list[str] | None = None) -> Answer:
        if self.record is not None:
            with self._lock, self.record.open("a", encoding="utf-8") as out:
                out.write(question[:200].replace("\n", " ") + "\n")
        words = question.split(maxsplit=2)
        if len(words) > 1 and words[0] == "sleep" and re.fullmatch(r"\d+(\.\d+)?", words[1]):
            time.sleep(min(float(words[1]), 10))
        if len(words) > 1 and words[0] == "progress" and words[1].isdigit():
            units = min(int(words[1]), 20)
            with progress("asr", units) as advance:
                for _ in range(units):
                    time.sleep(0.5)
                    advance(1)
        if words[0] == "crash":
            raise RuntimeError(f"scripted failure in {ROOT}")
        request = Request.from_text(question, {name: a.duration for name, a in clips.items()}, options)
        return Answer(question=question, text=f"answer to: {request.question[:200]}", trace=Trace(planner="scripted"))


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def _peak_rss(request: HttpRequest) -> JSONResponse:
    return JSONResponse({"peak_rss": peak_rss()})


def main(argv: list[str]) -> None:
    if limit := os.environ.get("SCRIPTED_MEMORY_LIMIT"):
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    record = os.environ.get("SCRIPTED_RECORD")
    config = config_from_args(_parser().parse_args(["serve", *argv]))
    app = create_app(ScriptedAgent(Path(record) if record else None), config)  # type: ignore[arg-type]
    app.add_route("/test/peak-rss", _peak_rss, methods=["GET"])
    run(app, config)


@dataclass
class Running:
    """A scripted server process: its base URL, its pid and the file of the questions it started answering."""

    url: str
    pid: int
    record: Path

    def started(self) -> list[str]:
        return self.record.read_text(encoding="utf-8").splitlines() if self.record.exists() else []

    def peak_rss(self) -> int:
        return int(httpx.get(f"{self.url}/test/peak-rss", timeout=10).json()["peak_rss"])


@contextmanager
def scripted_server(
    *options: str, folder: Path, memory_limit: int = 3 * 2**30, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """A scripted server on a free loopback port with ``options``; killed at the end, even if it stopped answering."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    record = folder / f"record-{port}.txt"
    variables = {"SCRIPTED_RECORD": str(record), "SCRIPTED_MEMORY_LIMIT": str(memory_limit), **(env or {})}
    command = [sys.executable, "-m", "tests.scripted_server", "--port", str(port), *options]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **variables})
    server = Running(f"http://127.0.0.1:{port}", proc.pid, record)
    try:
        _wait_until_up(server.url, proc)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the scripted server did not start (exit status {proc.poll()})")


if __name__ == "__main__":
    main(sys.argv[1:])
