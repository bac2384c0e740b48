"""The runner (append, resume, failures, torn lines, variants), rescoring, and the report (tables, published figures,
chart), with a scripted system; the real systems are in test_bench_systems.py."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pytest

from copilot.benchmarks.cli import add_commands
from copilot.benchmarks.items import Item, Prediction
from copilot.benchmarks.judge import Judge
from copilot.benchmarks.prompts import JASCO_INSTRUCTIONS
from copilot.benchmarks.report import METRICS, load, render, series_label
from copilot.benchmarks.runner import read_results, rescore, run, select
from copilot.errors import CopilotError
from tests.test_bench_adapters import optional
from tests.test_bench_scorers import ScriptedLLM, jasco_item


class ScriptedSystem:
    """Answers a choice item with its right letter for the first wording only; fails on the ids it is given."""

    def __init__(self, name: str = "scripted", fail: tuple[str, ...] = (), right: bool = True):
        self.name, self.fail, self.right = name, set(fail), right
        self.asked: list[str] = []

    def answer(self, item: Item, question: str) -> Prediction:
        self.asked.append(f"{item.id}|{question}")
        if item.id in self.fail:
            raise RuntimeError(f"cannot answer {item.id}")
        index = item.answer_index if self.right and question == item.wordings()[0] else 1 - item.answer_index
        return Prediction(text=f"({'ab'[index]}) {item.options[index]}", timings={"total": 0.25})


def sakura_items() -> list[Item]:
    return [
        Item(id=f"{track}/{n}#{hop}", audio=[Path("x.wav")], question=f"{track} question {n}?", options=["no", "yes"],
             reference="yes", answer_index=1, kind="choice", category=f"{hop}/{track}")
        for track in ("Gender", "Animal") for hop in ("single", "multi") for n in range(2)
    ]


def test_each_answer_is_appended_and_a_failure_is_recorded(tmp_path):
    out = tmp_path / "results.jsonl"
    system = ScriptedSystem(fail=("Animal/0#multi",))
    summary = run(sakura_items(), system, out, benchmark="sakura")
    results = read_results(out)
    assert (summary.before, summary.added, summary.errors) == (0, 8, 1)
    assert sorted(r.key for r in results) == sorted(f"{i.id}#v0" for i in sakura_items())
    failed = next(r for r in results if r.error)
    assert failed.id == "Animal/0#multi" and "RuntimeError: cannot answer" in failed.error
    good = next(r for r in results if r.id == "Gender/0#single")
    assert (good.choice, good.score, good.system) == ("(b) yes", {"correct": 1.0, "refusal": 0.0}, "scripted")
    assert good.timings["total"] == 0.25 and good.timings["wall"] >= 0


def test_a_second_run_redoes_nothing_and_a_torn_line_is_cut(tmp_path):
    out = tmp_path / "results.jsonl"
    run(sakura_items()[:3], ScriptedSystem(), out, benchmark="sakura")
    whole = out.read_bytes()
    with out.open("ab") as f:
        f.write(b'{"key": "Animal/1#multi#v0", "id": "Anim')  # a line torn by a kill
    again = ScriptedSystem()
    summary = run(sakura_items(), again, out, benchmark="sakura", workers=3)
    assert (summary.before, summary.added) == (3, 5)
    assert len(again.asked) == 5 and out.read_bytes().startswith(whole)
    assert len({r.key for r in read_results(out)}) == len(read_results(out)) == 8


def test_errors_are_kept_unless_retried(tmp_path):
    out = tmp_path / "results.jsonl"
    run(sakura_items(), ScriptedSystem(fail=("Gender/1#single",)), out, benchmark="sakura")
    assert run(sakura_items(), ScriptedSystem(), out, benchmark="sakura").added == 0
    retry = run(sakura_items(), ScriptedSystem(), out, benchmark="sakura", retry_errors=True)
    assert (retry.added, retry.errors) == (1, 0)
    by_bench = load([out])
    assert all(r.error is None for r in by_bench["sakura"]["scripted"])  # the retried line supersedes the error


def test_a_results_file_holds_one_benchmark_and_system(tmp_path):
    out = tmp_path / "results.jsonl"
    run(sakura_items()[:1], ScriptedSystem(), out, benchmark="sakura")
    with pytest.raises(CopilotError, match="holds results of sakura with scripted"):
        run(sakura_items()[:1], ScriptedSystem(name="other"), out, benchmark="sakura")
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n{"no newline": 2}')
    with pytest.raises(CopilotError, match="not a benchmark result"):
        run(sakura_items()[:1], ScriptedSystem(), tmp_path / "notes.jsonl", benchmark="sakura")
    assert (tmp_path / "notes.jsonl").read_text().endswith('{"no newline": 2}')  # another file is left alone


def test_report_puts_systems_and_published_figures_side_by_side(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run(sakura_items(), ScriptedSystem(name="always-right"), first, benchmark="sakura", variants=3)
    run(sakura_items(), ScriptedSystem(name="always-wrong", right=False, fail=("Animal/0#single",)), second, benchmark="sakura")
    text = render(load([first, second]))
    assert "## sakura" in text and "| always-right | 8 | 3 | 0 |" in text and "| always-wrong | 8 | 1 | 1 |" in text
    header = next(line for line in text.splitlines() if line.startswith("| row | always-right | always-wrong"))
    assert "Qwen2-Audio-Instruct (published) | GPT-4o Audio (published) | DeSTA2 (published)" in header
    assert "| single | 100.0 / 33.3 | 0.0 | 81.2 | 71.3 | 63.0 |" in text  # best of 3 wordings / mean
    assert "| multi/Animal | 100.0 / 33.3 | 0.0 |  |  |  |" in text
    assert "| all | 100.0 / 33.3 | 0.0 |  |  |  |" in text
    assert "### refusal rate (%)" in text


def test_a_dynamic_superb_report_has_each_task_and_the_unweighted_mean_over_tasks(tmp_path):
    items = [
        Item(id=f"{task}/{n}", audio=[Path("x.wav")], question="q?", options=["no", "yes"], reference="yes",
             answer_index=1, kind="choice", category=task)
        for task, size in (("SpeechDetection", 4), ("SpeakerCounting", 1)) for n in range(size)
    ]
    out = tmp_path / "ds.jsonl"
    run(items, ScriptedSystem(fail=("SpeechDetection/0",)), out, benchmark="dynamic-superb")
    text = render(load([out]))
    assert "| SpeechDetection | 75.0 |" in text and "| SpeakerCounting | 100.0 |" in text
    assert "| mean over tasks | 87.5 |" in text  # (75 + 100) / 2, each task weighing the same
    assert "| all | 80.0 |" in text  # 4 of the 5 answers
    rows = [line.split(" |")[0] for line in text.split("### accuracy (%)")[1].splitlines() if line.startswith("| ")]
    assert rows[-2:] == ["| mean over tasks", "| all"]
    sakura = tmp_path / "sakura.jsonl"
    run(sakura_items(), ScriptedSystem(), sakura, benchmark="sakura")
    assert "mean over tasks" not in render(load([sakura]))


def test_cli_report_prints_tables_and_writes_the_chart(tmp_path, capsys):
    optional("matplotlib")
    out = tmp_path / "sakura.jsonl"
    run(sakura_items(), ScriptedSystem(), out, benchmark="sakura")
    parser = argparse.ArgumentParser(prog="copilot")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "report", str(out)])
    args.func(args)
    printed = capsys.readouterr()
    assert "### accuracy (%)" in printed.out and f"chart: {tmp_path / 'sakura.png'}" in printed.err
    assert (tmp_path / "sakura.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "run", "sakura", "--data", "x", "--out", "y", "--limit", "0"])
    assert json.loads(out.read_text().splitlines()[0])["benchmark"] == "sakura"


class Describer:
    """Names the action for the first wording of a JASCO item, only the sound for the others."""

    name = "describer"

    def answer(self, item: Item, question: str) -> Prediction:
        text = "They are roasting marshmallows." if question == JASCO_INSTRUCTIONS[0] else "A fire crackles."
        return Prediction(text=text, timings={"total": 1.0})


def test_report_of_an_open_benchmark_shows_judge_keywords_and_orientation(tmp_path):
    items = [jasco_item().model_copy(update={"id": str(n)}) for n in range(2)]
    both = {"explanation1": "x", "rating": 2, "explanation2": "y", "orientation": "Both", "refused": False}
    audio = {"explanation1": "x", "rating": 1, "explanation2": "y", "orientation": "Audio-Oriented", "refused": False}
    out = tmp_path / "jasco.jsonl"
    run(items, Describer(), out, benchmark="jasco", judge=Judge(ScriptedLLM(both, audio, both, audio)), variants=2)
    text = render(load([out]))
    assert "| describer | 2 | 2 | 0 | 1.0 | – | scripted-judge |" in text
    assert "| row | describer | Qwen2-Audio-Instruct (published) | SALMONN (published) | LTU-AS (published) |" in text
    assert "| all | 2.00 / 1.00 | 1.38 | 1.21 | 1.04 | 0.49 |" in text  # best-mean / mean: audio-oriented counts 0
    assert "| all | 100.0 / 50.0 |" in text  # keyword hits
    assert "| all | audio 50 · both 50 · speech 0 | audio 13 · both 56 · speech 31 |" in text


def test_rescore_recomputes_rule_scores_and_judges_only_what_no_judge_rated(tmp_path):
    items = [jasco_item().model_copy(update={"id": str(n)}) for n in range(2)]
    answered = tmp_path / "jasco.jsonl"
    run(items, Describer(), answered, benchmark="jasco", variants=2)
    stale = [json.loads(line) for line in answered.read_text().splitlines()]
    for line in stale:
        line["score"]["keyword_hit"] = 0.0  # as an older, stricter scorer would have written it
    answered.write_text("".join(json.dumps(line) + "\n" for line in stale))

    both = {"explanation1": "x", "rating": 2, "explanation2": "y", "orientation": "Both", "refused": False}
    judge_llm = ScriptedLLM(*[both] * 4)
    judged = tmp_path / "judged.jsonl"
    summary = rescore(items, answered, judged, judge=Judge(judge_llm))
    assert (summary.before, summary.added, summary.errors) == (0, 4, 0) and len(judge_llm.prompts) == 4
    by_key = {r.key: r for r in read_results(judged)}
    roasting = by_key["0#v0"]
    assert roasting.score == {"keyword_hit": 1.0, "judge": 2.0, "judge_rating": 2.0, "orientation": "Both", "refusal": 0.0}
    assert (roasting.judge, roasting.prediction, roasting.system) == ("scripted-judge", "They are roasting marshmallows.", "describer")
    assert by_key["0#v1"].score["keyword_hit"] == 0.0  # "A fire crackles." names no keyword
    assert answered.read_text() == "".join(json.dumps(line) + "\n" for line in stale)  # the source is only read

    other = ScriptedLLM('{"rating": 7}', *[both] * 3)
    other.name = "another-judge"
    again = tmp_path / "again.jsonl"
    assert rescore(items, judged, again, judge=Judge(other)).errors == 1  # another judge rates everything again
    failed = next(r for r in read_results(again) if r.error)
    assert "another-judge replied with no valid verdict" in failed.error and failed.prediction  # the answer is kept
    assert {r.judge for r in read_results(again) if not r.error} == {"another-judge"}
    kept = rescore(items, judged, tmp_path / "kept.jsonl", judge=None)
    scores = {r.key: r.score for r in read_results(judged)}
    assert kept.errors == 0 and {r.key: r.score for r in read_results(tmp_path / "kept.jsonl")} == scores
    assert rescore(items, judged, tmp_path / "kept.jsonl", judge=None).added == 0  # resumed: nothing redone


def test_report_says_when_a_judge_rated_only_some_answers(tmp_path):
    items = [jasco_item().model_copy(update={"id": str(n)}) for n in range(2)]
    both = {"explanation1": "x", "rating": 2, "explanation2": "y", "orientation": "Both", "refused": False}
    out = tmp_path / "jasco.jsonl"
    run(items, Describer(), out, benchmark="jasco", judge=Judge(ScriptedLLM(both, both)))
    assert "| describer | 2 | 1 | 0 | 1.0 | – | scripted-judge |" in render(load([out]))
    run(items, Describer(), out, benchmark="jasco", variants=2)  # the second wording resumed with no judge
    assert "| describer | 2 | 2 | 0 | 1.0 | – | scripted-judge (2 of 4 answers) |" in render(load([out]))
    judge, keyword = (next(m for m in METRICS if m.key == key) for key in ("judge", "keyword_hit"))
    results = load([out])["jasco"]["describer"]
    assert series_label("describer", judge, results) == "describer (2 of 4 judged)"  # the chart's legend says so too
    assert series_label("describer", keyword, results) == "describer"


def test_rescore_refuses_its_own_source_and_results_of_other_data(tmp_path):
    out = tmp_path / "results.jsonl"
    run(sakura_items(), ScriptedSystem(fail=("Animal/0#multi",)), out, benchmark="sakura")
    with pytest.raises(CopilotError, match="only read, never rewritten"):
        rescore(sakura_items(), out, out)
    with pytest.raises(CopilotError, match="items the data lacks"):
        rescore(sakura_items()[:2], out, tmp_path / "other.jsonl")
    with pytest.raises(CopilotError, match="holds no results"):
        rescore(sakura_items(), tmp_path / "missing.jsonl", tmp_path / "other.jsonl")
    summary = rescore(sakura_items(), out, tmp_path / "rescored.jsonl")
    assert (summary.added, summary.errors) == (8, 1)  # the failed answer is carried over as it was
    rescored = {r.key: r for r in read_results(tmp_path / "rescored.jsonl")}
    assert rescored["Animal/0#multi#v0"].error == next(r.error for r in read_results(out) if r.error)
    assert rescored["Gender/0#single#v0"].score == {"correct": 1.0, "refusal": 0.0}


def test_cli_rescore_reads_the_benchmark_data(tmp_path, capsys):
    data = tmp_path / "jasco"
    (data / "audio").mkdir(parents=True)
    (data / "audio" / "0.wav").write_bytes(b"")
    item = jasco_item()
    row = {"id": "0", "audio": "audio/0.wav", "question": item.question, "audio_sound": "Crackling fire",
           "spoken_text": "Try this marshmallow!", "audio_only_answer": "By a fire.", "speech_only_answer": "Food.",
           "answer": item.reference, "keywords": "roast"}
    (data / "items.jsonl").write_text(json.dumps(row) + "\n")
    answered = tmp_path / "answered.jsonl"
    run([item.model_copy(update={"id": "0"})], Describer(), answered, benchmark="jasco")
    parser = argparse.ArgumentParser(prog="copilot")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "rescore", "jasco", str(answered), "--data", str(data), "--judge", "none",
                              "--out", str(tmp_path / "rescored.jsonl")])
    args.func(args)
    assert "0 results kept, 1 rescored (0 errors)" in capsys.readouterr().err
    assert read_results(tmp_path / "rescored.jsonl")[0].score == {"keyword_hit": 1.0, "refusal": 0.0}


def categorised(sizes: dict[str, int]) -> list[Item]:
    """Choice items of the given number per category, the categories interleaved as a dataset might list them."""
    rows = [(c, n) for c, size in sizes.items() for n in range(size)]
    rows.sort(key=lambda row: row[1])
    return [Item(id=f"{c}/{n}", audio=[Path("x.wav")], question="q?", options=["no", "yes"], reference="yes",
                 answer_index=1, kind="choice", category=c) for c, n in rows]


def test_a_stratified_sample_keeps_each_categorys_share():
    items = categorised({"single/Gender": 60, "multi/Gender": 30, "single/Animal": 10})
    chosen = select(items, 20, "stratified")
    counts = Counter(i.category for i in chosen)
    assert counts == {"single/Gender": 12, "multi/Gender": 6, "single/Animal": 2}
    assert [i for i in items if i in chosen] == chosen  # in the data's order
    assert len({i.id for i in chosen}) == 20
    odd = Counter(i.category for i in select(items, 7, "stratified"))  # quotas 4.2, 2.1, 0.7: the largest remainder
    assert odd == {"single/Gender": 4, "multi/Gender": 2, "single/Animal": 1}


def test_a_stratified_sample_is_the_same_for_a_seed_and_another_for_another():
    items = categorised({"single/Gender": 40, "multi/Gender": 40})
    first = [i.id for i in select(items, 10, "stratified")]
    assert first == [i.id for i in select(items, 10, "stratified", seed=0)]
    assert first != [i.id for i in select(items, 10, "stratified", seed=1)]
    assert first != [i.id for i in select(items, 10)]  # not simply the first items
    assert set(first) <= {i.id for i in items}


def test_a_stratified_sample_has_every_category_once_there_are_seats_enough():
    items = categorised({"single/Gender": 97, "single/Animal": 1, "multi/Animal": 1, "multi/Gender": 1})
    for limit in (4, 5, 9):
        counts = Counter(i.category for i in select(items, limit, "stratified"))
        assert set(counts) == {"single/Gender", "single/Animal", "multi/Animal", "multi/Gender"}
        assert sum(counts.values()) == limit and counts["single/Gender"] == limit - 3
    assert len(select(items, 3, "stratified")) == 3  # fewer seats than categories: the largest shares
    assert select(items, None, "stratified") == select(items, 500, "stratified") == items
