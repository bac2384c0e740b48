"""`copilot serve` as a real process on loopback, driven by the real `openai` client (and httpx for raw HTTP).

The server answers with the fixed planner ``duration,sound_events`` and the small LLM: open questions
go through the LLM; multiple-choice ones about the background are answered by the sound tags' label
match, which keeps the many-request tests short while every request still decodes audio and runs the graph.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf
from starlette.testclient import TestClient

from copilot.cli import _parser
from copilot.serve.api import ChatRequest
from copilot.serve.app import create_app
from copilot.serve.config import ServerConfig, config_from_args
from copilot.serve.parse import question_and_audio
from tests import corpora
from tests.servers import local_server

KEY = "test-key-1234"
LLM = "embedded:qwen2.5-coder-0.5b"
BACKGROUND = "What is the sound behind the voices? (a) rain (b) a dog barking"
@contextmanager
def running_server(*options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A `copilot serve` process on a free loopback port, started through the CLI; yields its base URL."""
    command = lambda port: [sys.executable, "-m", "copilot.cli", "serve", "--port", str(port), *options]  # noqa: E731
    with local_server(command, "/v1/models", "copilot serve", env=env) as url:
        yield url


def user(question: str, *clips: bytes, fmt: str = "wav") -> list[dict]:
    """One user message: the question and each clip as an input_audio part."""
    audio = [
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(c).decode(), "format": fmt}} for c in clips
    ]
    return [{"role": "user", "content": [{"type": "text", "text": question}, *audio]}]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    options = ["--planner", "fixed:duration,sound_events", "--llm", LLM, "--max-audio-mb", "1", "--max-duration", "30"]
    with running_server(*options, env={"SPEECH_COPILOT_API_KEY": KEY}) as url:
        yield url


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=600)


@pytest.fixture(scope="module")
def meeting(tmp_path_factory) -> bytes:
    return corpora.example_clip(tmp_path_factory.mktemp("example")).read_bytes()


def test_models_lists_the_served_model_and_planner(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["speech-copilot"]
    assert models[0].model_extra["planner"] == "fixed:duration,sound_events"


def test_an_open_question_is_answered_with_the_program_and_evidence(client, meeting):
    reply = client.chat.completions.create(
        model="anything", messages=user("How long is the clip, in seconds?", meeting)
    )
    assert reply.object == "chat.completion" and reply.model == "anything"
    assert reply.choices[0].finish_reason == "stop"
    assert "20" in reply.choices[0].message.content  # the clip is 20.47 s long
    answer = reply.model_extra["copilot"]
    assert answer["text"] == reply.choices[0].message.content
    assert [s["tool"] for s in answer["program"]["steps"]] == ["duration", "sound_events"]
    evidence = {e["tool"]: e for e in answer["evidence"]}
    assert evidence["duration"]["output"]["duration"] == pytest.approx(20.47, abs=0.01)
    assert "Rain" in [s["label"] for s in evidence["sound_events"]["output"]["sounds"]]
    assert answer["trace"]["answered_by"] == "llm" and answer["trace"]["timings"]["total"] > 0


def test_streaming_sends_chunks_then_the_answer_with_its_evidence(client, meeting):
    chunks = list(
        client.chat.completions.create(model="speech-copilot", messages=user(BACKGROUND, meeting), stream=True)
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("(a) rain")
    assert chunks[-1].choices[0].finish_reason == "stop"
    answer = chunks[-1].model_extra["copilot"]
    assert answer["choice"] == "(a) rain" and answer["trace"]["answered_by"] == "label match"


def test_audio_in_an_earlier_message_and_the_question_in_the_last():
    def part(data: str) -> dict:
        return {"type": "input_audio", "input_audio": {"data": data, "format": "mp3"}}

    body = ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Listen to these."}, part("QQ=="), part("Qg==")]},
                {"role": "assistant", "content": "Done."},
                {"role": "user", "content": "Is it the same speaker in both?"},
            ],
        }
    )
    question, clips = question_and_audio(body)
    assert question == "Is it the same speaker in both?"
    assert [c.data for c in clips] == ["QQ==", "Qg=="]


def _long_silence(folder: Path) -> bytes:
    path = folder / "long.wav"
    sf.write(path, np.zeros(8000 * 40, dtype=np.float32), 8000, subtype="PCM_U8")  # 40 s, 320 kB
    return path.read_bytes()


BAD_REQUESTS = {
    "no audio": (lambda m, tmp: user("What is said?"), 400, "no audio"),
    "broken base64": (
        lambda m, tmp: [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is said?"},
                    {"type": "input_audio", "input_audio": {"data": "UklGR@@@", "format": "wav"}},
                ],
            }
        ],
        400,
        "not valid base64",
    ),
    "not audio": (
        lambda m, tmp: user("What is said?", b"hello, this is not audio" * 50),
        400,
        "not an audio or video file",
    ),
    "unsupported format": (lambda m, tmp: user("What is said?", m, fmt="ogg"), 400, "input_audio.format"),
    "image part": (
        lambda m, tmp: [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        400,
        "content[0].type",
    ),
    "three clips": (lambda m, tmp: user("Which one?", m, m, m), 400, "at most 2 clips"),
    "no question": (lambda m, tmp: [{"role": "user", "content": [user("", m)[0]["content"][1]]}], 400, "no question"),
    "clip too large": (lambda m, tmp: user("What is said?", os.urandom(1_200_000)), 413, "larger than the 1 MB limit"),
    "body too large": (lambda m, tmp: user("What is said?", os.urandom(3_000_000)), 413, "request body"),
    "clip too long": (lambda m, tmp: user("What is said?", _long_silence(tmp)), 400, "above the 30 s limit"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_request_gets_a_clear_4xx_and_the_server_keeps_serving(case, client, meeting, tmp_path):
    make, status, message = BAD_REQUESTS[case]
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="speech-copilot", messages=make(meeting, tmp_path))
    assert caught.value.status_code == status
    assert message in caught.value.body["message"]
    assert caught.value.body["type"] == "invalid_request_error"
    assert client.models.list().data  # still serving


@pytest.mark.parametrize(
    "headers, content, status, message",
    [
        ({"Content-Type": "text/plain"}, b"What is said?", 415, "expected Content-Type: application/json"),
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b'{"model": "m", "messages": []}', 400, "messages"),
        ({"Content-Type": "application/json", "Authorization": "Bearer wrong"}, b"{}", 401, "API key"),
        ({"Content-Type": "application/json", "Authorization": ""}, b"{}", 401, "API key"),
    ],
)
def test_raw_http_errors_are_in_openais_error_shape(server, headers, content, status, message):
    headers = {"Authorization": f"Bearer {KEY}", **headers}
    reply = httpx.post(f"{server}/v1/chat/completions", content=content, headers=headers, timeout=60)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert message in error["message"] and error["type"] and error["code"]
    assert httpx.get(f"{server}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_unknown_paths_and_methods_answer_json(server):
    assert httpx.get(f"{server}/v1/nothing").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{server}/v1/chat/completions").status_code == 405


def test_concurrent_requests_are_all_answered(client, meeting):
    """Eight requests, four at a time (two open questions through the LLM, six answered by the tags)."""
    questions = [BACKGROUND, BACKGROUND, BACKGROUND, "Is it raining?"] * 2

    def ask(question: str) -> str:
        return (
            client.chat.completions.create(model="speech-copilot", messages=user(question, meeting))
            .choices[0]
            .message.content
        )

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, questions))
    assert all(r.startswith("(a) rain") for q, r in zip(questions, replies, strict=True) if q == BACKGROUND)
    assert all(r.strip() for r in replies)


def test_the_cli_reads_the_serve_options():
    args = _parser().parse_args(["serve", "--port", "9000", "--planner", "fixed:asr", "--api-key", "k"])
    assert (args.host, args.port, args.planner, args.api_key, args.max_audio_mb) == ("127.0.0.1", 9000, "fixed:asr", "k", 25.0)
    assert args.func.__name__ == "_serve"
    defaults = config_from_args(_parser().parse_args(["serve"])).model_dump()
    assert defaults == {**ServerConfig().model_dump(), "api_key": os.environ.get("SPEECH_COPILOT_API_KEY")}


class _BrokenAgent:
    """An agent whose every answer fails, as when the LLM process dies."""

    planner = SimpleNamespace(name="broken")

    def ask(self, clips, question, options=None):
        raise RuntimeError(f"the LLM process died in {corpora.ROOT}")


def test_a_failing_answer_is_a_500_or_an_error_event_with_a_request_id_and_the_server_keeps_serving(caplog):
    wav = io.BytesIO()
    sf.write(wav, 0.1 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220), 16000, format="WAV")
    with TestClient(create_app(_BrokenAgent(), ServerConfig()), base_url="http://localhost") as http:
        client = openai.OpenAI(base_url="http://localhost/v1", api_key="none", http_client=http, max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="m", messages=user("What is said?", wav.getvalue()))
        with pytest.raises(openai.APIError) as streamed:
            list(client.chat.completions.create(model="m", messages=user("What is said?", wav.getvalue()), stream=True))
        assert client.models.list().data[0].model_extra["planner"] == "broken"
    for error in (caught.value, streamed.value):
        message = error.body["message"]
        assert "could not answer (request " in message
        assert "RuntimeError" not in message and "died" not in message and str(corpora.ROOT) not in message
        request_id = message.split("(request ")[1].split(";")[0]
        logged = [r for r in caplog.records if request_id in r.getMessage()]
        assert logged and "the LLM process died" in str(logged[0].exc_info[1])


def transcribe(server: str, clip: bytes, key: str | None = KEY, **fields: object) -> httpx.Response:
    """``POST /v1/audio/transcriptions`` of ``clip`` as a wav, with ``fields`` in the body."""
    body = {"file": {"data": base64.b64encode(clip).decode(), "format": "wav"}, **fields}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server}/v1/audio/transcriptions", json=body, headers=headers, timeout=600)


def test_a_recordings_transcript_comes_as_subtitles_with_its_speakers(server, meeting):
    """The demo clip (two espeak-ng voices taking turns over rain): srt cues with both speakers and the words said."""
    reply = transcribe(server, meeting, response_format="srt")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/x-subrip")
    cues = reply.text.strip().split("\n\n")
    assert cues[0].startswith("1\n00:00:0") and " --> " in cues[0]
    lines = [cue.split("\n")[2] for cue in cues]
    assert {line.split("]")[0] for line in lines} == {"[S1", "[S2"}
    said = " ".join(lines).lower()
    assert "picnic" in said and "saturday" in said
    document = transcribe(server, meeting, response_format="json").json()  # from the kept asr and diarization
    assert [s["speaker"] for s in document["speakers"]] == ["S1", "S2"] and len(document["segments"]) == len(cues)


@pytest.mark.parametrize(
    "key, fields, status, message",
    [
        (KEY, {"response_format": "docx"}, 400, "response_format"),
        (None, {"response_format": "srt"}, 401, "API key"),
        ("wrong", {}, 401, "API key"),
    ],
)
def test_a_bad_transcription_request_is_refused_in_openais_error_shape(server, meeting, key, fields, status, message):
    reply = transcribe(server, meeting, key, **fields)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert message in error["message"] and error["code"]
