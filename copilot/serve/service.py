"""`Service`, the API's endpoints (chat and transcription): authorisation, the checks on a request's headers, its body read under a size and
time limit, its work queued at the gate, and the wait for the answer under the request's deadline while the client
is still connected, the reply sent whole or as server-sent events."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import Response, StreamingResponse

from copilot.answering.models import Answer
from copilot.errors import QuestionError
from copilot.progress import reported_to
from copilot.serve.admission import Gate, Job, Place
from copilot.serve.api import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    ErrorBody,
    ErrorResponse,
    ModelCard,
    ModelList,
    Progress,
    Reply,
    TranscriptFormat,
)
from copilot.serve.config import ServerConfig
from copilot.serve.errors import ApiError, ClientGone, for_client, incident, json_response, public
from copilot.serve.parse import prepare, prepare_transcription
from copilot.transcript import WRITERS, transcript

if TYPE_CHECKING:
    from copilot.agent import Copilot

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
Reader = Callable[[bytes], tuple[P, Callable[[], R]]]
"""What a request's body is read into on a thread of the gate: what its reply needs at once, and the rest of its
work (an answer, a transcript)."""

MEDIA_TYPES: dict[TranscriptFormat, str] = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}

HEARTBEAT = 10.0  # seconds between SSE comments while an answer is being worked out...
PROGRESS_EVERY = 1.0  # ...or, while a step's progress changes, between two comments that show it
POLL = 0.25  # seconds between checks that a waiting client is still connected
log = logging.getLogger("copilot.serve")


def _settle(target: asyncio.Future[T], outcome: T | Exception) -> None:
    """Give ``target`` its result or exception, unless it is settled (or abandoned) already."""
    if target.done():
        return
    if isinstance(outcome, Exception):
        target.set_exception(outcome)
    else:
        target.set_result(outcome)


class Service:
    """The endpoints, around one shared `Copilot` and the gate that bounds the work at once and the work waiting."""

    def __init__(self, agent: Copilot, config: ServerConfig):
        self.agent = agent
        self.config = config
        self.started = int(time.time())
        self.gate = Gate(config.concurrency, config.queue)

    async def models(self, request: HttpRequest) -> Response:
        """``GET /v1/models``: the one model id this server answers as."""
        self._authorise(request)
        card = ModelCard(created=self.started, planner=self.agent.planner.name)
        return json_response(ModelList(data=[card]))

    async def chat(self, request: HttpRequest) -> Response:
        """``POST /v1/chat/completions``: answer the last user message's question about its clips."""
        deadline = asyncio.get_running_loop().time() + self.config.timeout
        job = await self._admit(request, deadline, self._read_chat)
        reply = await self._wait(request, job.parsed, job, deadline)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if reply.stream:
            events = self._events(reply_id, created, reply, job, deadline)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = await self._wait(request, job.answered, job, deadline)
        assert answer is not None  # parsed, so answered
        completion = ChatCompletion(
            id=reply_id,
            created=created,
            model=reply.model,
            choices=[Choice(message=ChatMessage(content=answer.text))],
            copilot=answer,
        )
        return json_response(completion)

    async def transcriptions(self, request: HttpRequest) -> Response:
        """``POST /v1/audio/transcriptions``: the recording's transcript with speakers, as `copilot transcript`
        writes it, from the tool cache the agent uses (a clip asked about already runs no model again)."""
        deadline = asyncio.get_running_loop().time() + self.config.timeout
        job = await self._admit(request, deadline, self._read_transcription)
        form = await self._wait(request, job.parsed, job, deadline)
        document = await self._wait(request, job.answered, job, deadline)
        assert document is not None  # parsed, so written
        return Response(public(document), media_type=MEDIA_TYPES[form])

    async def _admit(self, request: HttpRequest, deadline: float, read: Reader[P, R]) -> Job[P, R]:
        """The request's work, queued in its place at the gate once its headers are checked and its body read."""
        self._authorise(request)
        self._check_headers(request)
        with self.gate.place() as place:
            return self._start(place, await self._read_body(request, deadline), read)

    def _start(self, place: Place, raw: bytes, read: Reader[P, R]) -> Job[P, R]:
        """Queue the request's work in its place; the work reports back on the event loop."""
        loop = asyncio.get_running_loop()
        parsed: asyncio.Future[P] = loop.create_future()

        def report(outcome: P | Exception) -> None:
            loop.call_soon_threadsafe(_settle, parsed, outcome)

        abandoned = threading.Event()
        work = self.gate.submit(place, self._work, [raw], read, report, abandoned)
        return Job(parsed, asyncio.wrap_future(work, loop=loop), abandoned)

    @staticmethod
    def _work(
        parcel: list[bytes], read: Reader[P, R], report: Callable[[P | Exception], None], abandoned: threading.Event
    ) -> R | None:
        """A request's work, on a thread of the gate: ``read`` the body (taken out of ``parcel``, so that it is freed
        once read) and decode its clips, report what the reply needs, then do the rest; None when the request was
        refused (``report`` got the refusal, or the failure) or abandoned before the rest began."""
        try:
            reply, rest = read(parcel.pop())
        except Exception as exc:  # noqa: BLE001 - handed to the request, which answers it or logs it as a 500
            report(exc)
            return None
        report(reply)
        if abandoned.is_set():
            return None
        return rest()

    def _read_chat(self, raw: bytes) -> tuple[Reply, Callable[[], Answer]]:
        """A chat request's reply (model, stream, progress) and its answer to work out."""
        body, question, clips = prepare(raw, self.config)  # the body, with its base64 audio, is freed on return
        progress = Progress()

        def answer() -> Answer:
            try:
                with reported_to(progress):
                    return self.agent.ask(clips, question)
            except QuestionError as exc:  # one that asks too many things at once
                raise ApiError(400, for_client(str(exc)), "invalid_question", "messages") from None

        return Reply(body.model, body.stream, progress), answer

    def _read_transcription(self, raw: bytes) -> tuple[TranscriptFormat, Callable[[], str]]:
        """A transcription request's format and its document to write."""
        body, audio = prepare_transcription(raw, self.config)
        form, speakers = body.response_format, body.speakers
        return form, lambda: WRITERS[form](transcript(audio, speakers, cache=self.agent.cache))

    async def _wait(self, request: HttpRequest, future: asyncio.Future[T], job: Job[Any, Any], deadline: float) -> T:
        """``future``'s result; the job is abandoned when the deadline passes (504) or the client goes away."""
        loop = asyncio.get_running_loop()
        try:
            while not future.done():
                left = deadline - loop.time()
                if left <= 0:
                    log.warning("a request passed its %g s deadline; its work is abandoned", self.config.timeout)
                    raise ApiError(504, self._late(), "timeout")
                await asyncio.wait({future}, timeout=min(POLL, left))
                if not future.done() and await request.is_disconnected():
                    log.info("a client went away; its request is dropped (or its running work abandoned)")
                    raise ClientGone()
            return future.result()
        finally:
            if not future.done():
                job.abandon()

    async def _events(self, reply_id: str, created: int, reply: Reply, job: Job[Reply, Answer], deadline: float) -> AsyncIterator[str]:
        """The reply as server-sent events: the role at once, comments while the tools work (``: working``, with the
        running step's progress when it has some: ``: working: asr: 40% (1440/3600 s)``, which clients ignore and
        the page shows), then the answer; a failure or the deadline is an error event, the status line being sent.
        Starlette cancels this generator when the client goes away, which abandons the job."""

        def chunk(delta: Delta, finish: Literal["stop"] | None = None, answer: Answer | None = None) -> str:
            body = ChatCompletionChunk(
                id=reply_id,
                created=created,
                model=reply.model,
                choices=[ChunkChoice(delta=delta, finish_reason=finish)],
                copilot=answer,
            )
            return f"data: {public(body.model_dump_json(exclude_none=True))}\n\n"

        def error(message: str, code: str) -> str:
            body = ErrorResponse(error=ErrorBody(message=message, type="server_error", code=code))
            return f"data: {public(body.model_dump_json())}\n\n"

        loop = asyncio.get_running_loop()
        yield chunk(Delta(role="assistant", content=""))
        shown, beat = "", loop.time()
        try:
            while not job.answered.done():
                left = deadline - loop.time()
                if left <= 0:
                    log.warning("a streamed request passed its %g s deadline; its work is abandoned", self.config.timeout)
                    yield error(self._late(), "timeout")
                    return
                await asyncio.wait({job.answered}, timeout=min(PROGRESS_EVERY, left))
                line = reply.progress.line
                if not job.answered.done() and (line != shown or loop.time() - beat >= HEARTBEAT):
                    yield f": working: {line}\n\n" if line else ": working\n\n"
                    shown, beat = line, loop.time()
        finally:
            if not job.answered.done():
                job.abandon()
        try:
            answer = job.answered.result()
        except ApiError as exc:
            yield f"data: {exc.body.model_dump_json()}\n\n"
            return
        except Exception as exc:  # noqa: BLE001 - logged with its traceback by incident()
            yield error(incident("answering a streamed request failed", exc), "server_error")
            return
        assert answer is not None  # parsed, so answered
        yield chunk(Delta(content=answer.text))
        yield chunk(Delta(), finish="stop", answer=answer)
        yield "data: [DONE]\n\n"

    def _late(self) -> str:
        return f"no answer within the server's {self.config.timeout:g} s limit: try a shorter clip or a simpler question"

    def _authorise(self, request: HttpRequest) -> None:
        """Refuse the request unless it carries the server's API key (compared in constant time), when one is set."""
        if self.config.api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.config.api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send it as 'Authorization: Bearer KEY'", "invalid_api_key")

    def _check_headers(self, request: HttpRequest) -> None:
        """Refuse a body not declared as JSON, or declared larger than the limit, before anything is read."""
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

    async def _read_body(self, request: HttpRequest, deadline: float) -> bytes:
        """The request body, refused when it is larger than the limit (413) or slower than ``read_timeout`` (408)."""
        limit = self.config.max_body_bytes
        seconds = min(self.config.read_timeout, deadline - asyncio.get_running_loop().time())
        body = bytearray()
        try:
            with anyio.fail_after(seconds):
                async for piece in request.stream():
                    body += piece
                    if len(body) > limit:
                        raise ApiError(413, f"request body is above the {limit:,}-byte limit", "request_too_large")
        except TimeoutError:
            raise ApiError(
                408, f"the request body did not arrive within {seconds:.0f} s: send it faster", "request_timeout"
            ) from None
        except ClientDisconnect:
            raise ClientGone() from None
        return bytes(body)
