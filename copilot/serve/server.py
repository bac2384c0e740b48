"""Running the application under uvicorn: `HeadDeadline` (a deadline on each request's head), `run` with the
limits on connections, and `serve` and `serve_from_args`, which load the planner and serve until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.logging import DefaultFormatter
from uvicorn.protocols.http.h11_impl import H11Protocol

from copilot.serve.app import create_app
from copilot.serve.config import ServerConfig, config_from_args
from copilot.serve.security import is_loopback

MAX_HEAD_BYTES = 16 * 1024  # the request line and headers


class HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head: a connection that has not sent a whole request
    line and headers within ``head_timeout`` seconds of opening (or of its last response) is closed. uvicorn has no
    such deadline, so idle or trickling connections would hold their places under ``limit_concurrency`` for good."""

    head_timeout = 30.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_late)

    def _head_late(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def run(app: ASGIApp, config: ServerConfig) -> None:
    """Serve ``app`` with uvicorn under ``config``'s limits on connections, until interrupted."""
    _log_to_stderr()
    protocol = type("HeadDeadline", (HeadDeadline,), {"head_timeout": config.read_timeout})
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        http=protocol,
        limit_concurrency=config.max_connections,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


def serve(config: ServerConfig) -> None:
    """Load the planner once, then serve until interrupted."""
    from copilot.agent import Copilot
    from copilot.planners import load_planner

    if config.api_key is None and not is_loopback(config.host):
        print(
            f"warning: serving on {config.host} without an API key (--allow-remote): anyone who can reach it can use it",
            file=sys.stderr,
        )
    print(f"loading the planner {config.planner} ...", file=sys.stderr)
    loaded = load_planner(config.planner, config.llm)
    agent = Copilot(loaded.planner, loaded.llm, amend=loaded.amend)
    print(f"serving on http://{config.host}:{config.port}/ (API: /v1/chat/completions)", file=sys.stderr, flush=True)
    run(create_app(agent, config), config)


def _log_to_stderr() -> None:
    """Send the copilot's own log (each failed request's traceback under its id, each tool's failure) to stderr,
    in uvicorn's format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    logger = logging.getLogger("copilot")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve_from_args(args: argparse.Namespace) -> None:
    """Run ``copilot serve`` with the command line's options."""
    serve(config_from_args(args))
