"""Shared fixtures: real clips loaded once per session, and a cache folder of the run's own.

Every test run starts with empty tool, feature and plan caches, no saved LLM prompts and no trained heads, so
a green run here means what a green run on a fresh machine means; the model store is shared through a link
(its files are checksummed on use, so nothing an earlier run left there can pass for a model).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from copilot.audio import Audio, load
from copilot.config import Settings
from tests import corpora

_RUN_CACHE: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Point ``SPEECH_COPILOT_CACHE`` at a new folder before any test module is imported."""
    settings = Settings.from_env()
    store = settings.cache_dir / "models"
    store.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="copilot-test-cache-"))
    (folder / "models").symlink_to(store.resolve(), target_is_directory=True)
    os.environ["SPEECH_COPILOT_CACHE"] = str(folder)
    os.environ.pop("SPEECH_COPILOT_HEADS", None)
    _RUN_CACHE.append(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _RUN_CACHE:
        shutil.rmtree(folder, ignore_errors=True)  # unlinks the link to the store, never the store


@pytest.fixture(scope="session")
def pyannote_sample() -> tuple[Audio, list[tuple[str, float, float]]]:
    """The pyannote two-speaker sample and its reference turns."""
    wav, rttm = corpora.pyannote_sample()
    return load(wav), corpora.read_rttm(rttm)
