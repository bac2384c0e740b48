"""Where heads are found: shipped with the package, trained into the cache folder, or installed as a wheel.

- shipped: the ``*.npz`` files beside this module, their sha256 pinned in `copilot.manifest.HEADS`; they
  are the default backends of built-in tools (``emotion``), not tools of their own;
- trained: ``<cache>/heads/NAME.npz`` with ``NAME.npz.sha256``, written by ``copilot learn``;
- installed: a package's entry point in the group ``speech_copilot.heads`` naming a module attribute
  that holds the path of its ``.npz`` (with the ``.sha256`` beside it), so a head can be shared as a wheel:

      [project.entry-points."speech_copilot.heads"]
      accent = "my_heads:ACCENT"          # my_heads/__init__.py: ACCENT = Path(__file__).parent / "accent.npz"
"""

from __future__ import annotations

import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from copilot.config import Settings
from copilot.errors import ModelError
from copilot.heads.head import Head, checksum_path, load, recorded_sha256
from copilot.manifest import HEADS

ENTRY_POINT_GROUP = "speech_copilot.heads"
SHIPPED = Path(__file__).parent
_loaded: dict[tuple[Path, str], Head] = {}
_lock = threading.Lock()


class HeadFile(BaseModel):
    """An installed head: its name, file, expected sha256 and where it comes from."""

    name: str
    path: Path
    sha256: str
    source: Literal["shipped", "trained", "installed"]

    def load(self) -> Head:
        """The head, checked against its sha256 once per process."""
        key = (self.path, self.sha256)
        with _lock:
            if key not in _loaded:
                _loaded[key] = load(self.path, self.sha256)
            return _loaded[key]


def heads_dir(settings: Settings | None = None) -> Path:
    """The folder ``copilot learn`` writes heads into (``SPEECH_COPILOT_HEADS``, else the cache folder's ``heads/``)."""
    settings = settings or Settings.from_env()
    return settings.heads_dir or settings.cache_dir / "heads"


def shipped() -> list[HeadFile]:
    return [HeadFile(name=name, path=SHIPPED / f"{name}.npz", sha256=sha, source="shipped") for name, sha in HEADS.items()]


def shipped_head(name: str) -> Head:
    """The head the package ships as ``name`` (a built-in tool's default), never a trained or installed namesake."""
    return next(h for h in shipped() if h.name == name).load()


def trained(settings: Settings | None = None) -> list[HeadFile]:
    """The heads ``copilot learn`` wrote into the heads folder; one whose checksum file cannot be read is reported on
    stderr and skipped, so it breaks no other head."""
    found = []
    for path in sorted(heads_dir(settings).glob("*.npz")):
        if not checksum_path(path).exists():
            continue
        try:
            found.append(HeadFile(name=path.stem, path=path, sha256=recorded_sha256(path), source="trained"))
        except ModelError as exc:
            print(f"warning: skipping head {path.stem!r}: {exc}", file=sys.stderr)
    return found


def installed() -> list[HeadFile]:
    """Heads from packages' entry points; one that fails to load is reported on stderr and skipped."""
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            path = Path(ep.load())
            found.append(HeadFile(name=ep.name, path=path, sha256=recorded_sha256(path), source="installed"))
        except (ImportError, AttributeError, TypeError, ModelError) as exc:
            print(f"warning: skipping head {ep.name!r} ({ep.value}): {exc}", file=sys.stderr)
    return found


def every_head(settings: Settings | None = None) -> list[HeadFile]:
    return [*shipped(), *trained(settings), *installed()]


def find(name: str, settings: Settings | None = None) -> HeadFile:
    """The head called ``name`` (trained or installed heads before shipped ones of the same name)."""
    matches = [h for h in every_head(settings) if h.name == name]
    if not matches:
        known = ", ".join(sorted({h.name for h in every_head(settings)})) or "none"
        raise ModelError(f"unknown head {name!r}; heads: {known}")
    return matches[-1]


def remove(name: str, settings: Settings | None = None) -> Path:
    """Delete the trained head called ``name`` and its checksum. ``name`` is looked up among the heads folder's heads,
    never made into a path, so nothing outside the folder can be deleted; shipped and installed heads are not ours
    to delete."""
    path = next((p for p in heads_dir(settings).glob("*.npz") if p.stem == name), None)
    if path is None:
        others = [h for h in every_head(settings) if h.name == name]
        where = f"it is {others[0].source}" if others else "there is no such head; copilot heads list shows their names"
        raise ModelError(f"no trained head {name!r} in {heads_dir(settings)}: {where}")
    path.unlink()
    checksum_path(path).unlink(missing_ok=True)
    return path
