"""The compound-question set (issue #22): its part scorer on hand-written answers of every kind, the report's
reading of an answer, and `make` building the set with truths that hold for the files it writes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyloudnorm
import pytest
import soundfile as sf

from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.compound import (
    KINDS,
    Answered,
    Item,
    Part,
    PartKind,
    band,
    judge,
    make_set,
    read_items,
    report,
    score_part,
    unmeasured_claim,
)

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


def test_a_part_needs_a_truth_of_its_kind() -> None:
    assert Part(kind="duration", question="How long?", truth=3.5).truth == 3.5
    for kind, truth in [("count", "two"), ("sound_yes", "yes"), ("duration", 3), ("unmeasurable", "red")]:
        with pytest.raises(ValueError, match="truth"):
            Part(kind=kind, question="?", truth=truth)


def _item() -> Item:
    return Item(id="c01", audio="clips/x.wav", question="How many people speak, who speaks first, and who is she?",
                parts=[Part(kind="count", question="How many people speak?", truth=2),
                       Part(kind="gender_first", question="Who speaks first?", truth="male"),
                       Part(kind="unmeasurable", question="Who is she?", truth=None)])


def _answer(steps: list[dict], text: str, parts: list[str] | None = None) -> dict:
    """An answer as `Answer.model_dump` gives it: every planned step ran without error."""
    answer: dict = {"text": text, "program": {"steps": steps},
                    "evidence": [{"step": s["id"], "tool": s["tool"], "args": s.get("args", {})} for s in steps]}
    if parts is not None:
        answer["parts"] = [{"question": "", "text": t, "steps": [], "measured": True, "answered_by": ""} for t in parts]
    return answer


def test_judge_reads_per_part_texts_and_by_speaker() -> None:
    steps = [{"id": "s1", "tool": "diarization", "args": {}}, {"id": "s2", "tool": "gender", "args": {}}]
    whole = judge(_item(), Answered(id="c01", answer=_answer(steps, "Two speakers; a man first; she is Anna.")))
    assert [(r.planned, r.right, r.claim) for r in whole] == [(True, True, False), (False, True, True),
                                                              (False, False, True)]
    steps[1]["args"] = {"by_speaker": True}
    texts = ["Two people.", "A man.", "Her name cannot be told from the audio."]
    split = judge(_item(), Answered(id="c01", answer=_answer(steps, "ignored", texts)))
    assert [(r.planned, r.measured, r.right, r.claim) for r in split] == [
        (True, True, True, False), (True, True, True, False), (False, False, True, False)]
    failed = judge(_item(), Answered(id="c01", error="planner gave up"))
    assert not any(r.right or r.planned for r in failed)


def test_report_compares_two_results_files(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(_item().model_dump_json() + "\n")
    steps = [{"id": "s1", "tool": "diarization", "args": {}}]
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before.write_text(Answered(id="c01", answer=_answer(steps, "Three people, a woman first; she is Anna.")).model_dump_json() + "\n")
    texts = ["Two people.", "It was not measured.", "Unknown: no tool tells names."]
    after.write_text(Answered(id="c01", answer=_answer(steps, "x", texts)).model_dump_json() + "\n" + '{"id": "c0')
    table = report(tmp_path, after, before)
    assert "| parts answered right | 0/3 = 0% | 2/3 = 67% |" in table
    assert "| answers stating a value no tool measured | 2 | 0 |" in table


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Item]]:
    folder = tmp_path_factory.mktemp("compound")
    return folder, make_set(folder, seed=0)


def test_make_writes_the_set(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    assert read_items(folder) == items
    assert len(items) >= 40
    assert all(2 <= len(item.parts) <= 4 for item in items)
    kinds = Counter(part.kind for item in items for part in item.parts)
    assert set(kinds) == set(KINDS) and kinds["unmeasurable"] >= 5
    clips = [json.loads(line) for line in (folder / "clips.jsonl").read_text().splitlines()]
    assert 12 <= len(clips) <= 16
    for clip in clips:
        assert all(2 <= t["end"] - t["start"] <= 4 for t in clip["turns"])
        assert len({(t["voice"], t["pitch"]) for t in clip["talkers"]}) == len(clip["talkers"]) <= 3


def test_truths_hold_for_the_files(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    clips = {c["audio"]: c for c in map(json.loads, (folder / "clips.jsonl").read_text().splitlines())}
    meter = pyloudnorm.Meter(SAMPLE_RATE)
    for item in items:
        samples, rate = sf.read(folder / item.audio, dtype="float64")
        assert rate == SAMPLE_RATE and samples.ndim == 1
        clip = clips[item.audio]
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
