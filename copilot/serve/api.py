"""The OpenAI-shaped bodies of `copilot serve`: the chat and transcription requests it reads and the completion,
stream chunk, model list and error it answers with, as pydantic models; and `Reply`, what a chat reply needs of its
parsed request."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from copilot.answering.models import Answer

MODEL_ID = "speech-copilot"


# ---- request bodies ----------------------------------------------------------------------------


def _encodable(value: str) -> str:
    """``value``, refused when it holds a lone surrogate (a JSON escape such as ``\\ud800``), which is no text."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a lone surrogate escape (\\ud800-\\udfff), which is not text") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]


class InputAudio(BaseModel):
    """A clip sent inline: base64 bytes of a wav or mp3 file, as OpenAI's ``input_audio``."""

    data: str = Field(description="base64 of the file's bytes (a data: URL is accepted too)")
    format: Literal["wav", "mp3"]


class ContentPart(BaseModel):
    """One part of a message's content: text or audio."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "input_audio"]
    text: Text | None = None
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

    model: Text = Field(MODEL_ID, max_length=200)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


TranscriptFormat = Literal["txt", "srt", "vtt", "json"]


class TranscriptionRequest(BaseModel):
    """The body of ``POST /v1/audio/transcriptions``: OpenAI's fields, sent as JSON rather than multipart form data,
    the file as base64 in the chat request's ``input_audio`` shape. ``response_format`` takes the formats of
    `copilot transcript` (txt, srt, vtt, json), not OpenAI's ``text`` and ``verbose_json``; ``language``, ``prompt``
    and the other options an OpenAI client may send are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: Text = Field(MODEL_ID, max_length=200)
    file: InputAudio = Field(description="the recording: base64 of a wav or mp3 file, as chat's input_audio")
    response_format: TranscriptFormat = "json"
    speakers: bool = Field(True, description="label each segment with its speaker (S1, S2...), as WhisperX does")


class Progress:
    """The running step's progress line in a request's work (`copilot.progress.reported_to`), which its stream shows;
    "" between steps. Written by the work's threads, read by the event loop: a string is replaced whole."""

    def __init__(self) -> None:
        self.line = ""

    def __call__(self, line: str) -> None:
        self.line = line


class Reply(NamedTuple):
    """What the reply needs of its request, once parsed: the model name to echo, whether to stream, and where its
    work's progress is."""

    model: str
    stream: bool
    progress: Progress


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
