"""Bad input to the `copilot` command is one `error: ...` line and exit status 2, never a traceback; `heads remove`
deletes only heads of the heads folder; a broken head is reported for that head alone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.cache import ToolCache, default_path
from copilot.cli import main
from copilot.heads import features
from copilot.heads import learn as learn_module
from copilot.heads.head import Figures, Head, HeadMeta
from copilot.registry import default_registry


@pytest.fixture
def heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty heads folder; the registry, built once per process, is built again around the test."""
    folder = tmp_path / "heads"
    folder.mkdir()
    monkeypatch.setenv("SPEECH_COPILOT_HEADS", str(folder))
    default_registry.cache_clear()
    yield folder
    default_registry.cache_clear()


def one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The error line `copilot argv` prints, after checking it exits 2 with that line last on stderr, the only error
    (progress and warnings may come before it) and no traceback."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert [line for line in lines if line.startswith("error")] == lines[-1:] and "Traceback" not in err, err
    return lines[-1]


def items(folder: Path, rows: list[dict[str, object]]) -> Path:
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def learn(data: Path, *extra: str) -> list[str]:
    return ["learn", "pace", "--data", str(data), "--label", "pace", "--group", "voice", *extra]


ENOUGH = [{"audio": f"{n}.wav", "pace": "ab"[n % 2], "voice": f"v{n % 6}"} for n in range(24)]  # passes check_classes


def test_learn_from_clips_without_speech_is_one_error_line(tmp_path, heads, capsys):
    quiet = np.random.default_rng(0).normal(0, 1e-4, 16000).astype(np.float32)  # 1 s of faint noise, no speech
    for row in ENOUGH:
        sf.write(tmp_path / str(row["audio"]), quiet, 16000)
    err = one_error(capsys, *learn(items(tmp_path, ENOUGH)))
    assert err == "error: no clips left to learn from: every clip was unreadable or had no speech"
    assert not list(heads.iterdir())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([*ENOUGH[:3], {"audio": "x.wav", "pace": "a"}, *ENOUGH[3:]], "items.jsonl:4: no 'voice' field: --group voice needs it on every item"),
        ([{"audio": None, "pace": "a", "voice": "v"}], "items.jsonl:1: each line must be an object whose 'audio' field is a file path"),
        ([{"audio": 3, "pace": "a", "voice": "v"}], "items.jsonl:1: each line must be an object whose 'audio' field is a file path"),
        (b'{"audio": "caf\xe9.wav", "pace": "a", "voice": "v"}\n', "items.jsonl is not UTF-8 text (byte 14): write the items as UTF-8 JSON lines"),
    ],
)
def test_bad_items_are_one_error_line_naming_the_line(tmp_path, heads, capsys, content, message):
    data = tmp_path / "items.jsonl"
    data.write_bytes(content) if isinstance(content, bytes) else items(tmp_path, content)
    assert one_error(capsys, *learn(data)) == f"error: {data.parent}/{message}"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--folds", "1"], "--folds must be at least 2, got 1: each fold is tested on a head trained on the others"),
        (["--c", "0"], "--c must be a positive number, got 0: it is the inverse regularisation strength (default 0.003)"),
        (["--c", "nan"], "--c must be a positive number, got nan: it is the inverse regularisation strength (default 0.003)"),
    ],
)
def test_bad_training_settings_are_refused_before_any_feature_is_extracted(tmp_path, heads, capsys, monkeypatch, flag, message):
    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("features were extracted before the settings were checked")

    monkeypatch.setattr(learn_module, "extract", no_extraction)
    assert one_error(capsys, *learn(items(tmp_path, ENOUGH), *flag)) == f"error: {message}"


@pytest.mark.parametrize(("value", "kind"), [("[1]", "an array"), ('"x"', "a string"), ("3", "a number"), ("null", "null")])
def test_run_args_must_be_a_json_object(tmp_path, capsys, value, kind):
    err = one_error(capsys, "run", "asr", str(tmp_path / "a.wav"), "--args", value)
    assert err == f"error: --args must be a JSON object of the tool's arguments, e.g. '{{\"start\": 3}}', not {kind}"


def test_a_question_over_the_length_limit_is_one_line_before_any_model_loads(capsys, monkeypatch):
    monkeypatch.setattr("copilot.planners.load_planner", lambda *a: pytest.fail("the planner was loaded"))
    long = "What is said? " + "x" * 5000  # longer than a file name may be, too
    err = one_error(capsys, "ask", "clip.wav", long)
    assert err == "error: the question is 5014 characters long, above the 4000 character limit (raise SPEECH_COPILOT_MAX_QUESTION)"


def plant(folder: Path, name: str) -> Path:
    """A head called ``name`` in ``folder`` (zero weights over the current GE2E features), with its checksum beside it."""
    enc = features.ENCODERS["ge2e"]
    figures = Figures(folds=5, groups=6, unweighted_average_recall=0.5, accuracy=0.5, per_class=[], confusion=[[1, 1], [1, 1]])
    meta = HeadMeta(
        name=name, attribute="pace", labels=["fast", "slow"], encoder=enc.name, encoder_version=enc.version,
        feature_spec=enc.spec, dimensions=enc.dimensions, regularisation=0.003, clips=4, data="items.jsonl",
        data_sha256="0" * 64, trained_with="a test", figures=figures,
    )  # fmt: skip
    path = folder / f"{name}.npz"
    Head(meta, np.zeros(enc.dimensions), np.ones(enc.dimensions), np.zeros((1, enc.dimensions)), np.zeros(1)).save(path)
    return path


@pytest.mark.parametrize("name", ["../outside", str(Path("..") / "outside"), "/tmp/outside", "outside.npz", ""])
def test_heads_remove_takes_only_names_of_heads_in_the_heads_folder(tmp_path, heads, capsys, name):
    outside = plant(tmp_path, "outside")  # beside the heads folder, not in it
    name = str(outside.with_suffix("")) if name == "/tmp/outside" else name
    err = one_error(capsys, "heads", "remove", name)
    assert err.startswith(f"error: no trained head {name!r} in {heads}: there is no such head"), err
    assert outside.exists() and Path(f"{outside}.sha256").exists()
    plant(heads, "mine")
    assert main(["heads", "remove", "mine"]) == 0 and not (heads / "mine.npz").exists()


@pytest.mark.parametrize(
    ("sidecar", "head", "problem"),
    [
        (b"", None, "checksum file broken.npz.sha256 holds no sha256"),
        (b"\xff\xfe\x00garbage\n", None, "checksum file broken.npz.sha256 holds no sha256"),
        (b"not-a-digest  broken.npz\n", None, "checksum file broken.npz.sha256 holds no sha256"),
        (None, b"PK\x03\x04 truncated", "cannot be read"),
    ],
)
def test_a_broken_head_is_reported_for_that_head_alone(heads, capsys, sidecar, head, problem):
    plant(heads, "good")
    broken = heads / "broken.npz"
    if head is None:
        plant(heads, "broken")
        (heads / "broken.npz.sha256").write_bytes(sidecar)
    else:
        broken.write_bytes(head)
        (heads / "broken.npz.sha256").write_text(f"{hashlib.sha256(head).hexdigest()}  broken.npz\n")
    assert main(["tools"]) == 0
    out, err = capsys.readouterr()
    assert "good (v" in out and "broken (v" not in out
    warnings = err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipping head 'broken': "), err
    assert problem in warnings[0], warnings
    assert {"good", "emotion", "asr"} <= {t.name for t in default_registry()}  # what ask and serve build on
    assert main(["heads", "list"]) == 0 and "good" in capsys.readouterr().out


def test_cache_info_and_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path))
    cache = ToolCache(default_path())
    cache.put("a", "asr", {"text": "hello"})
    cache.put("b", "pitch", {"hz": 120})
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'tool-cache.sqlite'}: 2 outputs, 0.0 MB of 500 MB allowed (SPEECH_COPILOT_CACHE_MB)")
    assert "  asr " in out and "  pitch " in out
    assert main(["cache", "clear", "--tool", "asr"]) == 0
    assert capsys.readouterr().out == f"deleted 1 asr outputs from {tmp_path / 'tool-cache.sqlite'}\n"
    assert cache.get("a") is None and cache.get("b") == {"hz": 120}
    monkeypatch.setenv("SPEECH_COPILOT_CACHE_MB", "0")
    err = one_error(capsys, "cache", "info")
    assert err == "error: bad environment setting SPEECH_COPILOT_CACHE_MB='0': Input should be greater than 0"
