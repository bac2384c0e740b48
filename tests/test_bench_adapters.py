"""Every benchmark adapter on a tiny fixture written here in that benchmark's own layout."""

from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path

import pytest

from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.prompts import JASCO_INSTRUCTIONS, JASCO_QUESTION
from copilot.benchmarks.runner import select
from copilot.errors import CopilotError
from tests import corpora


def optional(module: str):
    """An optional dependency of the benchmarks, or a test failure that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is missing: pip install -e '.[bench]'")


def tone(path: Path, seconds: float = 0.5, frequency: int = 440) -> Path:
    """A short sine tone in a 16 kHz mono wav (sox)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    corpora.sox("-n", "-r", "16000", "-c", "1", "-b", "16", path, "synth", str(seconds), "sine", str(frequency))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_sakura_dev_items_jsonl(tmp_path):
    tone(tmp_path / "audio/Gender/a.wav")
    write_jsonl(tmp_path / "items.jsonl", [
        {"id": "Gender/a.wav#single", "track": "Gender", "hop": "single", "audio": "audio/Gender/a.wav",
         "attribute_label": "female", "instruction": "Identify the speaker's gender. (a) Male (b) Female", "answer": "(b) Female"},
        {"id": "Gender/a.wav#multi", "track": "Gender", "hop": "multi", "audio": "audio/Gender/a.wav",
         "attribute_label": "female", "instruction": "Which title fits? (a) Ms. (b) Mr.", "answer": "(a) Ms."},
    ])
    single, multi = load_items("sakura", tmp_path)
    assert (single.question, single.options, single.answer_index, single.reference) == (
        "Identify the speaker's gender.", ["Male", "Female"], 1, "Female")
    assert (single.category, multi.category, multi.reference) == ("single/Gender", "multi/Gender", "Ms")
    assert single.audio == [tmp_path / "audio/Gender/a.wav"] and single.audio[0].exists()
    assert single.kind == "choice" and single.metadata["attribute_label"] == "female"


def test_sakura_release_metadata_csv(tmp_path):
    for track, label in (("Animal", "dog"), ("Language", "German")):
        tone(tmp_path / f"data/{track}/audio/{track}.wav")
        write_csv(tmp_path / f"data/{track}/metadata.csv", [{
            "file": f"{track}.wav", "attribute_label": label,
            "single_instruction": "What is it? (a) cat (b) dog (c) German", "single_answer": "(b) dog" if track == "Animal" else "(c) German",
            "multi_instruction": "Which fits best? (a) bark (b) meow", "multi_answer": "(a) bark",
        }])
    items = load_items("sakura", tmp_path)
    assert [i.id for i in items] == ["Animal/Animal.wav#single", "Animal/Animal.wav#multi",
                                     "Language/Language.wav#single", "Language/Language.wav#multi"]
    assert [i.answer_index for i in items] == [1, 0, 2, 0]
    assert items[2].audio[0] == tmp_path / "data/Language/audio/Language.wav"
    assert load_items("sakura", tmp_path / "data")[0].id == "Animal/Animal.wav#single"  # the data folder works too


def test_jasco_dev_items_and_release_csv(tmp_path):
    row = {"audio_sound": "Crackling fire", "spoken_text": "Try this marshmallow!", "audio_only_answer": "By a fire.",
           "speech_only_answer": "Offering food.", "answer": "They are roasting marshmallows.", "keywords": "roast, fire"}
    tone(tmp_path / "dev/audio/18.wav")
    write_jsonl(tmp_path / "dev/items.jsonl", [{"id": "18", "audio": "audio/18.wav", "question": JASCO_QUESTION, **row}])
    (dev,) = load_items("jasco", tmp_path / "dev")
    assert (dev.kind, dev.rubric, dev.keywords, dev.reference) == ("open", "jasco", ["roast", "fire"], row["answer"])
    assert dev.wordings() == JASCO_INSTRUCTIONS and dev.metadata["spoken_text"] == "Try this marshmallow!"
    assert dev.perception == {"asr": 'Transcript: "Try this marshmallow!"', "sound_events": "Background (non-speech): Crackling fire"}
    release = tmp_path / "What_Are_They_Doing/dataset/v0"
    tone(release / "18.wav")
    write_csv(release / "v0.csv", [{
        "audio_id": "18", "Audio": row["audio_sound"], "Speech": row["spoken_text"], "Audio-Only Answer": row["audio_only_answer"],
        "Speech-Only Answer": row["speech_only_answer"], "Correct Answer": row["answer"], "Correct Answer Keyword": row["keywords"],
    }])
    for data in (release / "v0.csv", tmp_path / "What_Are_They_Doing"):
        (item,) = load_items("jasco", data)
        assert item.model_dump(exclude={"audio"}) == dev.model_dump(exclude={"audio"})
        assert item.audio == [release / "18.wav"]


def test_mmau_test_mini_json_with_an_audio_folder(tmp_path):
    rows = [
        {"id": "3fe6", "audio_id": "./test-mini-audios/3fe6.wav", "question": "Identify the source of the voice.",
         "choices": ["Man", "Woman", "Child", "Robot"], "answer": "Man", "dataset": "AudioSet", "task": "sound",
         "split": "test-mini", "category": "Reasoning", "sub-category": "Acoustic Source Inference", "difficulty": "medium"},
        {"id": "77aa", "audio_id": "./test-mini-audios/77aa.wav", "question": "Which instrument leads?",
         "choices": ["Piano", "Violin"], "answer": "Violin", "dataset": "MusicCaps", "task": "music",
         "split": "test-mini", "category": "Perception", "sub-category": "Instrumentation", "difficulty": "easy"},
    ]
    (tmp_path / "mmau").mkdir()
    (tmp_path / "mmau/mmau-test-mini.json").write_text(json.dumps(rows))
    tone(tmp_path / "mmau/test-mini-audios/3fe6.wav")
    tone(tmp_path / "elsewhere/77aa.wav")
    first, second = load_items("mmau", tmp_path / "mmau/mmau-test-mini.json")
    assert (first.options, first.answer_index, first.choice_rule, first.category) == (
        ["Man", "Woman", "Child", "Robot"], 0, "mmau", "sound/Acoustic Source Inference")
    assert first.audio[0].exists() and first.metadata["difficulty"] == "medium"
    moved = load_items("mmau", tmp_path / "mmau", audio_dir=tmp_path / "elsewhere")
    assert moved[1].audio == [tmp_path / "elsewhere/77aa.wav"] and second.reference == "Violin"


def test_generic_jsonl(tmp_path):
    tone(tmp_path / "a.wav")
    tone(tmp_path / "b.wav", frequency=880)
    write_jsonl(tmp_path / "items.jsonl", [
        {"audio": "a.wav", "question": "Is it a tone?", "options": ["yes", "no"], "answer": "(a)", "category": "tones"},
        {"id": "len", "audio": "a.wav", "question": "How long is it, in seconds?", "answer": 0.5},
        {"audio": ["a.wav", "b.wav"], "question": "Which is higher?", "answer": "The second clip.", "keywords": "second"},
        {"audio": "a.wav", "question": "Transcribe it.", "answer": "", "kind": "transcript"},
    ])
    choice, number, pair, transcript = load_items("jsonl", tmp_path / "items.jsonl")
    assert (choice.id, choice.kind, choice.answer_index, choice.reference, choice.category) == ("1", "choice", 0, "yes", "tones")
    assert (number.id, number.kind, number.reference) == ("len", "number", "0.5")
    assert (pair.kind, len(pair.audio), pair.keywords) == ("open", 2, ["second"])
    assert transcript.kind == "transcript"
    assert len(choice.wordings()) == 3 and choice.wordings()[0] == "Is it a tone?"


def test_dynamic_superb_exports(tmp_path, monkeypatch):
    datasets = optional("datasets")
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path / "cache"))
    wav = tone(tmp_path / "src/clip.wav").read_bytes()
    rows = {"audio": [{"bytes": wav, "path": "clip1.wav"}, {"bytes": wav, "path": "clip2.wav"}],
            "file": ["clip1", "clip2"], "instruction": ["Is there a dog? Answer yes or no."] * 2, "label": ["yes", "no"]}
    # the hub's layout: an Audio column holding the wav bytes (cast, as encoding would need torchcodec)
    dataset = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(decode=False))
    root = tmp_path / "tasks"
    dataset.to_parquet(str(root / "DogDetection_Hub/data/test-00000-of-00001.parquet"))
    (root / "DogDetection_Hub/instance.json").write_text(json.dumps({
        "name": "Dog detection", "description": "Is a dog barking?", "keywords": ["audio"], "metrics": ["accuracy"],
        "path": "DynamicSuperb/DogDetection_Hub", "version": "abc123"}))
    dataset.save_to_disk(str(root / "DogDetection_Saved"))
    (root / "Transcribe_Json").mkdir()
    tone(root / "Transcribe_Json/one.wav")
    write_jsonl(root / "Transcribe_Json/test.jsonl", [{"audio": {"bytes": None, "path": "one.wav"}, "audio2": "one.wav",
                                                       "file": "one", "instruction": "Transcribe.", "label": "one"}])
    (root / "Transcribe_Json/instance.json").write_text(json.dumps({"name": "ASR", "metrics": ["wer"]}))

    items = load_items("dynamic-superb", root)
    hub = [i for i in items if i.category == "DogDetection_Hub"]
    assert [i.id for i in hub] == ["DogDetection_Hub/clip1", "DogDetection_Hub/clip2"]
    assert hub[0].kind == "classification" and hub[0].metadata["labels"] == ["no", "yes"]
    assert hub[0].metadata["task"]["version"] == "abc123" and hub[0].metadata["file"] == "clip1"
    assert hub[0].audio[0].read_bytes() == wav and hub[0].audio[0].is_relative_to(tmp_path / "cache")
    saved = [i for i in items if i.category == "DogDetection_Saved"]
    assert [i.reference for i in saved] == ["yes", "no"] and saved[0].metadata["task"] == {}
    (asr,) = [i for i in items if i.category == "Transcribe_Json"]
    assert asr.kind == "transcript" and asr.audio == [root / "Transcribe_Json/one.wav"] * 2
    assert [i.id for i in load_items("dynamic-superb", root / "DogDetection_Saved")] == ["DogDetection_Saved/clip1", "DogDetection_Saved/clip2"]


def test_dynamic_superb_ds_dev_items_jsonl(tmp_path):
    """ds-dev's layout: SAKURA's rows with a task for the track and no hop, audio2 for a pair task; source and meta,
    which give the answer away, reach no item."""
    tone(tmp_path / "audio/SV/0.wav")
    tone(tmp_path / "audio/SV/0_b.wav")
    tone(tmp_path / "audio/DP/0.wav")
    write_jsonl(tmp_path / "items.jsonl", [
        {"id": "SV/0", "task": "SpeakerVerification", "audio": "audio/SV/0.wav", "audio2": "audio/SV/0_b.wav",
         "instruction": "Are these two recordings spoken by the same person? (a) yes (b) no", "answer": "(b) no",
         "source": "clips x and y", "meta": {"same_speaker": False}},
        {"id": "DP/0", "task": "DurationPrediction", "audio": "audio/DP/0.wav",
         "instruction": "How long is it? (a) about 4 seconds (b) about 7 seconds", "answer": "(a) about 4 seconds",
         "source": "esc50", "meta": {"duration_s": 4.1}},
    ])
    pair, duration = load_items("dynamic-superb", tmp_path)
    assert pair.audio == [tmp_path / "audio/SV/0.wav", tmp_path / "audio/SV/0_b.wav"]
    assert (pair.question, pair.options, pair.answer_index, pair.kind) == (
        "Are these two recordings spoken by the same person?", ["yes", "no"], 1, "choice")
    assert (pair.category, duration.category, duration.reference) == ("SpeakerVerification", "DurationPrediction",
                                                                      "about 4 seconds")
    assert duration.audio == [tmp_path / "audio/DP/0.wav"]
    for item in (pair, duration):
        assert "source" not in item.metadata and "meta" not in item.metadata
        assert "esc50" not in item.model_dump_json() and "same_speaker" not in item.model_dump_json()
    with pytest.raises(CopilotError, match=r"Dynamic-SUPERB-style items .* `copilot bench run dynamic-superb`"):
        load_items("sakura", tmp_path)


def test_a_two_clip_item_reaches_the_agent_as_audio1_and_audio2(tmp_path):
    from copilot.answering.models import Answer, Trace
    from copilot.benchmarks.systems import CopilotSystem

    class Agent:
        def ask(self, clips, question, options):
            self.asked = (sorted(clips), {n: round(a.duration, 2) for n, a in clips.items()}, question, options)
            return Answer(question=question, text="(b) no", choice="(b) no", trace=Trace(planner="fake"))

    tone(tmp_path / "a.wav", 0.5)
    tone(tmp_path / "b.wav", 0.75)
    write_jsonl(tmp_path / "items.jsonl", [{"id": "SV/0", "task": "SpeakerVerification", "audio": "a.wav",
                                            "audio2": "b.wav", "instruction": "Same speaker? (a) yes (b) no",
                                            "answer": "(b) no"}])
    (item,) = load_items("dynamic-superb", tmp_path)
    system = CopilotSystem.__new__(CopilotSystem)  # the agent's plumbing only: no planner is loaded
    system.agent = agent = Agent()
    prediction = system.answer(item, item.wordings()[0])
    assert agent.asked == (["audio1", "audio2"], {"audio1": 0.5, "audio2": 0.75}, "Same speaker?", ["yes", "no"])
    assert prediction.choice == 1


def test_adapter_errors_are_one_line_messages(tmp_path):
    with pytest.raises(CopilotError, match="unknown benchmark"):
        load_items("nope", tmp_path)
    with pytest.raises(CopilotError, match="not found"):
        load_items("sakura", tmp_path / "missing")
    write_jsonl(tmp_path / "dup/items.jsonl", [{"id": "x", "audio": "a.wav", "question": "q?", "answer": "y"}] * 2)
    with pytest.raises(CopilotError, match="two items with the id 'x'"):
        load_items("jsonl", tmp_path / "dup")
    write_jsonl(tmp_path / "bad/items.jsonl", [{"audio": "a.wav", "question": "q?", "options": ["a", "b"], "answer": "c"}])
    with pytest.raises(CopilotError, match="not one of the options"):
        load_items("jsonl", tmp_path / "bad")
    with pytest.raises(CopilotError, match="not in a sakura layout: a row has no field 'id'"):
        load_items("sakura", tmp_path / "bad")
    with pytest.raises(CopilotError, match="no such JSONL file"):
        load_items("jsonl", tmp_path)


def test_limit_takes_items_in_turn_from_each_category(tmp_path):
    rows = [{"id": f"{c}{n}", "audio": "a.wav", "question": "q?", "answer": "y", "category": c} for c in "ab" for n in range(3)]
    items = load_items("jsonl", write_jsonl(tmp_path / "items.jsonl", rows))
    assert [i.id for i in select(items, 3)] == ["a0", "b0", "a1"]
    assert select(items, None) == items
