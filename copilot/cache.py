"""Tool outputs kept in SQLite, so a second question about the same clip reuses the first one's work."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from copilot import backends
from copilot.config import Settings
from copilot.tool import Clips, Tool, ToolInput, ToolOutput

log = logging.getLogger("copilot.cache")


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


EVICT_TO = 0.9  # an eviction leaves the kept outputs at this share of the bound, so that it runs seldom
CHECK_EVERY = 32  # writes between two checks of the size, from the first write of each cache opened


class ToolShare(BaseModel):
    """One tool's rows in the cache and their bytes."""

    tool: str
    rows: int
    bytes: int


class CacheInfo(BaseModel):
    """What the tool cache holds: its file, its rows and their bytes (all, and tool by tool), and its bound."""

    path: Path
    file_bytes: int = Field(description="the SQLite file and its write-ahead log on disk")
    rows: int
    bytes: int = Field(description="the rows' keys, tool names and outputs: what the bound counts")
    max_bytes: int
    tools: list[ToolShare]


class ToolCache:
    """Outputs keyed by (the sha256 of every clip the call reads, tool name, tool version, arguments), holding at most
    ``max_mb`` megabytes of rows (`Settings.cache_mb`, ``SPEECH_COPILOT_CACHE_MB``): past that, the least recently
    written rows are deleted.

    The bound counts the rows' bytes, checked every `CHECK_EVERY` writes; the file is somewhat larger (SQLite's pages,
    the index, the plans kept beside it) and never shrinks when rows are evicted, it only stops growing: `clear` gives
    the space back."""

    def __init__(self, path: Path | None = None, max_mb: float | None = None):
        self.path = path or default_path()
        self.max_bytes = int((Settings.from_env().cache_mb if max_mb is None else max_mb) * 1e6)
        self._db = open_table(self.path, "outputs (key TEXT PRIMARY KEY, tool TEXT, output TEXT, written REAL, size INTEGER)")
        _add_age_and_size(self._db)
        self._db.execute("CREATE INDEX IF NOT EXISTS outputs_by_age ON outputs (written, size)")
        self._lock = threading.Lock()
        self._writes = 0

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

    def read(self, tool: Tool, key: str) -> ToolOutput | None:
        """The kept output of the call ``key`` as ``tool``'s output, or None: none is kept, the row no longer reads as
        the tool's output (kept by an older version, or corrupt), or the cache cannot be read now (locked); the caller
        then runs the tool again."""
        try:
            row = self.get(key)
            return None if row is None else tool.output_model.model_validate(row)
        except (sqlite3.Error, ValueError) as exc:  # pydantic's and json's errors are ValueErrors
            log.warning("tool cache: not using %s's kept output (%s)", tool.name, exc)
            return None

    def keep(self, key: str, tool: str, result: ToolOutput) -> None:
        """Keep ``result`` for the next call; a cache that cannot be written now costs only that reuse."""
        try:
            self.put(key, tool, result.model_dump(mode="json"))
        except sqlite3.Error as exc:
            log.warning("tool cache: %s's output not kept (%s)", tool, exc)

    def put(self, key: str, tool: str, output: dict[str, Any]) -> None:
        text = json.dumps(output)
        size = len(key) + len(tool) + len(text.encode())
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO outputs (key, tool, output, written, size) VALUES (?, ?, ?, ?, ?)",
                (key, tool, text, time.time(), size),
            )
            self._writes += 1
            if self._writes % CHECK_EVERY == 1:
                self._evict()

    def _evict(self) -> None:
        """Over the bound, delete the least recently written rows until the rest fit in `EVICT_TO` of it."""
        total = self._db.execute("SELECT coalesce(sum(size), 0) FROM outputs").fetchone()[0]
        if total <= self.max_bytes:
            return
        (cutoff,) = self._db.execute(
            "SELECT written FROM (SELECT written, sum(size) OVER (ORDER BY written ROWS UNBOUNDED PRECEDING) AS freed"
            " FROM outputs) WHERE freed >= ? ORDER BY written LIMIT 1",
            (total - self.max_bytes * EVICT_TO,),
        ).fetchone()
        self._db.execute("DELETE FROM outputs WHERE written <= ?", (cutoff,))

    def info(self) -> CacheInfo:
        """The cache's file, rows and bytes, tool by tool (largest first), and its bound."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tool, count(*), coalesce(sum(size), 0) FROM outputs GROUP BY tool ORDER BY 3 DESC, 1"
            ).fetchall()
        tools = [ToolShare(tool=tool, rows=n, bytes=size) for tool, n, size in rows]
        wal = self.path.with_name(self.path.name + "-wal")
        on_disk = sum(p.stat().st_size for p in (self.path, wal) if p.exists())
        return CacheInfo(
            path=self.path, file_bytes=on_disk, rows=sum(t.rows for t in tools), bytes=sum(t.bytes for t in tools),
            max_bytes=self.max_bytes, tools=tools,
        )  # fmt: skip

    def clear(self, tool: str | None = None) -> int:
        """Delete every row (or ``tool``'s) and give the space back to the disk; returns the rows deleted. The plans
        kept beside the outputs (`copilot.plans`) stay."""
        with self._lock:
            with self._db:
                if tool is None:
                    deleted = self._db.execute("DELETE FROM outputs").rowcount
                else:
                    deleted = self._db.execute("DELETE FROM outputs WHERE tool = ?", (tool,)).rowcount
            self._db.execute("VACUUM")
        return deleted


def _add_age_and_size(db: sqlite3.Connection) -> None:
    """Give a cache written before the size bound its ``written`` and ``size`` columns; its rows count as the oldest."""
    if "size" in _columns(db):
        return
    db.execute("BEGIN IMMEDIATE")  # one process adds them; another, waiting, then finds them
    try:
        if "size" not in _columns(db):
            db.execute("ALTER TABLE outputs ADD COLUMN written REAL NOT NULL DEFAULT 0")
            db.execute("ALTER TABLE outputs ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
            db.execute("UPDATE outputs SET size = length(key) + length(tool) + length(CAST(output AS BLOB))")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(outputs)")}
