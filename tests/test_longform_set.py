"""The long-form set (issue #33): its scorer on hand-written answers of every kind of question, the report's table
per length, the ``longform`` adapter, and `make_set` writing one-minute recordings whose truths hold for the files:
each fact's sentence is where its turn says, and is heard there."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.items import Item, LongformTruth, Prediction
from copilot.benchmarks.longform_set import LEAD, PAUSE, Voices, make_set, speaking_time
from copilot.benchmarks.report import load, render
from copilot.benchmarks.runner import run
from copilot.benchmarks.scorers import TIME_SLACK, answer_times, score_longform
from copilot.errors import CopilotError

BUDGET = LongformTruth(ask="factual", keys=["42000|42 thousand|forty two thousand", "euro|eur"],
                       others=["17000|17 thousand|seventeen thousand", "pound|gbp", "dollar|usd"], seconds=600.0)
STREET = LongformTruth(ask="factual", keys=["linden"], others=["harbour", "main"], seconds=900.0)
TOPIC = LongformTruth(ask="time", seconds=1062.0)  # 17:42
WHO = LongformTruth(ask="speaker", keys=["Bruno|S2|speaker 2|second speaker"],
                    others=["Anna|S1|speaker 1|first speaker", "Bruno|S2|speaker 2|second speaker",
                            "Clara|S3|speaker 3|third speaker"], seconds=1100.0)
ABSENT = LongformTruth(ask="absent")
DECISIONS = LongformTruth(ask="summary", keys=["roofer", "stage", "timber"])
DATE = LongformTruth(ask="factual", keys=["december", "18|eighteenth"], others=["november", "january"], seconds=300.0)

CASES: list[tuple[LongformTruth, str, float, float]] = [  # truth, answer, right, invented
    (BUDGET, "The budget is €42,000 (at 10:00, S2: 'forty two thousand euros').", 1.0, 0.0),
    (BUDGET, "At 10:00 Bruno says the budget is forty-two thousand euros.", 1.0, 0.0),
    (BUDGET, "It is 42 thousand EUR.", 1.0, 0.0),
    (BUDGET, "The budget is $10 million.", 0.0, 1.0),
    (BUDGET, "The budget is 42,000 pounds.", 0.0, 1.0),
    (BUDGET, "The budget is 17,000 euros.", 0.0, 1.0),
    (BUDGET, "42,000 euros, or maybe 50,000.", 1.0, 1.0),
    (BUDGET, "The recording does not say.", 0.0, 0.0),
    (STREET, "The office is on Linden Street (at 15:00, S1).", 1.0, 0.0),
    (STREET, "Main Street.", 0.0, 1.0),
    (DATE, "By December 18th (at 5:00, S3).", 1.0, 0.0),
    (DATE, "By the eighteenth of December.", 1.0, 0.0),
    (DATE, "By December 8th.", 0.0, 1.0),
    (TOPIC, "They start talking about it at 17:42 (S1: 'Next, let us talk about the roof').", 1.0, 0.0),
    (TOPIC, "At about 17 minutes and 50 seconds.", 1.0, 0.0),
    (TOPIC, "Around 0:17:35.", 1.0, 0.0),
    (TOPIC, "At approximately 17.8 minutes.", 1.0, 0.0),
    (TOPIC, "At approximately 18 minutes.", 0.0, 0.0),  # 18 s late
    (TOPIC, "It begins at approximately 0 minutes.", 0.0, 0.0),
    (TOPIC, "21.60 seconds", 0.0, 0.0),
    (TOPIC, "The roof is discussed in the middle of the meeting.", 0.0, 0.0),
    (WHO, "Bruno proposed it (at 18:20, S2).", 1.0, 0.0),
    (WHO, "The second speaker, S2, proposed it; Anna agreed.", 1.0, 0.0),
    (WHO, "Anna proposed it.", 0.0, 0.0),
    (WHO, "It cannot be told who proposed it.", 0.0, 0.0),
    (ABSENT, "The solar panels' budget is not mentioned in the recording.", 1.0, 0.0),
    (ABSENT, "The meeting never discusses a budget for the solar panels.", 1.0, 0.0),
    (ABSENT, "Nothing in the recording says so; it is not discussed.", 1.0, 0.0),
    (ABSENT, "The budget for the solar panels is 30,000 euros.", 0.0, 1.0),
    (ABSENT, "It is not stated, but probably about 10,000 dollars.", 0.0, 1.0),
    (DECISIONS, "They agreed to hire a roofer, to add a second stage, and to build with recycled timber.", 1.0, 0.0),
    (DECISIONS, "They decided on a roofer and a new stage.", 2 / 3, 0.0),
    (DECISIONS, "They talked about the roof, the festival and the sheds.", 0.0, 0.0),
]


@pytest.mark.parametrize(("truth", "text", "right", "invented"), CASES)
def test_answers_are_scored_by_their_kind(truth: LongformTruth, text: str, right: float, invented: float) -> None:
    scores = score_longform(truth, text)
    assert (scores["right"], scores["invented"]) == (pytest.approx(right), invented)


def test_times_are_read_as_written() -> None:
    assert answer_times("at 1:02:03, then at 4:05") == [3723.0, 245.0]
    assert answer_times("17 minutes and 42 seconds in, 3 min later") == [1062.0, 180.0]
    assert answer_times("three minutes") == [180.0]
    assert answer_times("1.5 hours") == [5400.0]
    assert score_longform(TOPIC, "at 17:57")["time_error"] == TIME_SLACK
    assert "time_error" not in score_longform(TOPIC, "later on")


def test_a_truth_fits_its_kind() -> None:
    with pytest.raises(ValueError, match="time"):
        LongformTruth(ask="time")
    with pytest.raises(ValueError, match="keys"):
        LongformTruth(ask="factual", seconds=3.0)
    with pytest.raises(ValueError, match="longform item has a truth"):
        Item(id="x", audio=[Path("x.wav")], question="?", reference="a", kind="longform")


def _item(truth: LongformTruth, ask: str, minutes: int) -> Item:
    return Item(id=f"m{minutes}/{ask}", audio=[Path("recordings/m.wav")], question="?", reference="-",
                kind="longform", category=f"{minutes} min/{ask}", truth=truth)


class Says:
    """A system answering every item with one text."""

    name = "says"

    def __init__(self, text: str):
        self.text = text

    def answer(self, item: Item, question: str) -> Prediction:
        return Prediction(text=self.text)


def test_the_report_has_a_table_per_length(tmp_path: Path) -> None:
    items = [_item(BUDGET, "factual", 10), _item(TOPIC, "time", 10), _item(ABSENT, "absent", 30)]
    out = tmp_path / "r.jsonl"
    run(items, Says("The budget is 42,000 euros, from 17:40."), out, benchmark="longform")
    table = render(load([out]))
    assert "### long-form, 10 min" in table and "### long-form, 30 min" in table
    assert "| right: factual | 1/1 = 100% |" in table and "| times within 15 s | 1/1 = 100% |" in table
    assert "| right: absent | 0/1 = 0% |" in table and "| answers stating an invented value | 1 |" in table
    assert "### long-form questions right (%)" in table


def test_the_adapter_reads_the_set_and_refuses_other_items(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(_item(TOPIC, "time", 10).model_dump_json(exclude_defaults=True) + "\n")
    [item] = load_items("longform", tmp_path)
    assert item.audio == [tmp_path / "recordings" / "m.wav"] and item.truth == TOPIC
    (tmp_path / "items.jsonl").write_text(json.dumps({"id": "1", "audio": ["a.wav"], "question": "?",
                                                      "reference": "b", "kind": "open"}) + "\n")
    with pytest.raises(CopilotError, match="not a longform item"):
        load_items("longform", tmp_path)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Item]]:
    folder = tmp_path_factory.mktemp("longform")
    return folder, make_set(folder, (1,), seed=0)


def test_make_writes_every_kind_of_question(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    assert [i.id for i in load_items("longform", folder)] == [i.id for i in items]
    asks = Counter(item.truth.ask for item in items if item.truth)
    assert set(asks) == {"factual", "time", "speaker", "absent", "summary"} and asks["time"] >= 9
    assert {item.metadata["genre"] for item in items} == {"meeting", "interview", "lecture"}


def test_truths_hold_for_the_files(made: tuple[Path, list[Item]]) -> None:
    folder, items = made
    for item in items:
        assert item.truth is not None
        recording = json.loads((folder / item.audio[0]).with_suffix(".json").read_text())
        turns = recording["turns"]
        info = sf.info(str(folder / item.audio[0]))
        assert info.samplerate == SAMPLE_RATE and info.channels == 1
        assert info.duration == pytest.approx(recording["duration"], abs=0.01) and info.duration >= 55
        assert turns[0]["start"] == LEAD and all(b["start"] == pytest.approx(a["end"] + PAUSE, abs=0.002)
                                                 for a, b in pairwise(turns))
        if item.truth.seconds is not None:  # the fact's turn starts at the truth's time and says what is asked
            [turn] = [t for t in turns if t["start"] == item.truth.seconds]
            said = turn["text"].lower()
            if item.truth.ask in ("factual", "time"):
                assert all(any(a in said for a in key.split("|")) for key in item.truth.keys)
        if item.truth.ask == "speaker" and "most" in item.question:
            talk = speaking_time(recording)
            assert item.truth.keys == [item.truth.others[talk.index(max(talk))]]
        if item.truth.ask == "absent":  # what is asked about is never said
            asked = {"meeting": item.question.split(" for ")[-1].rstrip("?"), "interview": "salary",
                     "lecture": "field trip"}[item.metadata["genre"]]
            assert not any(asked in t["text"].lower() for t in turns)


def test_the_fact_is_heard_at_its_time(made: tuple[Path, list[Item]], tmp_path: Path) -> None:
    """The budget's sentence, spoken again by its talker's voice, matches the recording where its turn says it
    is, and not a second later; the turn is louder than the pause before it."""
    folder, items = made
    item = next(i for i in items if i.metadata["genre"] == "meeting" and "budget for" in i.question and i.truth
                and i.truth.ask == "factual")
    assert item.truth is not None and item.truth.seconds is not None
    recording = json.loads((folder / item.audio[0]).with_suffix(".json").read_text())
    [turn] = [t for t in recording["turns"] if t["start"] == item.truth.seconds]
    talker = recording["talkers"][turn["talker"]]
    spoken = Voices(tmp_path)((talker["voice"], talker["pitch"]), turn["text"])
    audio, _ = sf.read(folder / item.audio[0], dtype="float32")

    def match(at: float) -> float:
        start = int(at * SAMPLE_RATE)
        heard = audio[start : start + len(spoken)]
        return float(np.corrcoef(heard, spoken)[0, 1])

    assert match(turn["start"]) > 0.9 and abs(match(turn["start"] + 1.0)) < 0.3
    start = int(turn["start"] * SAMPLE_RATE)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(audio[start : start + len(spoken)]) > 4 * rms(audio[start - int(0.4 * SAMPLE_RATE) : start])
