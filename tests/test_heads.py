"""Learned heads: `copilot learn` on clips the test makes, the head as a tool and through the agent, its checksum."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.audio import load
from copilot.cache import ToolCache
from copilot.cli import main
from copilot.errors import ChecksumError, ModelError
from copilot.heads import features
from copilot.heads import head as head_file
from copilot.heads.as_tools import head_tools
from copilot.heads.store import find, shipped
from copilot.planners import load_llm
from copilot.planners.llm import LLMPlanner
from copilot.registry import Registry, builtin_tools, default_registry
from tests import corpora

PACES = {"slow": 95, "fast": 260}  # espeak-ng words per minute
VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]  # the groups: never split
SENTENCES = [
    "The meeting starts at nine tomorrow morning.",
    "Please bring the blue folder to my office.",
    "We walked along the river until it got dark.",
    "Nobody expected the train to be so late.",
]


@pytest.fixture(scope="module")
def pace_data(tmp_path_factory) -> Path:
    """Slow and fast espeak-ng speech by six voices, labelled by how it was made (48 clips)."""
    folder = tmp_path_factory.mktemp("pace")
    rows = []
    for v, voice in enumerate(VOICES):
        for s, text in enumerate(SENTENCES):
            for pace, words_per_minute in PACES.items():
                name = f"{v}-{s}-{pace}.wav"
                corpora.speak(text, folder / name, voice=voice, speed=words_per_minute)
                rows.append({"audio": name, "pace": pace, "voice": voice, "sentence": s})
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture
def heads(tmp_path, monkeypatch) -> Iterator[Path]:
    """An empty heads folder; the registry, built once per process, is built again around the test."""
    folder = tmp_path / "heads"
    monkeypatch.setenv("SPEECH_COPILOT_HEADS", str(folder))
    default_registry.cache_clear()
    yield folder
    default_registry.cache_clear()


def learn(data: Path, *extra: str) -> int:
    return main(["learn", "speaking_pace", "--data", str(data), "--label", "pace", "--group", "voice", *extra])


def test_a_head_learned_from_made_clips_is_a_tool_and_answers_through_the_agent(pace_data, heads, tmp_path, capsys):
    assert learn(pace_data / "items.jsonl", "--attribute", "speaking pace") == 0
    out = capsys.readouterr().out
    assert "unweighted average recall" in out and "confusion" in out
    path = heads / "speaking_pace.npz"
    digest = head_file.recorded_sha256(path)
    meta = head_file.load(path, digest).meta
    assert meta.labels == ["fast", "slow"] and meta.clips == 48 and meta.figures.groups == len(VOICES)
    assert meta.figures.unweighted_average_recall >= 0.95, out

    # deterministic: the same data and command give the same bytes (the features come back from the cache)
    path.unlink()
    assert learn(pace_data / "items.jsonl", "--attribute", "speaking pace") == 0
    assert head_file.recorded_sha256(path) == digest

    assert main(["tools"]) == 0
    listing = capsys.readouterr().out
    assert "speaking_pace" in listing and "fast, slow" in listing

    (tool,) = head_tools()
    unseen = corpora.speak("Could you close the window, please?", tmp_path / "new.wav", voice="en-us+m3", speed=90)
    result = tool({}, {"audio1": load(unseen)})
    assert result.label == "slow" and result.findings().attribute.name == "speaking pace", result

    llm = load_llm("embedded")
    agent = Copilot(LLMPlanner(llm), llm, Registry([*builtin_tools(), tool]), ToolCache(tmp_path / "c.sqlite"))
    answer = agent.ask({"audio1": load(unseen)}, "What is the speaking pace of the speaker? (a) fast (b) slow")
    assert "speaking_pace" in {e.tool for e in answer.evidence if e.error is None}, answer.trace
    assert answer.choice == "(b) slow", answer.text

    assert main(["heads", "remove", "speaking_pace"]) == 0
    assert not path.exists() and head_tools() == []


def test_an_unreadable_clip_is_skipped_with_a_warning(pace_data, heads, tmp_path, capsys):
    data = tmp_path / "items.jsonl"
    rows = [json.loads(line) for line in (pace_data / "items.jsonl").read_text().splitlines()]
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    rows = [{**r, "audio": str(pace_data / r["audio"])} for r in rows]
    rows += [{**rows[0], "audio": str(tmp_path / "noise.wav")}, {**rows[1], "audio": str(tmp_path / "gone.wav")}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert learn(data) == 0
    err = capsys.readouterr().err
    assert "warning: skipped 2 of 50 clips" in err
    assert head_file.load(heads / "speaking_pace.npz", head_file.recorded_sha256(heads / "speaking_pace.npz")).meta.clips == 48


def rows_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([{"audio": "a.wav", "pace": "x", "voice": "v"}], ["--label", "mood"], "unknown label field 'mood'"),
        ([{"audio": f"{i}.wav", "pace": "x", "voice": f"v{i}"} for i in range(30)], [], "only one class ('x')"),
        (
            [{"audio": f"{i}.wav", "pace": "xy"[i % 2] if i < 24 else "z", "voice": f"v{i % 6}"} for i in range(28)],
            [],
            "too few examples of z (4)",
        ),
        (
            [{"audio": f"{i}.wav", "pace": "x" if i < 20 else "y", "voice": f"v{i % 5}" if i < 20 else "v9"} for i in range(32)],
            [],
            "every example of 'y' is in group 'v9'",
        ),
    ],
)
def test_learn_refuses_data_it_cannot_train_on_in_one_line(tmp_path, heads, capsys, rows, args, message):
    data = rows_file(tmp_path, rows)
    label = [] if "--label" in args else ["--label", "pace"]
    assert main(["learn", "bad", "--data", str(data), *label, "--group", "voice", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err, err
    assert not heads.exists() or not list(heads.iterdir())  # no half-written head


def test_learn_refuses_a_missing_items_file_and_a_bad_name(tmp_path, heads, capsys):
    assert main(["learn", "x", "--data", str(tmp_path / "none.jsonl"), "--label", "y"]) == 2
    assert "no such items file" in capsys.readouterr().err
    assert main(["learn", "Bad-Name", "--data", str(tmp_path), "--label", "y"]) == 2
    assert "bad head name" in capsys.readouterr().err


def test_the_shipped_emotion_head_verifies_and_classifies_real_speech(tmp_path):
    ref = find("emotion")
    assert ref.source == "shipped" and ref in shipped()
    head = ref.load()
    assert head.meta.labels == ["angry", "disgust", "fear", "happy", "neutral", "sad"]
    assert head.meta.figures.groups == 51 and head.meta.figures.unweighted_average_recall > 0.55
    emotion = default_registry().get("emotion")
    outputs = [emotion({}, {"audio1": load(wav)}) for wav, _ in corpora.librivox()]  # real read speech
    for out in outputs:
        assert out.backend == "head:emotion" and out.prosody is None
        assert sorted(s.label for s in out.scores) == head.meta.labels
        assert abs(sum(s.probability for s in out.scores) - 1) < 0.01 and out.findings().labels[0] == out.label
        assert "near chance on TV dialogue" in out.findings().facts
    short = corpora.speak("Leave me alone!", tmp_path / "short.wav")  # 0.8 s of speech: the prosody rule
    assert emotion({}, {"audio1": load(short)}).backend == "prosody"


def test_one_changed_byte_in_a_head_is_a_checksum_error(tmp_path, capsys):
    ref = find("emotion")
    copy = tmp_path / "emotion.npz"
    shutil.copy(ref.path, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="corrupt or changed"):
        head_file.load(copy, ref.sha256)
    (tmp_path / "emotion.npz.sha256").write_text(f"{ref.sha256}  emotion.npz\n")
    wav, _ = corpora.librivox()[0]
    assert main(["run", "emotion", str(wav), "--emotion", f"head:{copy}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: head") and "corrupt or changed" in err and "\n" not in err, err
    with pytest.raises(ModelError, match="has no checksum file"):
        head_file.recorded_sha256(tmp_path / "other.npz")


def test_a_head_shared_as_a_wheel_comes_in_through_its_entry_point(tmp_path, monkeypatch, heads):
    package = tmp_path / "voice_heads"
    package.mkdir()
    shutil.copy(find("gender").path, package / "voice_sex.npz")
    (package / "voice_sex.npz.sha256").write_text(f"{find('gender').sha256}  voice_sex.npz\n")
    (package / "__init__.py").write_text("from pathlib import Path\nHEAD = Path(__file__).parent / 'voice_sex.npz'\n")
    info = tmp_path / "voice_heads-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: voice_heads\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[speech_copilot.heads]\nvoice_sex = voice_heads:HEAD\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tool,) = head_tools()
    assert tool.name == "voice_sex" and "female, male" in tool.description
    wav, _ = corpora.librivox()[0]
    assert tool({}, {"audio1": load(wav)}).label == "male"  # the LibriVox reader


def test_a_second_run_takes_every_feature_from_the_cache(pace_data, heads, monkeypatch):
    """So a killed `copilot learn` resumes where it stopped: what was extracted is never extracted again."""
    assert learn(pace_data / "items.jsonl") == 0
    whisper = features.ENCODERS["whisper-base"]

    def no_encoder(audio):
        raise AssertionError("the encoder ran although the features were cached")

    monkeypatch.setitem(features.ENCODERS, "whisper-base", dataclasses.replace(whisper, extract=no_encoder))
    assert learn(pace_data / "items.jsonl", "--force") == 0
