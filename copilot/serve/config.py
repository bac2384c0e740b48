"""`ServerConfig`, how `copilot serve` runs (where it listens, which planner answers, the limits on requests), and
`config_from_args`, which reads it from the command line."""

from __future__ import annotations

import argparse
import math

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from copilot.config import API_KEY_VARIABLE
from copilot.errors import CopilotError
from copilot.serve.security import api_key, is_loopback

MAX_CLIPS = 2


class ServerConfig(BaseModel):
    """How `copilot serve` runs: where it listens, which planner answers, and the limits on requests."""

    model_config = ConfigDict(allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    planner: str = Field("embedded", description="embedded[:MODEL], openai[:MODEL] or fixed:TOOLS")
    llm: str = Field("embedded", description="the answering LLM of a fixed planner")
    api_key: str | None = Field(
        None, min_length=1, description="when set, requests to /v1 must send it as a Bearer token"
    )
    allow_remote: bool = Field(False, description="listen beyond loopback without an API key")
    max_audio_mb: float = Field(25.0, gt=0, description="largest decoded size of one clip, in MB")
    max_duration: float = Field(600.0, gt=0, description="longest clip, in seconds")
    concurrency: int = Field(4, ge=1, description="questions worked on at once, decoding included")
    queue: int = Field(8, ge=0, description="questions that may wait for a free worker; more get a 503")
    timeout: float = Field(300.0, gt=0, description="seconds from a request's arrival to its answer; past it, 504")
    read_timeout: float = Field(30.0, gt=0, description="seconds a client has to send a request's head, then its body")
    max_connections: int = Field(100, ge=1, description="open connections; uvicorn answers more with a 503")

    @model_validator(mode="after")
    def _remote_needs_a_key(self) -> ServerConfig:
        if self.api_key is None and not is_loopback(self.host) and not self.allow_remote:
            raise ValueError(
                f"serving on {self.host} without an API key would let anyone who reaches it use it: set "
                f"{API_KEY_VARIABLE} or --api-key-file, or pass --allow-remote"
            )
        return self

    @property
    def max_audio_bytes(self) -> int:
        return int(self.max_audio_mb * 1_000_000)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body: two clips in base64 plus room for the text."""
        return MAX_CLIPS * base64_length(self.max_audio_bytes) + 1_000_000


def base64_length(n_bytes: int) -> int:
    """How many base64 characters encode ``n_bytes`` bytes."""
    return 4 * math.ceil(n_bytes / 3)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The server's settings from ``copilot serve``'s options; a bad one is a one-line `CopilotError`."""
    try:
        return ServerConfig(
            host=args.host,
            port=args.port,
            planner=args.planner,
            llm=args.llm,
            api_key=api_key(args),
            allow_remote=args.allow_remote,
            max_audio_mb=args.max_audio_mb,
            max_duration=args.max_duration,
            concurrency=args.concurrency,
            queue=args.queue,
            timeout=args.timeout,
            read_timeout=args.read_timeout,
            max_connections=args.max_connections,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:
            raise CopilotError(error["msg"].removeprefix("Value error, ")) from None
        raise CopilotError(f"bad option --{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None
