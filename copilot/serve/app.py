"""The Starlette application (`create_app`): its routes (the API and the page), its error handlers, and `Incidents`,
which answers an unexpected failure with a 500 that names a request id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from starlette import types as asgi
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request as HttpRequest
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from copilot.serve.config import ServerConfig
from copilot.serve.errors import ApiError, incident
from copilot.serve.security import HostCheck, allowed_hosts
from copilot.serve.service import Service

if TYPE_CHECKING:
    from copilot.agent import Copilot

WEB = Path(__file__).parent / "web"


async def _api_error(request: HttpRequest, exc: Exception) -> Response:
    """A refused request in OpenAI's error shape."""
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: HttpRequest, exc: Exception) -> Response:
    """Starlette's own 404 and 405 in OpenAI's error shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", code).response()


async def _page(request: HttpRequest) -> FileResponse:
    """The web page."""
    return FileResponse(WEB / "index.html")


class Incidents:
    """Answers any unexpected exception with a 500 in OpenAI's error shape that gives a request id, the traceback
    logged once under that id; one raised after the reply started (a stream's) can only be logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: asgi.Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if scope["type"] != "http":
                raise
            message = incident(f"{scope['method']} {scope['path']} failed", exc)
            if not started:
                await ApiError(500, message, "server_error").response()(scope, receive, send)


def create_app(agent: Copilot, config: ServerConfig) -> Starlette:
    """The web application around ``agent``: the OpenAI-compatible API and the page."""
    service = Service(agent, config)
    routes = [
        Route("/", _page),
        Route("/v1/models", service.models, methods=["GET"]),
        Route("/v1/chat/completions", service.chat, methods=["POST"]),
        Route("/v1/audio/transcriptions", service.transcriptions, methods=["POST"]),
        Mount("/web", StaticFiles(directory=WEB), name="web"),
    ]
    handlers = {ApiError: _api_error, HTTPException: _http_error}
    allowed = allowed_hosts(config)
    middleware = [Middleware(Incidents)]
    if allowed is not None:
        middleware.insert(0, Middleware(HostCheck, allowed=allowed))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.gate.close()

    return Starlette(routes=routes, exception_handlers=handlers, middleware=middleware, lifespan=lifespan)
