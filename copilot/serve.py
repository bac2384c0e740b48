"""`copilot serve`: an OpenAI-compatible chat endpoint that answers questions about audio, and a web page.

    POST /v1/chat/completions   messages with text and ``input_audio`` parts (base64 wav or mp3), as in
                                OpenAI's audio-input chat API; the reply is a ``chat.completion`` whose
                                extra field ``copilot`` holds the answer's program, evidence and timings;
                                ``stream: true`` sends it as server-sent ``chat.completion.chunk`` events
    GET  /v1/models             the one model this server answers as
    GET  /                      the web page: upload or record a clip, ask, see the answer and the evidence

The first ``input_audio`` of the user messages is the clip ``audio1``, a second one ``audio2``; the
question is the text of the last user message, and options written ``(a) ... (b) ...`` in it make it
multiple choice. The request's ``model`` is echoed back and selects nothing: the planner is chosen when
the server starts. One `Copilot` serves every request, so each model is loaded once; the LLM and the
tools serialise their own calls where a model is not thread-safe.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hmac
import json
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from copilot.answer import Answer
from copilot.audio import Audio, load
from copilot.errors import AudioError, CopilotError

if TYPE_CHECKING:
    from copilot.agent import Copilot

MODEL_ID = "speech-copilot"
API_KEY_VARIABLE = "SPEECH_COPILOT_API_KEY"
WEB = Path(__file__).parent / "web"
HEARTBEAT = 10.0  # seconds between SSE comments while an answer is being worked out
MAX_CLIPS = 2
log = logging.getLogger("copilot.serve")


class ServerConfig(BaseModel):
    """How `copilot serve` runs: where it listens, which planner answers, and the limits on requests."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    planner: str = Field("embedded", description="embedded[:MODEL], openai[:MODEL] or fixed:TOOLS")
    llm: str = Field("embedded", description="the answering LLM of a fixed planner")
    api_key: str | None = Field(None, description="when set, requests to /v1 must send it as a Bearer token")
    max_audio_mb: float = Field(25.0, gt=0, description="largest decoded size of one clip, in MB")
    max_duration: float = Field(600.0, gt=0, description="longest clip, in seconds")
    concurrency: int = Field(4, ge=1, description="questions worked on at once; more wait their turn")

    @property
    def max_audio_bytes(self) -> int:
        return int(self.max_audio_mb * 1_000_000)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body: two clips in base64 plus room for the text."""
        return MAX_CLIPS * _base64_length(self.max_audio_bytes) + 1_000_000


# ---- request bodies ----------------------------------------------------------------------------


class InputAudio(BaseModel):
    """A clip sent inline: base64 bytes of a wav or mp3 file, as OpenAI's ``input_audio``."""

    data: str = Field(description="base64 of the file's bytes (a data: URL is accepted too)")
    format: Literal["wav", "mp3"]


class ContentPart(BaseModel):
    """One part of a message's content: text or audio."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "input_audio"]
    text: str | None = None
    input_audio: InputAudio | None = None

    @model_validator(mode="after")
    def _has_its_payload(self) -> ContentPart:
        if getattr(self, self.type) is None:
            raise ValueError(f"a part of type {self.type!r} needs a {self.type!r} field")
        return self


class Message(BaseModel):
    """A chat message; plain-string content is read as one text part."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: list[ContentPart] = Field(default_factory=list)

    @field_validator("content", mode="before")
    @classmethod
    def _text_as_part(cls, value: Any) -> Any:
        if value is None:
            return []
        return [{"type": "text", "text": value}] if isinstance(value, str) else value


class ChatRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``; sampling options an OpenAI client may send are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


# ---- response bodies ---------------------------------------------------------------------------


class ChatMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """OpenAI's ``chat.completion``, with the copilot's full answer in the extra field ``copilot``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    copilot: Answer


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed reply; the last one carries the full answer in ``copilot``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    copilot: Answer | None = None


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "speech-copilot"
    planner: str = Field(description="the planner that answers, chosen when the server started")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape, which its clients turn into exceptions with the message."""

    error: ErrorBody


class ApiError(Exception):
    """A request the server refuses: the HTTP status, a message for the user and OpenAI's error code."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "invalid_request_error")
        self.status = status
        self.body = ErrorResponse(error=ErrorBody(message=message, type=kind, code=code, param=param))


# ---- the service -------------------------------------------------------------------------------


class Service:
    """The endpoints, around one shared `Copilot` and a limit on how many questions run at once."""

    def __init__(self, agent: Copilot, config: ServerConfig):
        self.agent = agent
        self.config = config
        self.started = int(time.time())
        self.limiter = anyio.CapacityLimiter(config.concurrency)

    async def models(self, request: HttpRequest) -> JSONResponse:
        """``GET /v1/models``: the one model id this server answers as."""
        self._authorise(request)
        card = ModelCard(created=self.started, planner=self.agent.planner.name)
        return JSONResponse(ModelList(data=[card]).model_dump(mode="json"))

    async def chat(self, request: HttpRequest) -> JSONResponse | StreamingResponse:
        """``POST /v1/chat/completions``: answer the last user message's question about its clips."""
        self._authorise(request)
        raw = await self._read_body(request)
        # JSON, base64 and audio decoding take a while for large clips: keep them off the event loop
        body, question, clips = await anyio.to_thread.run_sync(prepare, raw, self.config)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            events = self._events(reply_id, created, body.model, clips, question)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = await self._ask(clips, question)
        completion = ChatCompletion(
            id=reply_id,
            created=created,
            model=body.model,
            choices=[Choice(message=ChatMessage(content=answer.text))],
            copilot=answer,
        )
        return JSONResponse(completion.model_dump(mode="json"))

    async def _ask(self, clips: dict[str, Audio], question: str) -> Answer:
        return await anyio.to_thread.run_sync(self.agent.ask, clips, question, limiter=self.limiter)

    async def _events(
        self, reply_id: str, created: int, model: str, clips: dict[str, Audio], question: str
    ) -> AsyncIterator[str]:
        """The reply as server-sent events: the role at once, comments while the tools work, then the answer."""

        def chunk(delta: Delta, finish: Literal["stop"] | None = None, answer: Answer | None = None) -> str:
            body = ChatCompletionChunk(
                id=reply_id,
                created=created,
                model=model,
                choices=[ChunkChoice(delta=delta, finish_reason=finish)],
                copilot=answer,
            )
            return f"data: {body.model_dump_json(exclude_none=True)}\n\n"

        yield chunk(Delta(role="assistant", content=""))
        task = asyncio.ensure_future(self._ask(clips, question))
        while not (await asyncio.wait({task}, timeout=HEARTBEAT))[0]:
            yield ": working\n\n"
        try:
            answer = task.result()
        except Exception as exc:  # the status line is sent: report any failure as an event
            log.exception("answering failed")
            error = ErrorResponse(
                error=ErrorBody(message=f"answering failed: {exc}", type="server_error", code="server_error")
            )
            yield f"data: {error.model_dump_json()}\n\n"
            return
        yield chunk(Delta(content=answer.text))
        yield chunk(Delta(), finish="stop", answer=answer)
        yield "data: [DONE]\n\n"

    def _authorise(self, request: HttpRequest) -> None:
        """Refuse the request unless it carries the server's API key (compared in constant time), when one is set."""
        if self.config.api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.config.api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send it as 'Authorization: Bearer KEY'", "invalid_api_key")

    async def _read_body(self, request: HttpRequest) -> bytes:
        """The request body, refused with a 4xx when it is not declared as JSON or is larger than the limit."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(
                415, f"expected Content-Type: application/json, got {kind or 'none'}", "unsupported_media_type"
            )
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(
                413, f"request body of {int(declared):,} bytes is above the {limit:,}-byte limit", "request_too_large"
            )
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > limit:
                raise ApiError(413, f"request body is above the {limit:,}-byte limit", "request_too_large")
        return bytes(body)


def prepare(raw: bytes, config: ServerConfig) -> tuple[ChatRequest, str, dict[str, Audio]]:
    """The parsed request, its question and its decoded clips; a 4xx `ApiError` for anything malformed."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", "invalid_json") from None
    try:
        body = ChatRequest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        raise ApiError(400, f"{where or 'body'}: {message}", "invalid_request", param=where or None) from None
    question, parts = question_and_audio(body)
    clips = [(decode_audio(part, f"audio{i}", config.max_audio_bytes), part.format) for i, part in enumerate(parts, 1)]
    return body, question, load_clips(clips, config.max_duration)


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


def decode_audio(part: InputAudio, name: str, max_bytes: int) -> bytes:
    """The bytes of one clip, refused when the base64 is broken or the clip is larger than ``max_bytes``."""
    data = part.data.partition(",")[2] if part.data.startswith("data:") else part.data
    data = "".join(data.split())  # encoders that wrap lines
    too_large = f"{name} is larger than the {max_bytes / 1e6:g} MB limit"
    if len(data) > _base64_length(max_bytes):
        raise ApiError(413, too_large, "audio_too_large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{name}: input_audio.data is not valid base64", "invalid_base64") from None
    if not raw:
        raise ApiError(400, f"{name}: input_audio.data is empty", "invalid_audio")
    if len(raw) > max_bytes:
        raise ApiError(413, too_large, "audio_too_large")
    return raw


def load_clips(raw: Sequence[tuple[bytes, str]], max_duration: float) -> dict[str, Audio]:
    """Decode each clip through a temporary file (`copilot.audio.load` reads files), named audio1, audio2."""
    clips: dict[str, Audio] = {}
    with tempfile.TemporaryDirectory(prefix="copilot-serve-") as folder:
        for i, (data, suffix) in enumerate(raw, 1):
            name = f"audio{i}"
            path = Path(folder) / f"{name}.{suffix}"
            path.write_bytes(data)
            try:
                clips[name] = load(path, max_duration=max_duration)
            except AudioError as exc:
                # the temporary path and the environment-variable hint mean nothing to a remote client
                message = str(exc).replace(f": {path}", "").replace(str(path), "the clip")
                message = message.replace(" (raise SPEECH_COPILOT_MAX_DURATION)", "")
                raise ApiError(400, f"{name}: {message}", "invalid_audio") from None
    return clips


def _base64_length(n_bytes: int) -> int:
    return 4 * math.ceil(n_bytes / 3)


async def _api_error(request: HttpRequest, exc: Exception) -> JSONResponse:
    """A refused request in OpenAI's error shape."""
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body.model_dump(mode="json"), status_code=exc.status)


async def _http_error(request: HttpRequest, exc: Exception) -> JSONResponse:
    """Starlette's own 404 and 405 in OpenAI's error shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        ApiError(exc.status_code, message, code).body.model_dump(mode="json"), status_code=exc.status_code
    )


async def _server_error(request: HttpRequest, exc: Exception) -> JSONResponse:
    """Any other failure as a 500 in OpenAI's error shape (Starlette then re-raises it for the server's log)."""
    body = ErrorResponse(
        error=ErrorBody(
            message=f"internal error: {type(exc).__name__}: {exc}", type="server_error", code="server_error"
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=500)


async def _page(request: HttpRequest) -> FileResponse:
    """The web page."""
    return FileResponse(WEB / "index.html")


def create_app(agent: Copilot, config: ServerConfig) -> Starlette:
    """The web application around ``agent``: the OpenAI-compatible API and the page."""
    service = Service(agent, config)
    routes = [
        Route("/", _page),
        Route("/v1/models", service.models, methods=["GET"]),
        Route("/v1/chat/completions", service.chat, methods=["POST"]),
        Mount("/web", StaticFiles(directory=WEB), name="web"),
    ]
    handlers = {ApiError: _api_error, HTTPException: _http_error, Exception: _server_error}
    return Starlette(routes=routes, exception_handlers=handlers)


def serve(config: ServerConfig) -> None:
    """Load the planner once, then serve until interrupted."""
    import uvicorn

    from copilot.agent import Copilot
    from copilot.planners import load_planner

    print(f"loading the planner {config.planner} ...", file=sys.stderr)
    agent = Copilot(load_planner(config.planner, config.llm))
    print(f"serving on http://{config.host}:{config.port}/ (API: /v1/chat/completions)", file=sys.stderr, flush=True)
    uvicorn.run(
        create_app(agent, config), host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=5
    )


def serve_from_args(args: argparse.Namespace) -> None:
    """Run ``copilot serve`` with the command line's options."""
    try:
        config = ServerConfig(
            host=args.host,
            port=args.port,
            planner=args.planner,
            llm=args.llm,
            api_key=args.api_key or os.environ.get(API_KEY_VARIABLE) or None,
            max_audio_mb=args.max_audio_mb,
            max_duration=args.max_duration,
            concurrency=args.concurrency,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CopilotError(f"bad option --{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None
    serve(config)
