"""The compound-question set (issue #22): its part scorer on hand-written answers of every kind, the scorer's and
the report's reading of an answer through the standard runner, the ``compound`` adapter, and `make_set` building
the set with truths that hold for the files it writes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyloudnorm
import pytest
import soundfile as sf

from copilot.answering.models import Answer, PartAnswer, Trace
from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.compound_set import make_set
from copilot.benchmarks.items import PART_KINDS, Item, Part, PartKind, Prediction
from copilot.benchmarks.report import load, render
from copilot.benchmarks.runner import read_results, rescore, run
from copilot.benchmarks.scorers import band, score, score_part, unmeasured_claim
from copilot.benchmarks.systems import CopilotSystem
from copilot.errors import CopilotError
from copilot.evidence import Evidence
from copilot.program import Program
from tests.test_bench_adapters import tone

RIGHT: list[tuple[PartKind, object, str]] = [
    ("count", 2, "There are two speakers."),
    ("count", 2, "2 different speakers take turns."),
    ("count", 3, "Speakers: 3"),
    ("count", 1, "Only one person speaks."),
    ("count", 1, "A single speaker talks throughout."),
    ("count", 2, "Two."),
    ("count", 3, "Three people: two men and a woman."),
    ("count", 2, "There are 2 speakers; the clip lasts 14.2 seconds at -23.0 LUFS."),
    ("sound", ["dog", "bark"], "A dog is barking behind them."),
    ("sound", ["rain", "raindrop"], "It is raining."),
    ("sound", ["applause", "clapping", "applaud"], "Applauses and cheering."),
    ("gender", "female", "The speaker is female."),
    ("gender", "male", "It is a man's voice."),
    ("gender_first", "male", "The first speaker is male, the second is female."),
    ("gender_second", "female", "The first speaker is male, the second is female."),
    ("gender_first", "female", "A woman."),
    ("words", ["saturday"], "They plan the picnic for Saturday."),
    ("words", ["sandwiches"], "She will bring a sandwich."),
    ("duration", 3.0, "It lasts 2.9 seconds."),
    ("duration", 14.229, "The recording is 14.2 s long."),
    ("duration", 75.0, "About 1:15."),
    ("duration", 12.0, "Twelve seconds."),
    ("loudness", "quiet", "The recording is quiet, well below broadcast level (-35.0 LUFS)."),
    ("loudness", "moderate", "It is at about broadcast level."),
    ("loudness", "quiet", "-35.0 LUFS: quiet, well below broadcast level (EBU R 128 broadcast: -23 LUFS)."),
    ("loudness", "loud", "It is loud, at or above streaming level."),
    ("loudness", "quiet", "It is not loud at all; rather soft."),
    ("loudness", "moderate", "Its integrated loudness is -23.1 LUFS."),
    ("unmeasurable", None, "This cannot be determined from the audio."),
    ("unmeasurable", None, 'Not measured: none of the tools measures what "What colour is his coat?" asks.'),
    ("unmeasurable", None, "No tool here measures the colour of a shirt."),
    ("unmeasurable", None, "No name is mentioned in the recording."),
    ("unmeasurable", None, "That information isn't available from the audio."),
    ("unmeasurable", None, "I don't know; the audio does not reveal clothing."),
    ("unmeasurable", None, "I don't have a tool that could tell where it was recorded."),
    ("sound_yes", True, "Yes, a dog barks in the background."),
    ("sound_yes", False, "No, there is no rain."),
    ("sound_yes", False, "There is no music in the background."),
    ("sound_yes", True, "Yes, although not all the time."),
]

WRONG: list[tuple[PartKind, object, str]] = [
    ("count", 2, "There are three speakers."),
    ("count", 2, "Two or three speakers."),
    ("count", 1, "Someone speaks about the weather."),
    ("sound", ["dog", "bark"], "Rain falls behind them."),
    ("gender", "male", "The speaker is female."),
    ("gender", "male", "A woman speaks."),
    ("gender", "female", "A man and a woman."),
    ("gender_second", "female", "The first speaker is female, the second is male."),
    ("words", ["thursday"], "The appointment is on Tuesday."),
    ("duration", 3.0, "It lasts 2.6 seconds."),
    ("duration", 14.229, "There are 2 speakers and it lasts 16 seconds."),
    ("loudness", "loud", "It is not loud."),
    ("loudness", "moderate", "It is quiet, well below broadcast level."),
    ("loudness", "loud", "It is moderately loud."),
    ("loudness", "moderate", "Its integrated loudness is -17.0 LUFS."),
    ("unmeasurable", None, "The speaker wears a blue shirt."),
    ("sound_yes", True, "No dog can be heard."),
    ("sound_yes", False, "Yes, it is raining."),
    ("sound_yes", True, "The speakers are talking about a picnic."),
]


@pytest.mark.parametrize(("kind", "truth", "text"), RIGHT)
def test_right_answers_score_right(kind: PartKind, truth: object, text: str) -> None:
    assert score_part(kind, truth, text)


@pytest.mark.parametrize(("kind", "truth", "text"), WRONG)
def test_wrong_answers_score_wrong(kind: PartKind, truth: object, text: str) -> None:
    assert not score_part(kind, truth, text)


def test_unmeasured_claims() -> None:
    assert unmeasured_claim("unmeasurable", "The speaker is wearing a red shirt.")
    assert not unmeasured_claim("unmeasurable", "The shirt's colour cannot be told from audio.")
    assert not unmeasured_claim("unmeasurable", "This was not measured: no tool here sees clothes.")
    assert unmeasured_claim("count", "Two people speak.")
    assert not unmeasured_claim("count", "The number of speakers could not be measured.")
    assert not unmeasured_claim("loudness", "The speakers plan a picnic.")  # says nothing about loudness
    assert unmeasured_claim("gender_first", "A woman speaks first.")
    assert not unmeasured_claim("duration", "")


def test_a_part_needs_a_truth_of_its_kind_and_a_compound_item_parts() -> None:
    assert Part(kind="duration", question="How long?", truth=3.5).truth == 3.5
    for kind, truth in [("count", "two"), ("sound_yes", "yes"), ("duration", 3), ("unmeasurable", "red")]:
        with pytest.raises(ValueError, match="truth"):
            Part(kind=kind, question="?", truth=truth)
    with pytest.raises(ValueError, match="two parts or more"):
        Item.model_validate(_item().model_dump() | {"parts": _item().parts[:1]})
    with pytest.raises(ValueError, match="two parts or more"):
        Item(id="x", audio=[Path("x.wav")], question="?", reference="a", kind="open", parts=_item().parts)


def _item() -> Item:
    return Item(id="c01", audio=[Path("clips/x.wav")], question="How many people speak, who speaks first, and who is she?",
                reference="count: 2; gender_first: male; unmeasurable: not measurable", kind="compound",
                parts=[Part(kind="count", question="How many people speak?", truth=2),
                       Part(kind="gender_first", question="Who speaks first?", truth="male"),
                       Part(kind="unmeasurable", question="Who is she?", truth=None)])


def _prediction(steps: list[dict], text: str, parts: list[str] | None = None) -> Prediction:
    """A copilot's prediction: its program, every planned step run without error, and its per-part texts if any."""
    evidence = [{"tool": s["tool"], "args": s.get("args", {}), "facts": "", "error": None, "cached": False}
                for s in steps]
    return Prediction(text=text, evidence=evidence, parts=parts or [], program=Program.model_validate({"steps": steps}))


def _verdicts(prediction: Prediction) -> list[tuple[bool, bool, bool, bool]]:
    return [(p.planned, p.measured, p.right, p.claim) for p in score(_item(), prediction, _item().question).part_scores]


def test_parts_are_scored_from_their_own_texts_and_gender_by_speaker_serves_only_with_by_speaker() -> None:
    steps = [{"id": "s1", "tool": "diarization"}, {"id": "s2", "tool": "gender"}]
    assert _verdicts(_prediction(steps, "Two speakers; a man first; she is Anna.")) == [
        (True, True, True, False), (False, False, True, True), (False, False, False, True)]
    steps[1]["args"] = {"by_speaker": True}
    texts = ["Two people.", "A man.", "Her name cannot be told from the audio."]
    assert _verdicts(_prediction(steps, "ignored", texts)) == [
        (True, True, True, False), (True, True, True, False), (False, False, True, False)]
    assert _verdicts(_prediction(steps, "Two speakers; a man first.", texts[:2]))[2] == (False, False, False, True)
    failed = _prediction(steps, "Two people.", texts)
    failed.evidence[0]["error"] = "diarization failed"  # planned, not measured: a count stated anyway is a claim
    assert _verdicts(failed)[0] == (True, False, True, True)
    assert score(_item(), failed, _item().question).scores == {}  # no refusal: each part has its own verdict


def test_the_copilot_system_hands_the_scorer_its_answers_parts_and_program(tmp_path: Path) -> None:
    steps = [{"id": "s1", "tool": "diarization"}, {"id": "s2", "tool": "gender", "args": {"by_speaker": True}}]
    texts = ["2", "a man", "?"]
    reply = Answer(question=_item().question, text="whole", program=Program.model_validate({"steps": steps}),
                   parts=[PartAnswer(question=p.question, text=t) for p, t in zip(_item().parts, texts, strict=True)],
                   evidence=[Evidence(step="s1", tool="diarization"), Evidence(step="s2", tool="gender", error="no")],
                   trace=Trace(planner="scripted"))

    class Agent:
        def ask(self, clips: dict, question: str, options: list[str] | None) -> Answer:
            return reply

    system = CopilotSystem.__new__(CopilotSystem)
    system.agent = Agent()  # type: ignore[assignment]
    item = _item().model_copy(update={"audio": [tone(tmp_path / "x.wav")]})
    prediction = system.answer(item, item.question)
    assert prediction.parts == texts and prediction.program == reply.program
    assert [(p.planned, p.measured) for p in score(item, prediction, item.question).part_scores] == [
        (True, True), (True, False), (False, False)]


class Answers:
    """A system answering the compound item from a script; fails when it has no answer."""

    def __init__(self, name: str, prediction: Prediction | None):
        self.name, self.prediction = name, prediction

    def answer(self, item: Item, question: str) -> Prediction:
        if self.prediction is None:
            raise RuntimeError("planner gave up")
        return self.prediction


def test_the_runner_stores_what_the_scorer_reads_and_the_report_compares_systems(tmp_path: Path) -> None:
    steps = [{"id": "s1", "tool": "diarization"}]
    before, after, failed = tmp_path / "before.jsonl", tmp_path / "after.jsonl", tmp_path / "failed.jsonl"
    run([_item()], Answers("before", _prediction(steps, "Three people, a woman first; she is Anna.")), before,
        benchmark="compound")
    texts = ["Two people.", "It was not measured.", "Unknown: no tool tells names."]
    run([_item()], Answers("after", _prediction(steps, "x", texts)), after, benchmark="compound")
    run([_item()], Answers("failed", None), failed, benchmark="compound")
    [stored] = read_results(after)
    assert stored.parts == texts and stored.program is not None and stored.program.steps[0].tool == "diarization"
    assert [p.right for p in stored.part_scores] == [True, False, True]
    [error] = read_results(failed)
    assert error.error and [(p.kind, p.right, p.planned) for p in error.part_scores] == [
        ("count", False, False), ("gender_first", False, False), ("unmeasurable", False, False)]
    rescore([_item()], after, tmp_path / "rescored.jsonl")
    assert read_results(tmp_path / "rescored.jsonl")[0].part_scores == stored.part_scores
    table = render(load([before, after, failed]))
    assert "| row | after | before | failed |" in table
    assert "| parts answered right | 2/3 = 67% | 0/3 = 0% | 0/3 = 0% |" in table
    assert "| answers stating a value no tool measured | 0 | 2 | 0 |" in table
    assert "| answers with a text per part | 1 | 0 | 0 |" in table
    assert "| right: gender_first | 0/1 = 0% | 0/1 = 0% | 0/1 = 0% |" in table
    assert "| planned: count | 1/1 = 100% | 1/1 = 100% | 0/1 = 0% |" in table
    assert "### parts answered right (%)" in table and "refusal" not in table


def test_the_compound_adapter_reads_the_set_and_refuses_other_items(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(_item().model_dump_json(exclude_defaults=True) + "\n")
    [item] = load_items("compound", tmp_path)
    assert item.audio == [tmp_path / "clips" / "x.wav"] and item.parts == _item().parts
    (tmp_path / "items.jsonl").write_text(json.dumps({"id": "1", "audio": "a.wav", "question": "?", "answer": "b"}) + "\n")
    with pytest.raises(CopilotError, match="not a compound item"):
        load_items("compound", tmp_path)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Item]]:
    folder = tmp_path_factory.mktemp("compound")
    make_set(folder, seed=0)
    return folder, load_items("compound", folder)


def test_make_writes_the_set(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    assert len(items) >= 40
    assert all(item.kind == "compound" and 2 <= len(item.parts) <= 4 for item in items)
    kinds = Counter(part.kind for item in items for part in item.parts)
    assert set(kinds) == set(PART_KINDS) and kinds["unmeasurable"] >= 5
    clips = [json.loads(line) for line in (folder / "clips.jsonl").read_text().splitlines()]
    assert 12 <= len(clips) <= 16
    for clip in clips:
        assert all(2 <= t["end"] - t["start"] <= 4 for t in clip["turns"])
        assert len({(t["voice"], t["pitch"]) for t in clip["talkers"]}) == len(clip["talkers"]) <= 3


def test_truths_hold_for_the_files(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    clips = {folder / c["audio"]: c for c in map(json.loads, (folder / "clips.jsonl").read_text().splitlines())}
    meter = pyloudnorm.Meter(SAMPLE_RATE)
    for item in items:
        samples, rate = sf.read(item.audio[0], dtype="float64")
        assert rate == SAMPLE_RATE and samples.ndim == 1
        clip = clips[item.audio[0]]
        for part in item.parts:
            if part.kind == "loudness":
                assert part.truth == band(meter.integrated_loudness(samples))
            elif part.kind == "duration":
                assert part.truth == pytest.approx(len(samples) / SAMPLE_RATE, abs=0.001)
            elif part.kind == "count":
                assert part.truth == len(clip["talkers"])
            elif part.kind == "sound_yes":
                assert part.truth == ((clip["background"] is not None and clip["background"] in part.question.lower())
                                      or (clip["background"] == "piano" and "music" in part.question.lower()))
