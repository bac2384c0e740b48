"""Which implementation each tool family runs: the built-in default, or an optional library backend.

A family (asr, diarization, speaker, tags, emotion) is served by one backend at a time, chosen as
``NAME`` or ``NAME:PATH``, where PATH is a checkpoint the user already has (nothing is downloaded):

    copilot ask clip.wav "What is said?" --asr openai-whisper:/models/small.pt
    SPEECH_COPILOT_BACKENDS="asr=openai-whisper:/models/small.pt,tags=panns:/models/Cnn14.pth"

Command-line flags win over the environment, which wins over the defaults. Every family declares
its backends in `FAMILIES` below: the name, the pip extra that installs the library, and the
loader (``module:function``, imported only when the backend is first used, so listing tools stays
fast). A tool asks `load(family)` for its active backend's loaded model; loaders are called once
per choice. An unknown name, a missing extra or a missing file is a one-line `CopilotError`.

Tool outputs are cached by tool version and arguments, so `cache_tag` gives the part of the cache
key that says which backend (and which checkpoint file) produced an output.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from copilot.errors import CopilotError

ENV = "SPEECH_COPILOT_BACKENDS"


class Backend(BaseModel):
    """One implementation of a tool family."""

    model_config = ConfigDict(frozen=True)

    name: str
    summary: str
    loader: str  # "module:function", called with the PATH (or None) and returning the loaded model
    path: Literal["none", "optional", "required"] = "none"  # whether NAME:PATH is accepted or needed
    extra: str | None = None  # the speech-copilot extra that installs its library; None: always installed
    imports: tuple[str, ...] = ()  # modules the extra provides, checked before loading
    install: str | None = None  # the install command, when more than ``pip install 'speech-copilot[EXTRA]'``

    @property
    def install_command(self) -> str:
        return self.install or f"pip install 'speech-copilot[{self.extra}]'"

    @property
    def usage(self) -> str:
        return {"none": self.name, "optional": f"{self.name}[:PATH]", "required": f"{self.name}:PATH"}[self.path]

    def missing(self) -> list[str]:
        """The modules of `imports` that are not installed (found without importing them, parents aside)."""
        return [m for m in self.imports if not _installed(m)]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


class Family(BaseModel):
    """Tools that share a kind of model, and the backends that can serve them (the first is the default)."""

    model_config = ConfigDict(frozen=True)

    name: str
    tools: tuple[str, ...]
    backends: tuple[Backend, ...]

    def backend(self, name: str) -> Backend:
        for b in self.backends:
            if b.name == name:
                return b
        known = ", ".join(b.usage for b in self.backends)
        raise CopilotError(f"unknown {self.name} backend {name!r}; choose one of: {known}")


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            name="asr",
            tools=("asr", "language_id"),
            backends=(
                Backend(
                    name="faster-whisper",
                    summary="Whisper base (CTranslate2) from the model store, or a CTranslate2 model folder",
                    loader="copilot.tools.asr:load_faster_whisper",
                    path="optional",
                ),
                Backend(
                    name="openai-whisper",
                    summary="an openai-whisper checkpoint (.pt, e.g. small.pt from its download cache)",
                    loader="copilot.tools.asr_backends:load_openai_whisper",
                    path="required",
                    extra="openai-whisper",
                    imports=("whisper",),
                    install="pip install 'speech-copilot[openai-whisper]' && pip install --no-deps openai-whisper==20250625"
                    " (--no-deps skips triton, 1 GB and CUDA-only)",
                ),
            ),
        ),
        Family(
            name="diarization",
            tools=("diarization",),
            backends=(
                Backend(
                    name="builtin",
                    summary="Silero VAD + voice embeddings + clustering",
                    loader="copilot.tools.diarization:load_builtin",
                ),
                Backend(
                    name="pyannote",
                    summary="a pyannote.audio pipeline: its folder or config.yaml (e.g. speaker-diarization-community-1)",
                    loader="copilot.tools.diarization_backends:load_pyannote",
                    path="required",
                    extra="pyannote",
                    imports=("pyannote.audio",),
                ),
            ),
        ),
        Family(
            name="speaker",
            tools=("speaker_verification",),
            backends=(
                Backend(
                    name="resemblyzer",
                    summary="Resemblyzer's GE2E voice encoder from the model store, calibrated threshold",
                    loader="copilot.tools.speaker:load_resemblyzer",
                ),
                Backend(
                    name="speechbrain",
                    summary="a speechbrain speaker encoder folder (hyperparams.yaml + checkpoints, e.g. spkrec-ecapa-voxceleb)",
                    loader="copilot.tools.speaker_backends:load_speechbrain",
                    path="required",
                    extra="speechbrain",
                    imports=("speechbrain",),
                ),
            ),
        ),
        Family(
            name="tags",
            tools=("sound_events",),
            backends=(
                Backend(
                    name="yamnet",
                    summary="YAMNet int8 (521 AudioSet classes) from the model store",
                    loader="copilot.tools.sound_events:load_yamnet",
                ),
                Backend(
                    name="panns",
                    summary="a PANNs Cnn14 checkpoint (.pth) with AudioSet's class_labels_indices.csv beside it",
                    loader="copilot.tools.sound_events_backends:load_panns",
                    path="required",
                    extra="panns",
                    imports=("panns_inference", "torchlibrosa"),
                ),
            ),
        ),
        Family(
            name="emotion",
            tools=("emotion",),
            backends=(
                Backend(
                    name="head",
                    summary="a learned head: the project's emotion head (acted English speech), or a head file of yours",
                    loader="copilot.tools.emotion:load_head",
                    path="optional",
                ),
                Backend(
                    name="prosody",
                    summary="a weak guess from pitch, loudness, voice quality and speaking rate (no model)",
                    loader="copilot.tools.emotion:load_prosody",
                ),
                Backend(
                    name="transformers",
                    summary="a transformers audio-classification model folder (a speech-emotion model you have)",
                    loader="copilot.tools.emotion_backends:load_transformers",
                    path="required",
                    extra="transformers",
                    imports=("transformers",),
                ),
            ),
        ),
    ]
}


class Choice(BaseModel):
    """The backend chosen for a family, and its checkpoint path when it takes one."""

    model_config = ConfigDict(frozen=True)

    family: str
    backend: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"{self.backend}:{self.path}" if self.path else self.backend

    @property
    def info(self) -> Backend:
        return FAMILIES[self.family].backend(self.backend)


_chosen: dict[str, Choice] = {}
_loaded: dict[Choice, Any] = {}
_lock = threading.RLock()


def parse(family: str, spec: str) -> Choice:
    """The `Choice` written as ``NAME`` or ``NAME:PATH`` for ``family``; a bad name or path use is a `CopilotError`."""
    if family not in FAMILIES:
        raise CopilotError(f"unknown backend family {family!r}; families: {', '.join(FAMILIES)}")
    name, _, path = spec.strip().partition(":")
    backend = FAMILIES[family].backend(name.strip())
    if path and backend.path == "none":
        raise CopilotError(f"the {family} backend {backend.name!r} takes no path; give just {backend.name}")
    if not path and backend.path == "required":
        raise CopilotError(f"the {family} backend {backend.name!r} needs a checkpoint: --{family} {backend.usage}")
    return Choice(family=family, backend=backend.name, path=Path(path).expanduser().absolute() if path else None)


def from_env() -> dict[str, Choice]:
    """The choices in ``SPEECH_COPILOT_BACKENDS`` (``family=NAME[:PATH]`` items separated by commas)."""
    chosen = {}
    for item in filter(None, (part.strip() for part in os.environ.get(ENV, "").split(","))):
        family, eq, spec = item.partition("=")
        if not eq:
            raise CopilotError(
                f"bad {ENV} item {item!r}: write family=NAME[:PATH], e.g. asr=openai-whisper:/models/small.pt"
            )
        chosen[family.strip()] = parse(family.strip(), spec)
    return chosen


def active(family: str) -> Choice:
    """The backend ``family`` runs now: the one selected on the command line, else in the environment, else the default."""
    if family not in FAMILIES:
        raise CopilotError(f"unknown backend family {family!r}; families: {', '.join(FAMILIES)}")
    return (
        _chosen.get(family)
        or from_env().get(family)
        or Choice(family=family, backend=FAMILIES[family].backends[0].name)
    )


def check(choice: Choice) -> None:
    """Fail with the command that fixes it when the choice's library is not installed or its path does not exist."""
    backend = choice.info
    if backend.missing():
        raise CopilotError(
            f"the {choice.family} backend {backend.name!r} needs the {backend.extra!r} extra: {backend.install_command}"
        )
    if choice.path and not choice.path.exists():
        raise CopilotError(f"no such file or folder for the {choice.family} backend {backend.name!r}: {choice.path}")


def select(family: str, spec: str | None) -> Choice | None:
    """Make ``spec`` (``NAME[:PATH]``) the family's backend for this process, checked now; None undoes a selection."""
    if spec is None:
        _chosen.pop(family, None)
        return None
    choice = parse(family, spec)
    check(choice)
    _chosen[family] = choice
    return choice


def load(family: str) -> Any:
    """The loaded model of the family's active backend (loaded on first use, then kept)."""
    choice = active(family)
    with _lock:
        if choice not in _loaded:
            check(choice)
            module, _, function = choice.info.loader.partition(":")
            _loaded[choice] = getattr(importlib.import_module(module), function)(choice.path)
        return _loaded[choice]


def import_torch() -> Any:
    """torch, set to one thread: every loader of a torch model imports it this way.

    torch and llama.cpp share libgomp. A second OpenMP worker pool (torch's) leaves libgomp with more threads than
    CPUs, so it stops spin-waiting at barriers, and the embedded LLM, which meets one after every operation, then
    generates about 1.5 times slower for the rest of the process. A tool's forward pass costs far less than that.
    """
    import torch

    torch.set_num_threads(1)
    return torch


def import_library(module: str, choice: str) -> Any:
    """Import a backend's library, turning a broken installation into a one-line `CopilotError`."""
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:
        hint = ""
        if "torchaudio" in str(exc):
            lib = Path(str(exc).split(": ")[-1]).parent if ".so" in str(exc) else "torchaudio/lib"
            hint = (
                "; torchaudio's wheel is a CUDA build whose compiled extension CPU torch cannot load: remove "
                f"{lib}/_torchaudio.abi3.so and libtorchaudio.abi3.so and torchaudio runs as pure Python "
                "(`make backends` does this)"
            )
        raise CopilotError(f"the {choice} backend cannot import {module}: {exc}{hint}") from None


def families_of(tool: str) -> list[Family]:
    """The families whose backend a tool's output depends on."""
    return [f for f in FAMILIES.values() if tool in f.tools]


def cache_tag(tool: str) -> str | None:
    """What the tool cache must add to its key for ``tool``: the non-default backends it runs on, with
    each checkpoint's size and modification time (so a replaced checkpoint is not served from the cache).
    None when every family of the tool runs its default backend, so default keys never change."""
    parts = []
    for family in families_of(tool):
        choice = active(family.name)
        if choice.path:
            parts.append(f"{family.name}={choice}@{_fingerprint(choice.path)}")
        elif choice.backend != family.backends[0].name:
            parts.append(f"{family.name}={choice}")
    return ",".join(parts) or None


def _fingerprint(path: Path) -> str:
    """A short digest of the size and modification time of a file, or of every file under a folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stats = [(str(p.relative_to(path)) if path.is_dir() else "", p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]


class BackendStatus(BaseModel):
    """One backend as `copilot tools` shows it."""

    name: str
    usage: str
    summary: str
    extra: str | None
    installed: bool
    active: bool


class FamilyStatus(BaseModel):
    """A family a tool belongs to: its active choice and every backend it has."""

    family: str
    active: str
    backends: list[BackendStatus]


def status(tool: str) -> list[FamilyStatus]:
    """The backends of each family ``tool`` belongs to, marking the active one (for `copilot tools --json`)."""
    out = []
    for f in families_of(tool):
        choice = active(f.name)
        backends = [
            BackendStatus(
                name=b.name,
                usage=b.usage,
                summary=b.summary,
                extra=b.extra,
                installed=not b.missing(),
                active=b.name == choice.backend,
            )
            for b in f.backends
        ]
        out.append(FamilyStatus(family=f.name, active=str(choice), backends=backends))
    return out


def describe(tool: str) -> str:
    """One line per family for `copilot tools`, e.g. ``backends (--asr): faster-whisper[:PATH] (active),
    openai-whisper:PATH (extra openai-whisper, not installed)``; empty for a tool without backends."""
    lines = []
    for s in status(tool):
        items = []
        for b in s.backends:
            notes = [("active" if s.active == b.name else f"active: {s.active}")] if b.active else []
            if b.extra:
                notes.append(f"extra {b.extra}" + ("" if b.installed else ", not installed"))
            items.append(b.usage + (f" ({'; '.join(notes)})" if notes else ""))
        lines.append(f"backends (--{s.family}): " + ", ".join(items))
    return "\n".join(lines)


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--asr``, ``--diarization``, ``--speaker``, ``--tags`` and ``--emotion`` to a subcommand."""
    group = parser.add_argument_group("backends", f"choose a tool family's implementation (also {ENV})")
    for f in FAMILIES.values():
        group.add_argument(
            f"--{f.name}",
            dest=f"backend_{f.name}",
            metavar="NAME[:PATH]",
            help=f"{', '.join(f.tools)}: "
            + " | ".join(b.usage for b in f.backends)
            + f" (default {f.backends[0].name})",
        )


def apply_backend_flags(args: argparse.Namespace) -> None:
    """Select the backends given as flags, and check every active choice (flags and environment) now,
    so a missing extra or checkpoint stops the command before any work starts."""
    for family in FAMILIES:
        spec = getattr(args, f"backend_{family}", None)
        if spec is not None:
            select(family, spec)
    for family in FAMILIES:
        check(active(family))
