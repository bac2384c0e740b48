"""Who may use the server: the API key's sources (flag, file, environment), the refusal to listen beyond loopback
without one (`is_loopback`), and the Host header check against DNS rebinding (`allowed_hosts`, `HostCheck`)."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from copilot.config import API_KEY_VARIABLE
from copilot.errors import CopilotError
from copilot.serve.errors import ApiError

if TYPE_CHECKING:
    from copilot.serve.config import ServerConfig

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` reaches only this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(config: ServerConfig) -> frozenset[str] | None:
    """The Host header names a keyless server answers to; None for any.

    A web page elsewhere can rebind its own name to 127.0.0.1 and so reach a local server from the browser,
    but its requests still carry its own name as the Host. A server with a key needs no check (the page has no
    key), nor does a keyless one listening on every address by ``allow_remote``, which anyone may use anyway.
    """
    if config.api_key is not None or config.host in WILDCARD_HOSTS:
        return None
    own = f"[{config.host}]" if ":" in config.host else config.host
    return LOOPBACK_HOSTS | {own.lower()}


class HostCheck:
    """Answers 421 to any request whose Host header names no host in ``allowed`` (see `allowed_hosts`)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host_name(Headers(scope=scope).get("host", "")) not in self.allowed:
            port = (scope.get("server") or ("", "PORT"))[1]
            error = ApiError(
                421, f"this server answers only to localhost: open it as http://127.0.0.1:{port}/", "misdirected_request"
            )
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8000`` is ``[::1]``, ``localhost:80`` is ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


def api_key(args: argparse.Namespace) -> str | None:
    """The key /v1 requires: ``--api-key``, else the file ``--api-key-file`` holds, else $SPEECH_COPILOT_API_KEY, else
    none. The flag shows in the process list; the file and the variable do not."""
    if args.api_key_file:
        return read_key(Path(args.api_key_file))
    return args.api_key or os.environ.get(API_KEY_VARIABLE) or None


def read_key(path: Path) -> str:
    """The API key a file holds: its one line, surrounding whitespace dropped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CopilotError(f"--api-key-file {path}: cannot read it ({reason})") from None
    key = text.strip()
    if not key or "\n" in key:
        raise CopilotError(f"--api-key-file {path}: expected the key alone on one line")
    return key
