"""`copilot serve` under hostile input and load: each reproduction of issue 34 that concerns the server, as a test.

Most run the server's real application and uvicorn settings as a process on loopback, around a scripted agent
that answers at once (`tests.scripted_server`), so that timing, disconnects and raw HTTP are real and no model loads.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient

from copilot.answering.models import Answer, Trace
from copilot.cli import _parser, main
from copilot.config import Settings
from copilot.errors import CopilotError
from copilot.serve.app import create_app
from copilot.serve.config import ServerConfig, config_from_args
from copilot.serve.errors import public
from copilot.serve.security import allowed_hosts
from tests.scripted_server import Running, scripted_server

LIMITS = ["--max-audio-mb", "1", "--max-duration", "30"]


def wav(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    sf.write(out, 0.1 * np.sin(np.arange(int(16000 * seconds)) / 16000 * 2 * np.pi * 220), 16000, format="WAV")
    return out.getvalue()


def chat(question: str, data: str | None = None, **extra: Any) -> dict[str, Any]:
    """A chat request: the question and one clip (base64 ``data``, by default a second of tone)."""
    audio = {"data": base64.b64encode(wav()).decode() if data is None else data, "format": "wav"}
    content = [{"type": "text", "text": question}, {"type": "input_audio", "input_audio": audio}]
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def post(server: Running, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=timeout)


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def error_of(reply: httpx.Response) -> dict[str, Any]:
    """The OpenAI-shaped error of a reply, checked to say nothing of the server's inside."""
    error = reply.json()["error"]
    assert error["message"] and error["type"] and error["code"]
    assert "Traceback" not in reply.text and "Error:" not in reply.text and "/work/" not in reply.text
    return error


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with scripted_server(*LIMITS, folder=tmp_path_factory.mktemp("scripted")) as running:
        yield running


@pytest.fixture()
def one_at_a_time(tmp_path: Path) -> Iterator[Running]:
    """A server that works on one question and queues one more."""
    with scripted_server(*LIMITS, "--concurrency", "1", "--queue", "1", folder=tmp_path) as running:
        yield running


def test_a_full_queue_is_refused_at_once_with_a_503_and_retry_after(one_at_a_time):
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(post, one_at_a_time, chat("sleep 2 first"))
        wait_until(lambda: one_at_a_time.started() == ["sleep 2 first"])
        second = pool.submit(post, one_at_a_time, chat("second"))
        time.sleep(0.5)  # queued behind the first
        started = time.monotonic()
        third = post(one_at_a_time, chat("third"))
        assert third.status_code == 503 and time.monotonic() - started < 1
        assert third.headers["retry-after"] == "10"
        assert error_of(third)["code"] == "server_busy"
        assert first.result().status_code == 200 and second.result().status_code == 200
    assert one_at_a_time.started() == ["sleep 2 first", "second"]


def test_a_client_that_goes_away_has_its_queued_request_dropped(one_at_a_time):
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, one_at_a_time, chat("sleep 2 first"))
        wait_until(lambda: one_at_a_time.started() == ["sleep 2 first"])
        with pytest.raises(httpx.ReadTimeout):
            post(one_at_a_time, chat("leaver"), timeout=0.5)  # queued, then gone
        time.sleep(0.5)  # the server looks every 0.25 s
        third = post(one_at_a_time, chat("third"))  # the leaver's place is free again: queued, not refused
        assert third.status_code == 200 and first.result().status_code == 200
    assert one_at_a_time.started() == ["sleep 2 first", "third"]


def test_a_request_past_its_deadline_gets_a_504_streamed_or_not(tmp_path):
    with scripted_server(*LIMITS, "--timeout", "1", folder=tmp_path) as server:
        started = time.monotonic()
        late = post(server, chat("sleep 2 late"))
        assert late.status_code == 504 and time.monotonic() - started < 1.9
        assert error_of(late)["code"] == "timeout" and "1 s limit" in error_of(late)["message"]
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=chat("sleep 2 late", stream=True)) as reply:
            events = [line for line in reply.iter_lines() if line.startswith("data: ")]
        assert reply.status_code == 200 and '"code":"timeout"' in events[-1]
        assert post(server, chat("on time")).status_code == 200


def test_a_slow_sender_gets_a_408_and_a_connection_without_a_whole_head_is_closed(tmp_path):
    with scripted_server(*LIMITS, "--read-timeout", "1", folder=tmp_path) as server:
        address = ("127.0.0.1", urlparse(server.url).port)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        with socket.create_connection(address, timeout=10) as slow:
            slow.sendall(head + b"Content-Length: 1000\r\n\r\n{\"model\": ")
            started = time.monotonic()
            assert slow.recv(65536).startswith(b"HTTP/1.1 408")
            assert 0.5 < time.monotonic() - started < 3
        with socket.create_connection(address, timeout=10) as silent:
            silent.sendall(head)  # never the blank line that ends the head
            started = time.monotonic()
            assert silent.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 3
        assert httpx.get(f"{server.url}/v1/models").status_code == 200


LONG_QUESTION = "What is said? (a) yes (b) x" + " " * 300_000 + "y"  # quadratic for the option pattern of c470972


def test_a_300000_character_question_is_refused_at_once(server):
    started = time.monotonic()
    reply = post(server, chat(LONG_QUESTION))
    assert reply.status_code == 400 and time.monotonic() - started < 2
    assert error_of(reply)["message"] == "the question is 300028 characters long, above the 4000 character limit"


def test_a_300000_character_question_let_in_does_not_hold_up_other_requests(tmp_path):
    let_in = {"SPEECH_COPILOT_MAX_QUESTION": "1000000"}
    with scripted_server(*LIMITS, folder=tmp_path, env=let_in) as server, ThreadPoolExecutor(1) as pool:
        long = pool.submit(post, server, chat(LONG_QUESTION), 60)
        wait_until(lambda: len(server.started()) == 1)
        for _ in range(5):
            assert httpx.get(f"{server.url}/v1/models", timeout=2).status_code == 200
            time.sleep(0.2)
        assert long.result().status_code == 200


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"model": "m", "messages": ' + b"[" * 100_000])
def test_a_deeply_nested_body_is_a_400(server, body):
    reply = httpx.post(f"{server.url}/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and error_of(reply)["code"] == "invalid_json"


def test_whitespace_in_base64_is_dropped_in_linear_time_after_the_length_check(server):
    data = base64.b64encode(wav()).decode()
    wrapped = "\r\n".join(data[i : i + 76] for i in range(0, len(data), 76))
    assert post(server, chat("wrapped", wrapped)).status_code == 200
    assert post(server, chat("spaced", " ".join(data))).status_code == 200
    started = time.monotonic()
    reply = post(server, chat("spaced out", "A " * 1_500_000))  # 3 MB of base64 and spaces, for a 1 MB limit
    assert reply.status_code == 413 and "larger than the 1 MB limit" in error_of(reply)["message"]
    assert time.monotonic() - started < 2


def test_a_keyless_server_answers_only_to_a_loopback_host_header(server):
    port = urlparse(server.url).port
    for host in (f"localhost:{port}", "127.0.0.1", f"[::1]:{port}", "LOCALHOST"):
        assert httpx.get(f"{server.url}/v1/models", headers={"Host": host}).status_code == 200, host
    for path in ("/v1/models", "/"):
        reply = httpx.get(f"{server.url}{path}", headers={"Host": f"rebound.example:{port}"})
        assert reply.status_code == 421 and error_of(reply)["code"] == "misdirected_request"


def test_a_server_with_a_key_answers_to_any_host_that_sends_the_key():
    config = ServerConfig(api_key="k")
    assert allowed_hosts(config) is None
    with TestClient(create_app(_Echo(), config), base_url="http://rebound.example") as http:
        assert http.get("/v1/models").status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer k"}).status_code == 200


def test_serving_beyond_loopback_without_a_key_is_refused_unless_allowed(capsys, monkeypatch):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: serving on 0.0.0.0 without an API key")
    assert "--allow-remote" in error
    assert allowed_hosts(config_from_args(_parser().parse_args(["serve", "--host", "10.1.2.3", "--allow-remote"]))) == {
        "localhost", "127.0.0.1", "[::1]", "10.1.2.3"
    }
    monkeypatch.setattr("copilot.planners.load_planner", _refuse)
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote"]) == 2
    assert "warning: serving on 0.0.0.0 without an API key" in capsys.readouterr().err
    assert main(["serve", "--host", "127.0.0.2"]) == 2  # loopback: no key needed, no warning
    assert "warning" not in capsys.readouterr().err


def _refuse(*args: Any) -> None:
    raise CopilotError("stopped before loading the planner")


@pytest.mark.parametrize(
    "option, value", [("--max-audio-mb", "inf"), ("--max-audio-mb", "nan"), ("--max-duration", "inf"),
                      ("--timeout", "0"), ("--read-timeout", "-1"), ("--queue", "-1"), ("--max-connections", "0")]
)
def test_a_bad_limit_fails_at_startup_in_one_line(capsys, option, value):
    assert main(["serve", option, value]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: bad option {option}: ")


def test_the_api_key_comes_from_a_file_the_environment_or_the_flag(tmp_path, monkeypatch):
    def key(*options: str) -> str | None:
        return config_from_args(_parser().parse_args(["serve", *options])).api_key

    (tmp_path / "key").write_text("from-file\n")
    monkeypatch.setenv("SPEECH_COPILOT_API_KEY", "from-env")
    assert key("--api-key-file", str(tmp_path / "key")) == "from-file"
    assert key() == "from-env"
    assert key("--api-key", "from-flag") == "from-flag"
    for path, reason in ((tmp_path / "missing", "No such file"), (tmp_path, "Is a directory")):
        with pytest.raises(CopilotError, match=reason):
            key("--api-key-file", str(path))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(CopilotError, match="the key alone on one line"):
        key("--api-key-file", str(tmp_path / "empty"))
    with pytest.raises(SystemExit):
        key("--api-key", "k", "--api-key-file", str(tmp_path / "key"))


class _Echo:
    """An agent whose answer names the model cache, as a tool's error about a missing model file does."""

    planner = SimpleNamespace(name="echo")

    def ask(self, clips: dict[str, Any], question: str, options: list[str] | None = None) -> Answer:
        missing = Settings.from_env().cache_dir / "models" / "whisper-small.pt"
        return Answer(question=question, text=f"asr failed: {missing} is missing", trace=Trace(planner="echo"))


def test_a_reply_names_no_folder_of_the_server_and_text_must_be_text():
    with TestClient(create_app(_Echo(), ServerConfig()), base_url="http://localhost") as http:
        reply = http.post("/v1/chat/completions", json=chat("What is said?"))
        assert reply.json()["choices"][0]["message"]["content"] == "asr failed: …/models/whisper-small.pt is missing"
        for field, body in (
            ("messages[0].content[0].text", chat("What is said? \ud800")),
            ("model", {**chat("What is said?"), "model": "\udfff"}),
        ):
            refused = http.post("/v1/chat/completions", content=json.dumps(body), headers={"Content-Type": "application/json"})
            assert refused.status_code == 400 and error_of(refused)["param"] == field
    assert public(f"{Path.home()}/x and {Path.home()}") == "…/x and …"
    assert public(f"{Path.home()}2/x") == f"{Path.home()}2/x"  # another folder that starts alike
