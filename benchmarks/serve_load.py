"""A bounded load test of `copilot serve` on loopback: for a fixed time, clients ask about a clip while others send
their body slowly, leave before their answer, or send decode bombs.

    copilot serve --planner fixed:duration --llm embedded:qwen2.5-coder-0.5b --port 8000 &
    python -m copilot.benchmarks.serve_load [--url http://127.0.0.1:8000] [--seconds 60] [--clients 8]
        [--slow 2] [--leavers 2] [--bombs 2] [--pid PID]

Each asker sends one question at a time, tagged with its own request number, and checks that the reply it gets is
for that number (a 503 makes it wait as Retry-After says, one second at most); slow senders trickle a body and
expect a 408; leavers hang up 50 ms after sending; bombs send a WAV whose header claims 100,000,007 samples a
second, or 65,535 channels, and expect a 400. Only a loopback URL is accepted; every loop ends with the time, and
each request waits at most ``--request-timeout`` seconds.

Prints, for each kind of client, the requests sent, served (2xx), shed (503), refused (other 4xx) and failed (5xx
or no reply), the p50 and p95 latency of the served ones, the server's peak RSS (with ``--pid``) and the results
lost (an asker's request with no reply) or duplicated (a reply for another request, or one request answered twice).
Exits 1 when a result was lost or duplicated, or a reply was a 5xx other than 503.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import soundfile as sf

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTION = "Is the clip longer than 5 seconds?"  # the duration tool answers it, no LLM call
LEAVE_AFTER = 0.05  # seconds a leaver waits for its answer: less than one takes, so it leaves queued or running


@dataclass
class Outcome:
    """One request: its client kind, its HTTP status (0: no reply), its latency, and the request number it answered."""

    kind: str
    status: int
    seconds: float
    number: int | None = None
    answered: int | None = None


class Load:
    """The shared state of a run: the server, the clip, the end time and every outcome, in order."""

    def __init__(self, url: str, key: str, clip: bytes, question: str, seconds: float, request_timeout: float) -> None:
        self.url = url.rstrip("/")
        self.question = question
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.clip = base64.b64encode(clip).decode()
        self.end = time.monotonic() + seconds
        self.request_timeout = request_timeout
        self.outcomes: list[Outcome] = []
        self._numbers = iter(range(1, 10**9))
        self._lock = threading.Lock()

    def running(self) -> bool:
        return time.monotonic() < self.end

    def number(self) -> int:
        with self._lock:
            return next(self._numbers)

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def body(self, question: str, clip: str | None = None) -> bytes:
        content = [
            {"type": "text", "text": question},
            {"type": "input_audio", "input_audio": {"data": clip or self.clip, "format": "wav"}},
        ]
        return json.dumps({"model": "speech-copilot", "messages": [{"role": "user", "content": content}]}).encode()


def asker(load: Load) -> None:
    """Ask one question after another, each tagged with its number, until the time is up."""
    with httpx.Client(timeout=load.request_timeout) as http:
        while load.running():
            number = load.number()
            question = f"{load.question} (request {number})"
            started = time.perf_counter()
            try:
                reply = http.post(f"{load.url}/v1/chat/completions", content=load.body(question), headers=load.headers)
            except httpx.HTTPError:
                load.add(Outcome("asker", 0, time.perf_counter() - started, number))
                continue
            answered = _answered(reply) if reply.status_code == 200 else None
            load.add(Outcome("asker", reply.status_code, time.perf_counter() - started, number, answered))
            if reply.status_code == 503:
                time.sleep(min(float(reply.headers.get("retry-after", 1)), 1.0))


def _answered(reply: httpx.Response) -> int | None:
    """The request number of the question a reply answers (the copilot echoes the question)."""
    question = reply.json()["copilot"]["question"]
    tag = question.rpartition("(request ")[2].rstrip(")")
    return int(tag) if tag.isdigit() else None


def slow_sender(load: Load) -> None:
    """Send a request's head, then its body a few bytes a second, and read what the server does about it."""
    host, port = _address(load.url)
    body = load.body(load.question)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {load.headers['Authorization']}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    while load.running():
        started = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=load.request_timeout) as sock:
                sock.sendall(head)
                for i in range(0, len(body), 64):  # 128 bytes a second
                    if select.select([sock], [], [], 0)[0] or time.perf_counter() - started > load.request_timeout:
                        break  # the server answered before the end of the body (or never will)
                    sock.sendall(body[i : i + 64])
                    time.sleep(0.5)
                status = _status(sock.recv(4096))
        except OSError:
            status = 0
        load.add(Outcome("slow", status, time.perf_counter() - started))


def _status(head: bytes) -> int:
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def leaver(load: Load) -> None:
    """Send a question and hang up `LEAVE_AFTER` seconds later, until the time is up."""
    while load.running():
        started = time.perf_counter()
        try:
            reply = httpx.post(
                f"{load.url}/v1/chat/completions", content=load.body(load.question), headers=load.headers, timeout=LEAVE_AFTER
            )
            status = reply.status_code
        except httpx.TimeoutException:
            status = -1  # left before the answer, as meant
        except httpx.HTTPError:
            status = 0
        load.add(Outcome("leaver", status, time.perf_counter() - started))


def bomb_sender(load: Load) -> None:
    """Send WAVs whose headers claim a huge sample rate or channel count, until the time is up."""
    bombs = [base64.b64encode(_wav_claiming(rate=100_000_007)).decode(), base64.b64encode(_wav_claiming(channels=65535)).decode()]
    sent = 0
    with httpx.Client(timeout=load.request_timeout) as http:
        while load.running():
            started = time.perf_counter()
            try:
                status = http.post(
                    f"{load.url}/v1/chat/completions", content=load.body(load.question, bombs[sent % 2]), headers=load.headers
                ).status_code
            except httpx.HTTPError:
                status = 0
            sent += 1
            load.add(Outcome("bomb", status, time.perf_counter() - started))


def _wav_claiming(rate: int = 16000, channels: int = 1) -> bytes:
    """A 244-byte WAV of 16-bit PCM whose header claims ``rate`` and ``channels``."""
    data = bytes(200)
    block = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) % 2**32, block % 2**16, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


def _address(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def _tone(seconds: float = 10.0) -> bytes:
    """A clip to ask about: a tone in noise, as a 16 kHz WAV."""
    t = np.arange(int(16000 * seconds)) / 16000
    signal = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    out = io.BytesIO()
    sf.write(out, signal.astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def memory(pid: int, field: str) -> int | None:
    """A memory figure of process ``pid`` in bytes (``VmRSS``: resident now; ``VmHWM``: its peak), if it can be read."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) * 1024 for line in lines if line.startswith(f"{field}:")), None)


def _megabytes(count: int | None) -> str:
    return f"{count / 1e6:.0f} MB" if count else "not measured (no --pid)"


def report(outcomes: list[Outcome]) -> tuple[int, int, int]:
    """Print the table; return the results lost, duplicated, and the 5xx replies other than 503."""
    kinds = {kind: [o for o in outcomes if o.kind == kind] for kind in ("asker", "slow", "leaver", "bomb")}
    print("| clients | sent | served (2xx) | shed (503) | refused (4xx) | failed (5xx, no reply) | left | p50 (s) | p95 (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, mine in kinds.items():
        statuses = Counter(o.status for o in mine)
        served = [o.seconds for o in mine if 200 <= o.status < 300]
        refused = sum(n for s, n in statuses.items() if 400 <= s < 500)
        failed = sum(n for s, n in statuses.items() if s >= 500 and s != 503) + statuses[0]
        p50, p95 = np.percentile(served, [50, 95]) if served else (float("nan"),) * 2
        print(
            f"| {kind} | {len(mine)} | {len(served)} | {statuses[503]} | {refused} | {failed} | {statuses[-1]} "
            f"| {p50:.2f} | {p95:.2f} |"
        )
    for kind, mine in kinds.items():
        codes = ", ".join(f"{s if s > 0 else 'none' if s == 0 else 'left'} x{n}" for s, n in sorted(Counter(o.status for o in mine).items()))
        print(f"{kind} statuses: {codes or '-'}")
    askers = [o for o in outcomes if o.kind == "asker"]
    lost = sum(1 for o in askers if o.status == 0)
    answers = Counter(o.answered for o in askers if o.status == 200)
    duplicated = sum(n - 1 for n in answers.values() if n > 1) + sum(
        1 for o in askers if o.status == 200 and o.answered != o.number
    )
    server_errors = sum(1 for o in outcomes if o.status >= 500 and o.status != 503)
    return lost, duplicated, server_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server, on loopback (default: %(default)s)")
    parser.add_argument("--api-key", default="none", help="the server's API key, if it has one")
    parser.add_argument("--audio", type=Path, help="a wav clip to ask about (default: a 10 s tone made here)")
    parser.add_argument("--question", default=QUESTION, help="what to ask (default: %(default)r, which a "
                        "fixed:duration planner answers from the tool alone; one the LLM answers measures the LLM)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients send (default: 60)")
    parser.add_argument("--clients", type=int, default=8, help="clients that ask, one question at a time (default: 8)")
    parser.add_argument("--slow", type=int, default=2, help="clients that send their body slowly (default: 2)")
    parser.add_argument("--leavers", type=int, default=2, help="clients that hang up after a second (default: 2)")
    parser.add_argument("--bombs", type=int, default=2, help="clients that send decode bombs (default: 2)")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="longest wait for one reply (default: 120)")
    parser.add_argument("--pid", type=int, help="the server's process id, to report its peak RSS")
    args = parser.parse_args()
    if _address(args.url)[0] not in LOOPBACK:
        parser.error(f"--url must be on loopback (127.0.0.1), not {args.url}")

    try:
        key = {"Authorization": f"Bearer {args.api_key}"}
        httpx.get(f"{args.url.rstrip('/')}/v1/models", headers=key, timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        parser.error(f"the server at {args.url} does not answer GET /v1/models: {exc}")
    clip = args.audio.read_bytes() if args.audio else _tone()
    resident = memory(args.pid, "VmRSS") if args.pid else None
    load = Load(args.url, args.api_key, clip, args.question, args.seconds, args.request_timeout)
    roles: list[tuple[Callable[[Load], None], int]] = [
        (asker, args.clients), (slow_sender, args.slow), (leaver, args.leavers), (bomb_sender, args.bombs)
    ]
    threads = [threading.Thread(target=role, args=(load,)) for role, count in roles for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    print(
        f"server {args.url}; clip of {len(clip) / 1e6:.2f} MB; {args.clients} askers, {args.slow} slow senders, "
        f"{args.leavers} leavers and {args.bombs} bomb senders for {args.seconds:g} s ({wall:.1f} s with the last replies)\n"
    )
    lost, duplicated, server_errors = report(load.outcomes)
    peak = memory(args.pid, "VmHWM") if args.pid else None
    print(f"\nRSS of the server: {_megabytes(resident)} before the load, {_megabytes(peak)} at its peak")
    print(f"results lost: {lost}, duplicated: {duplicated}; 5xx other than 503: {server_errors}")
    return 1 if lost or duplicated or server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
