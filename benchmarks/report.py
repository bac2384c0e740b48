"""The report: results files aggregated into markdown tables per benchmark and category, systems side by side,
published figures beside ours where known, a compound benchmark's parts by kind, a long-form benchmark's questions
by length and kind, and a bar chart of each benchmark's
main metric.

With prompt variants, a cell reads ``best / mean``: for per-answer metrics the best variant per item averaged over
items (JASCO's "Best-Mean") and the mean over all answers; for corpus metrics (macro-F1, WER, CER) the best and the
mean of the per-variant figures. An error counts as a wrong answer (accuracy 0, judge 0, none of its parts right)
and is left out of refusals, WER and MAE.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Literal, get_args

from copilot.benchmarks.items import LongformAsk, PartKind, PartScore, Result
from copilot.benchmarks.runner import latest, read_results
from copilot.benchmarks.scorers import macro_f1
from copilot.errors import CopilotError

PUBLISHED: dict[str, dict[str, dict[str, dict[str, float | str]]]] = {
    "sakura": {"accuracy": {
        "single": {"Qwen2-Audio-Instruct": 81.2, "GPT-4o Audio": 71.3, "DeSTA2": 63.0},
        "multi": {"Qwen2-Audio-Instruct": 49.1, "GPT-4o Audio": 54.3, "DeSTA2": 57.1},
    }},
    "jasco": {
        "judge": {"all": {"Qwen2-Audio-Instruct": 1.38, "SALMONN": 1.21, "LTU-AS": 1.04, "WavLLM": 0.49}},
        "orientation": {"all": {
            "Qwen2-Audio-Instruct": "audio 13 · both 56 · speech 31", "SALMONN": "audio 27 · both 48 · speech 25",
            "LTU-AS": "audio 19 · both 49 · speech 32", "WavLLM": "audio 9 · both 17 · speech 74",
        }},
    },
}
"""Published figures by benchmark, metric and report row. SAKURA: averages over its 4 tracks, single / multi-hop
accuracy (SAKURA paper, via ../shared/data/README.md). JASCO: best-mean of 8 prompts with a Llama-3.1-70B judge and
the modality dependence (README of BenoitWang/What_Are_They_Doing)."""

MEAN_OVER_CATEGORIES = {"dynamic-superb": "mean over tasks"}
"""Benchmarks scored per category and then by the unweighted mean of the categories' figures, and that row's label:
Dynamic-SUPERB reports accuracy per task and the mean over tasks, so a task of 25 items weighs what one of 250 does."""


@dataclass(frozen=True)
class Metric:
    """A figure of the report: per answer (averaged, best-of per item) or per corpus (one figure per variant)."""

    key: str
    title: str
    value: Callable[[Result], float | None] | None = None
    corpus: Callable[[list[Result]], float | None] | None = None
    lower_is_better: bool = False
    digits: int = 1


def _corpus_rate(errors: str, total: str) -> Callable[[list[Result]], float | None]:
    def rate(results: list[Result]) -> float | None:
        done = [r for r in results if not r.error and total in r.score]
        size = sum(float(r.score[total]) for r in done)
        return 100 * sum(float(r.score[errors]) for r in done) / size if size else None

    return rate


def _f1(results: list[Result]) -> float | None:
    labelled = [r for r in results if r.kind == "classification"]
    if not labelled:
        return None
    return 100 * macro_f1([r.reference for r in labelled], [str(r.score.get("label", "")) for r in labelled])


def _scored(field: str, kinds: set[str], scale: float = 1.0) -> Callable[[Result], float | None]:
    """The value of ``field`` (times ``scale``) for results of ``kinds`` that have it; 0 for their errors."""

    def value(r: Result) -> float | None:
        if r.kind not in kinds:
            return None
        if r.error:
            return 0.0
        return scale * float(r.score[field]) if field in r.score else None

    return value


def _parts_right(results: list[Result]) -> float | None:
    parts = [p for r in results for p in r.part_scores]
    return 100 * sum(p.right for p in parts) / len(parts) if parts else None


METRICS = [
    Metric("judge", "judge score (0-2)", value=_scored("judge", {"open"}), digits=2),
    Metric("keyword_hit", "keyword hit (%)", value=_scored("keyword_hit", {"open"}, 100)),
    Metric("accuracy", "accuracy (%)", value=_scored("correct", {"choice", "classification"}, 100)),
    Metric("macro_f1", "macro-F1 (%)", corpus=_f1),
    Metric("wer", "WER (%)", corpus=_corpus_rate("word_errors", "words"), lower_is_better=True),
    Metric("cer", "CER (%)", corpus=_corpus_rate("char_errors", "chars"), lower_is_better=True),
    Metric("mae", "MAE", value=lambda r: None if r.error or "abs_error" not in r.score else float(r.score["abs_error"]),
           lower_is_better=True, digits=2),
    Metric("refusal", "refusal rate (%)",
           value=lambda r: None if r.error or "refusal" not in r.score else 100 * float(r.score["refusal"]),
           lower_is_better=True),
    Metric("parts_right", "parts answered right (%)", corpus=_parts_right),
    Metric("longform_right", "long-form questions right (%)", value=_scored("right", {"longform"}, 100)),
]
MAIN = ["judge", "macro_f1", "accuracy", "wer", "mae", "keyword_hit", "parts_right", "longform_right"]
"""The metric charted for a benchmark: the first of these it has."""


def figure(metric: Metric, results: list[Result]) -> tuple[float, float] | None:
    """(best, mean) of ``metric`` over ``results``, or None when it does not apply to them."""
    pick = min if metric.lower_is_better else max
    if metric.corpus:
        by_variant = defaultdict(list)
        for r in results:
            by_variant[r.variant].append(r)
        values = [v for v in (metric.corpus(rs) for rs in by_variant.values()) if v is not None]
        return (pick(values), mean(values)) if values else None
    assert metric.value is not None
    if not any(not r.error and metric.value(r) is not None for r in results):
        return None  # errors alone (scored 0) do not make a metric apply
    per_item: dict[str, list[float]] = defaultdict(list)
    for r in results:
        v = metric.value(r)
        if v is not None:
            per_item[r.id].append(v)
    return mean(pick(vs) for vs in per_item.values()), mean(v for vs in per_item.values() for v in vs)


def category_mean(metric: Metric, results: list[Result]) -> tuple[float, float] | None:
    """(best, mean) of ``metric`` as the unweighted means of each category's (best, mean): every category (task)
    weighs the same, however many of its items were asked. None when it applies to no category."""
    by_category: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_category[r.category].append(r)
    values = [v for v in (figure(metric, rs) for rs in by_category.values()) if v is not None]
    return (mean(v[0] for v in values), mean(v[1] for v in values)) if values else None


def orientation(results: list[Result]) -> str | None:
    """JASCO's modality dependence: shares of audio-, both- and speech-oriented answers, "Neither" left out (eval.py)."""
    seen = [r.score.get("orientation") for r in results if "orientation" in r.score]
    counted = [o for o in seen if o in {"Audio-Oriented", "Both", "Speech-Oriented"}]
    if not counted:
        return None
    share = {o: round(100 * counted.count(o) / len(counted)) for o in ("Audio-Oriented", "Both", "Speech-Oriented")}
    return f"audio {share['Audio-Oriented']} · both {share['Both']} · speech {share['Speech-Oriented']}"


def rows(results: list[Result]) -> list[tuple[str, list[Result]]]:
    """Report rows: each group ("single" of "single/Gender") then its categories, then "all"."""
    groups: dict[str, dict[str, list[Result]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        groups[r.category.split("/", 1)[0]][r.category].append(r)
    out: list[tuple[str, list[Result]]] = []
    for group, categories in groups.items():
        if len(categories) > 1 or group not in categories:
            out.append((group, [r for rs in categories.values() for r in rs]))
        out += [(c, rs) for c, rs in categories.items() if c != "all"]
    return [*out, ("all", results)]


def load(paths: list[Path]) -> dict[str, dict[str, list[Result]]]:
    """Results by benchmark and system, the last line of each key kept."""
    merged: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    for path in paths:
        if not path.exists():
            raise CopilotError(f"results file not found: {path}")
        for r in latest(read_results(path)).values():
            merged[(r.benchmark, r.system)][r.key] = r
    by_bench: dict[str, dict[str, list[Result]]] = defaultdict(dict)
    for (bench, system), results in merged.items():
        by_bench[bench][system] = list(results.values())
    return by_bench


def _cell(value: tuple[float, float] | None, variants: int, digits: int) -> str:
    if value is None:
        return "–"
    best, avg = (f"{v:.{digits}f}" for v in value)
    return f"{best} / {avg}" if variants > 1 and best != avg else avg


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def render(by_bench: dict[str, dict[str, list[Result]]]) -> str:
    """The markdown report: per benchmark, the systems, then one table per metric with a row per category."""
    parts = []
    for bench in sorted(by_bench):
        systems = {name: by_bench[bench][name] for name in sorted(by_bench[bench])}
        variants = {s: len({r.variant for r in rs}) for s, rs in systems.items()}
        parts += [f"## {bench}\n", _systems_table(systems, variants)]
        if any(v > 1 for v in variants.values()):
            parts.append("\nCells with prompt variants read best / mean.")
        table_rows = {s: dict(rows(rs)) for s, rs in systems.items()}
        labels = list(dict.fromkeys(label for by_label in table_rows.values() for label in by_label))
        mean_label = MEAN_OVER_CATEGORIES.get(bench)
        if mean_label:
            labels.insert(labels.index("all") if "all" in labels else len(labels), mean_label)
        for metric in METRICS:
            figures = {s: {label: figure(metric, rs) for label, rs in by_label.items()} for s, by_label in table_rows.items()}
            if mean_label:
                for s, rs in systems.items():
                    figures[s][mean_label] = category_mean(metric, rs)
            if any(f is not None for by_label in figures.values() for f in by_label.values()):
                cells = {s: {label: _cell(f, variants[s], metric.digits) for label, f in by_label.items()}
                         for s, by_label in figures.items()}
                parts.append(_side_by_side(metric.title, PUBLISHED.get(bench, {}).get(metric.key, {}), labels, cells))
        shares = {s: {label: orientation(rs) for label, rs in by_label.items()} for s, by_label in table_rows.items()}
        if any(v for by_label in shares.values() for v in by_label.values()):
            cells = {s: {label: v or "–" for label, v in by_label.items()} for s, by_label in shares.items()}
            title = "modality orientation (% of answers with an action)"
            parts.append(_side_by_side(title, PUBLISHED.get(bench, {}).get("orientation", {}), labels, cells))
        if any(r.part_scores for rs in systems.values() for r in rs):
            parts.append(_parts_table(systems))
        lengths = dict.fromkeys(r.category.split("/")[0] for rs in systems.values() for r in rs if r.kind == "longform")
        parts += [_longform_table(length, systems) for length in lengths]
        parts.append("")
    return "\n".join(parts)


def _parts_table(systems: dict[str, list[Result]]) -> str:
    """A compound benchmark's parts, a column per system: answers with a text per part, parts planned with a
    serving tool and answered right (in all and by kind), and values stated with no serving tool's measurement."""
    present = {p.kind for rs in systems.values() for r in rs for p in r.part_scores}
    kinds = [kind for kind in get_args(PartKind) if kind in present]
    columns = {name: part_figures(rs, kinds) for name, rs in systems.items()}
    labels = list(next(iter(columns.values())))
    return "\n### compound parts\n\n" + _table(["row", *columns], [[label, *(c[label] for c in columns.values())]
                                                                   for label in labels])


def part_figures(results: list[Result], kinds: list[PartKind]) -> dict[str, str]:
    """The parts table's figures for one system's ``results``, by row name, with a row for each of ``kinds``."""
    parts = [p for r in results for p in r.part_scores]
    measurable = [p for p in parts if p.kind != "unmeasurable"]
    rows = {
        "answers with a text per part": str(sum(1 for r in results if not r.error and len(r.parts) == len(r.part_scores))),
        "parts": str(len(parts)),
        "measurable parts planned with a serving tool": _share(sum(p.planned for p in measurable), len(measurable)),
        "parts answered right": _share(sum(p.right for p in parts), len(parts)),
    }
    for kind in kinds:
        rows[f"right: {kind}"] = _share_of(parts, kind, "right")
    for kind in kinds:
        if kind != "unmeasurable":
            rows[f"planned: {kind}"] = _share_of(measurable, kind, "planned")
    rows["parts no serving tool measured"] = str(sum(not p.measured for p in parts))
    rows["answers stating a value no tool measured"] = str(sum(p.claim for p in parts))
    rows["... of them for unmeasurable parts"] = str(sum(p.claim for p in parts if p.kind == "unmeasurable"))
    return rows


def _longform_table(length: str, systems: dict[str, list[Result]]) -> str:
    """A long-form benchmark's questions about recordings of one ``length`` ("30 min"), a column per system."""
    columns = {name: longform_figures([r for r in rs if r.kind == "longform" and r.category.startswith(f"{length}/")])
               for name, rs in systems.items()}
    labels = list(dict.fromkeys(label for c in columns.values() for label in c))
    return f"\n### long-form, {length}\n\n" + _table(
        ["row", *columns], [[label, *(c.get(label, "-") for c in columns.values())] for label in labels])


def longform_figures(results: list[Result]) -> dict[str, str]:
    """The long-form table's figures for one system's ``results`` of one length: the share right by kind of
    question (a summary's share of decisions named, averaged), times within the slack, and invented values."""
    rows: dict[str, str] = {}
    for ask in get_args(LongformAsk):
        asked = [r for r in results if r.category.endswith(f"/{ask}")]
        if asked:
            right = sum(0.0 if r.error else float(r.score.get("right", 0.0)) for r in asked)
            rows[f"right: {ask}"] = f"{right:g}/{len(asked)} = {right / len(asked):.0%}"
    timed = [r for r in results if r.category.endswith("/time")]
    rows["times within 15 s"] = _share(sum(not r.error and float(r.score.get("right", 0.0)) == 1.0 for r in timed),
                                       len(timed))
    rows["times stated"] = _share(sum("time_error" in r.score for r in timed), len(timed))
    rows["answers stating an invented value"] = str(sum(float(r.score.get("invented", 0.0)) == 1.0 for r in results))
    rows["errors"] = str(sum(r.error is not None for r in results))
    return rows


def _share_of(parts: list[PartScore], kind: PartKind, field: Literal["right", "planned"]) -> str:
    of_kind = [p for p in parts if p.kind == kind]
    return _share(sum(getattr(p, field) for p in of_kind), len(of_kind))


def _share(n: int, total: int) -> str:
    return f"{n}/{total} = {n / total:.0%}" if total else "-"


def _systems_table(systems: dict[str, list[Result]], variants: dict[str, int]) -> str:
    body = []
    for name, rs in systems.items():
        seconds = [r.timings["total"] for r in rs if "total" in r.timings and not r.error]
        reused = sum(r.reused_plan for r in rs)
        body.append([name, str(len({r.id for r in rs})), str(variants[name]), str(sum(r.error is not None for r in rs)),
                     f"{mean(seconds):.1f}" if seconds else "–", f"{100 * reused / len(rs):.0f}%" if reused else "–",
                     _judges(rs)])
    return _table(["system", "items", "prompt variants", "errors", "s / answer", "plans reused", "judge"], body)


def _judges(results: list[Result]) -> str:
    """Who judged the open answers, and how many of them when not all were (a judge score covers only those)."""
    names = ", ".join(sorted({str(r.judge) for r in _open_answers(results) if r.judge})) or "–"
    share = _judged_share(results)
    return f"{names} ({share} answers)" if share else names


def _open_answers(results: list[Result]) -> list[Result]:
    return [r for r in results if r.kind == "open" and not r.error]


def _judged_share(results: list[Result]) -> str | None:
    """How many open answers a judge rated, "N of M", when it rated some but not all; else None."""
    answers = _open_answers(results)
    judged = sum(1 for r in answers if r.judge)
    return f"{judged} of {len(answers)}" if 0 < judged < len(answers) else None


def series_label(system: str, metric: Metric, results: list[Result]) -> str:
    """A system's name in the chart's legend, with the share of answers judged when a judge score covers only some."""
    share = _judged_share(results) if metric.key == "judge" else None
    return f"{system} ({share} judged)" if share else system


def _side_by_side(title: str, published: dict[str, dict[str, float | str]], labels: list[str],
                  cells: dict[str, dict[str, str]]) -> str:
    """A metric's table: a row per label, a column per system, then a column per model with published figures."""
    models = list(dict.fromkeys(m for figures in published.values() for m in figures))
    body = [[label, *(cells[s].get(label, "–") for s in cells), *(str(published.get(label, {}).get(m, "")) for m in models)]
            for label in labels]
    return f"\n### {title}\n\n" + _table(["row", *cells, *(f"{m} (published)" for m in models)], body)


def _best(metric: Metric, results: list[Result] | None) -> float:
    value = figure(metric, results) if results else None
    return value[0] if value else 0.0


def chart(by_bench: dict[str, dict[str, list[Result]]], path: Path) -> Path:
    """A PNG with one bar chart per benchmark: its main metric per group row, one bar per system (the best-of value
    with variants), published figures hatched."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CopilotError("the chart needs matplotlib: pip install 'speech-copilot[bench]'") from None
    benches = sorted(by_bench)
    fig, axes = plt.subplots(len(benches), 1, figsize=(11, 3.6 * len(benches)), squeeze=False)
    for ax, bench in zip(axes[:, 0], benches, strict=True):
        systems = by_bench[bench]
        every = [r for rs in systems.values() for r in rs]
        metric = next((m for key in MAIN for m in METRICS if m.key == key and figure(m, every) is not None), None)
        if metric is None:
            ax.set_title(f"{bench}: no scored answers")
            continue
        labels = [label for label, _ in rows(every) if "/" not in label][:12]
        series = {s: dict(rows(rs)) for s, rs in systems.items()}
        published = PUBLISHED.get(bench, {}).get(metric.key, {})
        models = list(dict.fromkeys(m for f in published.values() for m in f))
        bars: list[tuple[str, list[float], str | None]] = [
            (series_label(s, metric, systems[s]), [_best(metric, series[s].get(lb)) for lb in labels], None)
            for s in sorted(systems)
        ]
        bars += [(f"{m} (published)", [float(published.get(lb, {}).get(m, 0.0)) for lb in labels], "//")
                 for m in models]
        width = 0.8 / len(bars)
        for i, (name, values, hatch) in enumerate(bars):
            ax.bar([x + i * width for x in range(len(labels))], values, width, label=name, hatch=hatch,
                   alpha=0.5 if hatch else 1.0)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels)
        ax.set_title(f"{bench}: {metric.title}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
