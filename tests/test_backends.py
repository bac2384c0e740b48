"""Choosing backends: NAME[:PATH] parsing, the environment and the flags, missing extras, the cache tag."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from copilot import backends
from copilot.backends import Backend, Family
from copilot.errors import CopilotError

CALLS: list[Path | None] = []


def fake_loader(path: Path | None) -> dict:
    """A loader for the fake family below: records its calls."""
    CALLS.append(path)
    return {"loaded": path}


FAKE = Family(
    name="asr",
    tools=("asr", "language_id"),
    backends=(
        Backend(name="default", summary="built in", loader="tests.test_backends:fake_loader"),
        Backend(
            name="installed",
            summary="a library that is there",
            loader="tests.test_backends:fake_loader",
            path="required",
            extra="json-extra",
            imports=("json",),
        ),
        Backend(
            name="absent",
            summary="a library that is not",
            loader="tests.test_backends:fake_loader",
            path="optional",
            extra="nothing",
            imports=("json", "no_such_module_for_speech_copilot.sub"),
        ),
    ),
)


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    """No backend chosen by flags or environment before or after each test."""
    monkeypatch.delenv(backends.ENV, raising=False)
    for family in backends.FAMILIES:
        backends.select(family, None)
    yield
    for family in backends.FAMILIES:
        backends.select(family, None)


@pytest.fixture
def fake(monkeypatch) -> Family:
    monkeypatch.setitem(backends.FAMILIES, "asr", FAKE)
    return FAKE


def test_every_family_has_a_builtin_default_and_lists_its_tools():
    assert set(backends.FAMILIES) == {"asr", "diarization", "speaker", "tags", "emotion"}
    for family in backends.FAMILIES.values():
        default = family.backends[0]
        assert default.extra is None and default.imports == () and default.path != "required"
        for b in family.backends[1:]:  # an optional library's checkpoint, or another built-in method (emotion's rule)
            assert (b.extra and b.imports and b.path == "required") or (b.extra is None and b.imports == ()), b
        assert backends.active(family.name).backend == default.name
    assert [f.name for f in backends.families_of("language_id")] == ["asr"]
    assert backends.families_of("pitch") == []


def test_every_loader_names_a_function_of_a_tools_module():
    import importlib

    for family in backends.FAMILIES.values():
        for b in family.backends:
            module, _, function = b.loader.partition(":")
            assert module.startswith("copilot.tools.")
            assert callable(getattr(importlib.import_module(module), function))


def test_specs_parse_into_a_name_and_an_absolute_path():
    choice = backends.parse("asr", "openai-whisper:models/small.pt")
    assert (choice.backend, choice.path) == ("openai-whisper", Path.cwd() / "models/small.pt")
    assert str(backends.parse("tags", " yamnet ")) == "yamnet"
    assert backends.parse("asr", "faster-whisper").path is None
    assert backends.parse("asr", "faster-whisper:~/ct2").path == Path.home() / "ct2"


@pytest.mark.parametrize(
    ("family", "spec", "message"),
    [
        (
            "asr",
            "whisperx:/m.pt",
            "unknown asr backend 'whisperx'; choose one of: faster-whisper[:PATH], openai-whisper:PATH",
        ),
        ("tags", "yamnet:/m.onnx", "takes no path"),
        ("diarization", "pyannote", "needs a checkpoint: --diarization pyannote:PATH"),
        ("colour", "red", "unknown backend family 'colour'"),
    ],
)
def test_bad_specs_are_one_line_errors(family, spec, message):
    with pytest.raises(CopilotError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        backends.parse(family, spec)
    assert "\n" not in str(err.value)


def test_a_missing_extra_names_the_pip_command(fake):
    with pytest.raises(CopilotError) as err:
        backends.select("asr", "absent")
    assert str(err.value) == "the asr backend 'absent' needs the 'nothing' extra: pip install 'speech-copilot[nothing]'"
    assert backends.active("asr").backend == "default"


def test_a_real_family_names_its_extra(monkeypatch):
    monkeypatch.setattr(backends, "_installed", lambda module: False)
    with pytest.raises(CopilotError, match=r"pip install 'speech-copilot\[pyannote\]'$"):
        backends.select("diarization", "pyannote:/tmp")
    with pytest.raises(CopilotError, match=r"\[openai-whisper\]' && pip install --no-deps openai-whisper==20250625 "):
        backends.select("asr", "openai-whisper:/tmp")


def test_a_missing_checkpoint_is_reported_before_loading(fake, tmp_path):
    with pytest.raises(CopilotError, match="no such file or folder for the asr backend 'installed'"):
        backends.select("asr", f"installed:{tmp_path / 'nope.pt'}")


def test_the_environment_selects_and_flags_win(fake, tmp_path, monkeypatch):
    model = tmp_path / "model.pt"
    model.write_bytes(b"x")
    monkeypatch.setenv(backends.ENV, f" asr = installed:{model} ")
    assert backends.active("asr") == backends.Choice(family="asr", backend="installed", path=model)
    parser = argparse.ArgumentParser()
    backends.add_backend_flags(parser)
    args = parser.parse_args(["--asr", "default", "--tags", "yamnet"])
    backends.apply_backend_flags(args)
    assert str(backends.active("asr")) == "default"
    assert parser.parse_args([]).backend_asr is None


def test_bad_environment_items_are_errors(monkeypatch):
    monkeypatch.setenv(backends.ENV, "asr:openai-whisper")
    with pytest.raises(CopilotError, match="bad SPEECH_COPILOT_BACKENDS item 'asr:openai-whisper'"):
        backends.active("asr")


def test_flags_are_checked_at_once(fake, tmp_path):
    parser = argparse.ArgumentParser()
    backends.add_backend_flags(parser)
    with pytest.raises(CopilotError, match="needs the 'nothing' extra"):
        backends.apply_backend_flags(parser.parse_args(["--asr", "absent"]))
    help_text = parser.format_help()
    for flag in ("--asr", "--diarization", "--speaker", "--tags", "--emotion"):
        assert flag in help_text


def test_a_backend_is_loaded_once_per_choice(fake, tmp_path):
    CALLS.clear()
    model = tmp_path / "m.pt"
    model.write_bytes(b"x")
    assert backends.load("asr") == {"loaded": None}
    backends.select("asr", f"installed:{model}")
    assert backends.load("asr") == {"loaded": model}
    assert backends.load("asr") == {"loaded": model}
    assert [None, model] == CALLS


def test_the_cache_tag_names_non_default_backends_and_their_checkpoint(fake, tmp_path):
    assert backends.cache_tag("asr") is None
    assert backends.cache_tag("pitch") is None
    model = tmp_path / "m.pt"
    model.write_bytes(b"one")
    backends.select("asr", f"installed:{model}")
    tag = backends.cache_tag("language_id")
    assert tag.startswith(f"asr=installed:{model}@")
    assert backends.cache_tag("language_id") == tag
    model.write_bytes(b"two!")  # a replaced checkpoint must not be served old outputs
    os.utime(model, ns=(1, 1))
    assert backends.cache_tag("language_id") != tag
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"1")
    backends.select("asr", f"installed:{folder}")
    before = backends.cache_tag("asr")
    (folder / "sub" / "w.bin").write_bytes(b"22")
    assert backends.cache_tag("asr") != before


def test_describe_lists_every_backend_and_marks_the_active_one(fake, tmp_path):
    text = backends.describe("asr")
    assert text == (
        "backends (--asr): default (active), installed:PATH (extra json-extra), "
        "absent[:PATH] (extra nothing, not installed)"
    )
    model = tmp_path / "m.pt"
    model.write_bytes(b"x")
    backends.select("asr", f"installed:{model}")
    assert f"installed:PATH (active: installed:{model}; extra json-extra)" in backends.describe("asr")
    status = backends.status("language_id")
    assert [b.active for b in status[0].backends] == [False, True, False]
    assert backends.describe("pitch") == ""


def test_real_families_describe_their_extras():
    lines = {t: backends.describe(t) for t in ("asr", "diarization", "speaker_verification", "sound_events", "emotion")}
    assert lines["asr"].startswith(
        "backends (--asr): faster-whisper[:PATH] (active), openai-whisper:PATH (extra openai-whisper"
    )
    assert "pyannote:PATH (extra pyannote" in lines["diarization"]
    assert "speechbrain:PATH (extra speechbrain" in lines["speaker_verification"]
    assert "panns:PATH (extra panns" in lines["sound_events"]
    assert "transformers:PATH (extra transformers" in lines["emotion"]


def test_a_library_that_fails_to_import_is_one_line_with_the_torchaudio_fix(tmp_path, monkeypatch):
    lib = tmp_path / "site" / "torchaudio" / "lib"
    (tmp_path / "broken_audio_library.py").write_text(
        f"raise OSError('Could not load this library: {lib}/_torchaudio.abi3.so')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CopilotError) as err:
        backends.import_library("broken_audio_library", "pyannote")
    message = str(err.value)
    assert message.startswith("the pyannote backend cannot import broken_audio_library: Could not load")
    assert f"remove {lib}/_torchaudio.abi3.so and libtorchaudio.abi3.so" in message and "\n" not in message
