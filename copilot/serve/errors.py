"""What a client sees of a failure: `ApiError` (a refusal in OpenAI's error shape), `incident` (an unexpected failure,
logged under a request id), and the scrubbing that keeps this machine's folders and settings out of every reply."""

from __future__ import annotations

import functools
import logging
import re
import sys
import tempfile
import uuid
from pathlib import Path

from pydantic import BaseModel
from starlette.responses import Response

from copilot.config import Settings
from copilot.errors import CopilotError
from copilot.serve.api import ErrorBody, ErrorResponse

_SETTING_HINT = re.compile(r" \(raise SPEECH_COPILOT_\w+\)")
log = logging.getLogger("copilot.serve")


class ApiError(Exception):
    """A request the server refuses: the HTTP status, a message for the user and OpenAI's error code."""

    def __init__(
        self, status: int, message: str, code: str, param: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "invalid_request_error")
        self.status = status
        self.headers = headers
        self.body = ErrorResponse(
            error=ErrorBody(message=message, type="server_error" if status >= 500 else kind, code=code, param=param)
        )

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


class ClientGone(ApiError):
    """The client closed its connection before its answer was ready: nobody reads the reply."""

    def __init__(self) -> None:
        super().__init__(499, "the client closed the request", "client_closed")


def incident(what: str, exc: BaseException) -> str:
    """Log an unexpected failure with its traceback under a new request id, and return the message that tells the
    client that id and nothing of the failure's inside."""
    request_id = uuid.uuid4().hex[:12]
    log.error("%s [request %s]", what, request_id, exc_info=exc)
    return f"internal error: the server could not answer (request {request_id}; its log has the details)"


@functools.cache
def _private_folders() -> re.Pattern[str]:
    """The folders of this machine a reply must not show (cache, models, heads, home, temporary folder and the
    installation), longest first, as one pattern."""
    try:
        settings = Settings.from_env()
        configured = [settings.cache_dir, settings.model_dir, settings.heads_dir]
    except CopilotError:
        configured = []
    installed = [Path.home(), Path(tempfile.gettempdir()), Path(sys.prefix), Path(__file__).resolve().parents[2]]
    folders = {str(f) for f in [*configured, *installed] if f is not None and len(str(f)) > 1}
    names = "|".join(re.escape(f) for f in sorted(folders, key=len, reverse=True))
    return re.compile(f"(?:{names})(?![\\w.-])")


def public(text: str) -> str:
    """``text`` with every folder of this machine (a model's cache path in a tool's error) shown as ``…``."""
    return _private_folders().sub("…", text)


def json_response(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``model`` as a JSON response, no folder of this machine in it (NaN and infinities as null)."""
    return Response(public(model.model_dump_json()), status, headers, media_type="application/json")


def for_client(message: str) -> str:
    """An error message of the copilot without its hint to raise a setting, which a remote client cannot."""
    return _SETTING_HINT.sub("", message)
