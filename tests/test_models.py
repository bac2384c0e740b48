"""The model store: assembly from parts, checksums on every path, atomic writes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot import models
from copilot.config import Settings
from copilot.errors import ChecksumError, ModelError
from copilot.manifest import ModelFile, ModelSpec, Part


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list[bytes]]:
    """A three-part model whose parts sit in a local model folder, and settings with a fresh cache."""
    chunks = [os.urandom(1000), os.urandom(1000), os.urandom(17)]
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    parts = []
    for i, chunk in enumerate(chunks, 1):
        (parts_dir / f"part{i:02d}.bin").write_bytes(chunk)
        parts.append(Part(dist=f"toy-part{i}", version="0", member=f"toy/data/part{i:02d}.bin", size=len(chunk), sha256=_sha(chunk)))
    whole = b"".join(chunks)
    spec = ModelSpec(
        name="toy", description="toy", license="none",
        files=[ModelFile(name="toy.bin", size=len(whole), sha256=_sha(whole), parts=parts)],
    )
    monkeypatch.setattr(models, "MANIFEST", [spec])
    return Settings(cache_dir=tmp_path / "cache", model_dir=parts_dir), chunks


def test_parts_are_joined_in_order_and_verified(toy):
    settings, chunks = toy
    path = models.ensure("toy", settings) / "toy.bin"
    assert path.read_bytes() == b"".join(chunks)
    assert [r.status for r in models.verify("toy", settings)] == ["ok"]


def test_a_changed_byte_in_a_part_is_refused_and_leaves_no_file(toy):
    settings, chunks = toy
    bad = settings.model_dir / "part02.bin"
    bad.write_bytes(b"X" + chunks[1][1:])
    with pytest.raises(ChecksumError, match=r"part02\.bin"):
        models.ensure("toy", settings)
    folder = models.model_dir("toy", settings)
    assert list(folder.iterdir()) == []  # neither toy.bin nor a partial file


def test_a_changed_byte_in_the_cache_fails_verify_and_first_use(toy):
    settings, _ = toy
    path = models.ensure("toy", settings) / "toy.bin"
    data = bytearray(path.read_bytes())
    data[500] ^= 1
    path.write_bytes(bytes(data))
    rows = models.verify("toy", settings)
    assert rows[0].status == "corrupt" and str(path) in rows[0].detail
    models._verified.clear()  # a new process has verified nothing
    with pytest.raises(ChecksumError, match=r"checksum mismatch for .*toy\.bin"):
        models.ensure("toy", settings)


def test_a_file_with_no_reachable_source_is_a_clear_error(toy, tmp_path):
    settings, _ = toy
    offline = settings.model_copy(update={"model_dir": tmp_path / "empty"})
    spec = models.MANIFEST[0]
    spec.files[0].parts.clear()
    spec.files[0].url = "https://example.invalid/toy.bin"
    with pytest.raises(ModelError, match=r"no source for toy/toy\.bin"):
        models.ensure("toy", offline)


def test_unknown_model_names_the_known_ones(toy):
    with pytest.raises(ModelError, match="unknown model 'nope'; known models: toy"):
        models.ensure("nope", toy[0])


def _copilot(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPEECH_COPILOT_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "copilot.cli", *args], capture_output=True, text=True, check=False, env=env)


def test_real_wheel_download_then_corruption_is_caught_by_verify_and_by_the_tool(tmp_path):
    """silero-vad comes from its wheel on the package index; one changed byte stops `verify` and the VAD tool."""
    cache = tmp_path / "cache"
    fetched = _copilot("models", "fetch", "silero-vad", cache=cache)
    assert fetched.returncode == 0, fetched.stderr
    onnx = cache / "models" / "silero-vad" / "silero_vad.onnx"
    assert _sha(onnx.read_bytes()) == models.spec("silero-vad").files[0].sha256

    with onnx.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))

    verify = _copilot("models", "verify", "silero-vad", cache=cache)
    assert verify.returncode == 2
    assert "corrupt" in verify.stdout and str(onnx) in verify.stdout

    wav = tmp_path / "silence.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    used = _copilot("run", "voice_activity", str(wav), cache=cache)
    assert used.returncode == 2
    lines = used.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: checksum mismatch for {onnx}")
