"""Reading a chat or transcription request on a worker thread: its JSON, its question and its clips (base64 decoded, then loaded as
audio), each thing malformed refused with a 4xx `ApiError`."""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from copilot.audio import Audio, load
from copilot.errors import AudioError, QuestionError
from copilot.question.request import check_length
from copilot.serve.api import ChatRequest, InputAudio, TranscriptionRequest
from copilot.serve.config import MAX_CLIPS, ServerConfig, base64_length
from copilot.serve.errors import ApiError, for_client

MAX_CONTAINERS = 1000  # JSON objects and arrays in a request body: a chat request has a few dozen


def prepare(raw: bytes, config: ServerConfig) -> tuple[ChatRequest, str, dict[str, Audio]]:
    """The parsed chat request, its question and its decoded clips; a 4xx `ApiError` for anything malformed."""
    body = validated(raw, ChatRequest)
    question, parts = question_and_audio(body)
    try:
        check_length(question)
    except QuestionError as exc:
        raise ApiError(400, for_client(str(exc)), "question_too_long", "messages") from None
    clips = {
        f"audio{i}": (decode_audio(part, f"audio{i}", config.max_audio_bytes), part.format)
        for i, part in enumerate(parts, 1)
    }
    return body, question, load_clips(clips, config.max_duration)


def prepare_transcription(raw: bytes, config: ServerConfig) -> tuple[TranscriptionRequest, Audio]:
    """The parsed transcription request and its decoded recording; a 4xx `ApiError` for anything malformed."""
    body = validated(raw, TranscriptionRequest)
    data = decode_audio(body.file, "file", config.max_audio_bytes)
    return body, load_clips({"file": (data, body.file.format)}, config.max_duration)["file"]


Body = TypeVar("Body", bound=BaseModel)


def validated(raw: bytes, model: type[Body]) -> Body:
    """``raw`` read as JSON into ``model``: a 400 for too many objects and arrays, bad JSON, or a field in error,
    which it names."""
    containers = raw.count(b"{") + raw.count(b"[")  # brackets inside strings too: a bound, found in linear time
    if containers > MAX_CONTAINERS:
        raise ApiError(
            400, f"request body has over {MAX_CONTAINERS} JSON objects and arrays; a request has a few dozen",
            "invalid_json",
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", "invalid_json") from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply to be a request", "invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        raise ApiError(400, f"{where or 'body'}: {message}", "invalid_request", param=where or None) from None


def question_and_audio(body: ChatRequest) -> tuple[str, list[InputAudio]]:
    """The question (the last user message's text) and the clips (every user message's audio, in order)."""
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise ApiError(
            400, "no user message: send the question and the audio in a message with role 'user'", "missing_question"
        )
    parts = [p.input_audio for m in users for p in m.content if p.type == "input_audio" and p.input_audio]
    question = " ".join(p.text.strip() for p in users[-1].content if p.type == "text" and p.text).strip()
    if not parts:
        raise ApiError(
            400, "no audio: add an input_audio part (base64 wav or mp3) to a user message", "missing_audio", "messages"
        )
    if len(parts) > MAX_CLIPS:
        raise ApiError(400, f"at most {MAX_CLIPS} clips per request, got {len(parts)}", "too_many_clips", "messages")
    if not question:
        raise ApiError(400, "no question: the last user message needs a text part", "missing_question", "messages")
    return question, parts


_WHITESPACE = b" \t\n\r\f\v"


def decode_audio(part: InputAudio, name: str, max_bytes: int) -> bytes:
    """The bytes of one clip, refused when the base64 is broken or the clip is larger than ``max_bytes``.

    The length is checked before anything is copied, then whitespace (encoders that wrap lines) is dropped in one
    linear pass; twice the base64 length allows any line wrapping while bounding what that pass reads.
    """
    data = part.data.partition(",")[2] if part.data.startswith("data:") else part.data
    too_large = ApiError(413, f"{name} is larger than the {max_bytes / 1e6:g} MB limit", "audio_too_large")
    if len(data) > 2 * base64_length(max_bytes):
        raise too_large
    if not data.isascii():
        raise ApiError(400, f"{name}: its data is not valid base64", "invalid_base64")
    packed = data.encode("ascii").translate(None, _WHITESPACE)
    if len(packed) > base64_length(max_bytes):
        raise too_large
    try:
        raw = base64.b64decode(packed, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{name}: its data is not valid base64", "invalid_base64") from None
    if not raw:
        raise ApiError(400, f"{name}: its data is empty", "invalid_audio")
    if len(raw) > max_bytes:
        raise too_large
    return raw


def load_clips(raw: Mapping[str, tuple[bytes, str]], max_duration: float) -> dict[str, Audio]:
    """Decode each clip (its name: its bytes and format) through a temporary file (`copilot.audio.load` reads
    files)."""
    clips: dict[str, Audio] = {}
    with tempfile.TemporaryDirectory(prefix="copilot-serve-") as folder:
        for name, (data, suffix) in raw.items():
            path = Path(folder) / f"{name}.{suffix}"
            path.write_bytes(data)
            try:
                clips[name] = load(path, max_duration=max_duration)
            except AudioError as exc:
                message = str(exc).replace(f": {path}", "").replace(str(path), "the clip")  # a temporary path
                raise ApiError(400, f"{name}: {for_client(message)}", "invalid_audio") from None
    return clips
