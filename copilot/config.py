"""Settings read from the environment, with defaults that work offline."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from copilot.errors import CopilotError

API_KEY_VARIABLE = "SPEECH_COPILOT_API_KEY"  # the key `copilot serve` requires; read by the server alone, sent nowhere

_VARIABLES = {
    "cache_dir": "SPEECH_COPILOT_CACHE",
    "model_dir": "SPEECH_COPILOT_MODEL_DIR",
    "max_duration": "SPEECH_COPILOT_MAX_DURATION",
    "max_question_chars": "SPEECH_COPILOT_MAX_QUESTION",
    "heads_dir": "SPEECH_COPILOT_HEADS",
    "cache_mb": "SPEECH_COPILOT_CACHE_MB",
}


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "speech-copilot"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class Settings(BaseModel):
    """Where models and caches live and which limits apply.

    Every field has an environment variable: ``SPEECH_COPILOT_ALLOW_NETWORK`` and those in `_VARIABLES`
    (``SPEECH_COPILOT_CACHE``, ``_MODEL_DIR``, ``_MAX_DURATION``, ``_MAX_QUESTION``, ``_HEADS``, ``_CACHE_MB``).
    """

    cache_dir: Path = Field(default_factory=_default_cache)
    model_dir: Path | None = Field(
        None, description="a folder holding model files or parts by name, tried before any package"
    )
    max_duration: float = Field(
        10800.0, gt=0, allow_inf_nan=False, description="longest input audio accepted, in seconds (3 hours)"
    )
    max_question_chars: int = Field(4000, gt=0, description="longest question accepted, in characters")
    heads_dir: Path | None = Field(None, description="where `copilot learn` writes heads (default: <cache_dir>/heads)")
    allow_network: bool = Field(False, description="allow downloads from model hubs (never needed by default)")
    cache_mb: float = Field(500.0, gt=0, allow_inf_nan=False, description="largest size of the kept tool outputs, in MB")

    @field_validator("cache_dir", "model_dir", "heads_dir")
    @classmethod
    def _expand_home(cls, path: Path | None) -> Path | None:
        return path.expanduser() if path else path

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        values: dict[str, object] = {"allow_network": _truthy(env.get("SPEECH_COPILOT_ALLOW_NETWORK"))}
        values |= {field: env[name] for field, name in _VARIABLES.items() if env.get(name)}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = _VARIABLES.get(str(error["loc"][0]), str(error["loc"][0]))
            raise CopilotError(f"bad environment setting {name}={env.get(name)!r}: {error['msg']}") from None
