"""Tool outputs kept in SQLite, so a second question about the same clip reuses the first one's work."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from copilot import backends
from copilot.config import Settings
from copilot.tool import Clips, Tool, ToolInput


def default_path() -> Path:
    """The SQLite file of the tool cache (and the plans kept beside it), in the cache folder."""
    return Settings.from_env().cache_dir / "tool-cache.sqlite"


def open_table(path: Path, schema: str) -> sqlite3.Connection:
    """A SQLite file shared by threads and processes (WAL), with the table ``schema`` created if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS {schema}")
    return db


class ToolCache:
    """Outputs keyed by (the sha256 of every clip the call reads, tool name, tool version, arguments)."""

    def __init__(self, path: Path | None = None):
        self._db = open_table(path or default_path(), "outputs (key TEXT PRIMARY KEY, tool TEXT, output TEXT)")
        self._lock = threading.Lock()

    @staticmethod
    def key(tool: Tool, args: ToolInput, clips: Clips) -> str:
        clip_shas = {field: clips[getattr(args, field)].sha256 for field in args.clip_fields if getattr(args, field) in clips}
        parts = [tool.name, tool.version, clip_shas, args.model_dump(mode="json", exclude=set(args.clip_fields))]
        if tag := backends.cache_tag(tool.name):  # a non-default backend and its checkpoint
            parts.append(tag)
        payload = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT output FROM outputs WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, tool: str, output: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", (key, tool, json.dumps(output)))
