"""The resumable runner: asks a system every item (in each prompt variant), scores the answers, and appends each
result to a JSONL file the moment it completes.

A run killed at any point and started again with the same arguments reads the file, redoes nothing that was
written, and loses nothing: each line is written whole and flushed to disk (fsync) before the next, and a line
torn by the kill is cut off. One item's failure is written as that item's result, with the error, and the run goes on.
`rescore` scores a results file's predictions again into another file, the same way.
"""

from __future__ import annotations

import functools
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from copilot.benchmarks.items import Item, PartScore, Prediction, Result, result_key
from copilot.benchmarks.judge import JUDGE_SCORES, Judge
from copilot.benchmarks.scorers import score
from copilot.benchmarks.systems import System
from copilot.errors import CopilotError


class RunSummary(BaseModel):
    """What a run did: results already in the file, results added now, and how many of those are errors."""

    out: Path
    before: int
    added: int
    errors: int


Sample = Literal["first", "stratified"]
"""How `select` picks ``limit`` items: the first of each category in turn, or a seeded proportional sample."""


def select(items: list[Item], limit: int | None, sample: Sample = "first", seed: int = 0) -> list[Item]:
    """``limit`` of ``items`` (all when ``limit`` is None). ``first``: the first items taken in turn from each
    category (in order of first appearance), so a short run covers every category. ``stratified``: each category's
    share of ``limit`` in proportion to its size (largest remainder; one at least when ``limit`` allows), drawn by
    a shuffle seeded with ``seed`` and the category, and kept in the data's order."""
    if limit is None or limit >= len(items):
        return items
    queues: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        queues[item.category].append(item)
    if sample == "stratified":
        seats = _seats({c: len(q) for c, q in queues.items()}, limit)
        chosen_ids = {id(i) for c, q in queues.items() for i in random.Random(f"{seed}/{c}").sample(q, seats[c])}
        return [item for item in items if id(item) in chosen_ids]
    chosen: list[Item] = []
    while len(chosen) < limit:
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def _seats(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """``limit`` seats shared among categories of ``sizes`` in proportion (Hamilton's largest remainder, ties to
    the category seen first), with one seat at least for each category when there are enough seats to go round."""
    total = sum(sizes.values())
    quotas = {c: limit * n / total for c, n in sizes.items()}
    least = 1 if limit >= len(sizes) else 0
    seats = {c: max(least, int(q)) for c, q in quotas.items()}
    while sum(seats.values()) > limit:  # the one-seat minimum overshot: take back from the most over-served
        seats[min((c for c in seats if seats[c] > 1), key=lambda c: quotas[c] - seats[c])] -= 1
    for c in sorted(seats, key=lambda c: seats[c] - quotas[c])[: limit - sum(seats.values())]:
        seats[c] += 1
    return seats


def read_results(path: Path, repair: bool = False) -> list[Result]:
    """The results in ``path`` (none if it does not exist). A last line without its newline was torn by a kill:
    it is ignored, and cut from the file when ``repair`` is set. Any other bad line is an error."""
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    results = []
    for number, line in enumerate(whole.decode("utf-8").splitlines(), 1):
        try:
            results.append(Result.model_validate_json(line))
        except ValidationError:
            raise CopilotError(f"{path}:{number} is not a benchmark result; is this the right file?") from None
    if repair and len(whole) < len(data):  # only once the file has proved to hold results
        with path.open("r+b") as f:
            f.truncate(len(whole))
    return results


def latest(results: list[Result]) -> dict[str, Result]:
    """The last result of each key: a retried unit's newer line supersedes its older one."""
    return {r.key: r for r in results}


class Unit(NamedTuple):
    """One question to ask: an item in one of its wordings."""

    item: Item
    variant: int
    question: str


def unanswered(unit: Unit, system: str, benchmark: str) -> Result:
    """The result of ``unit`` before any answer: what the item and the wording say, no prediction, no score."""
    item = unit.item
    return Result(
        key=result_key(item.id, unit.variant), id=item.id, variant=unit.variant, benchmark=benchmark, system=system,
        category=item.category, kind=item.kind, question=unit.question, reference=item.reference,
        part_scores=[PartScore(kind=part.kind) for part in item.parts],
    )


def pending(
    items: list[Item], out: Path, *, benchmark: str, system: str, variants: int = 1, retry_errors: bool = False
) -> tuple[list[Unit], int]:
    """The units of ``items`` (their first ``variants`` wordings) that ``out`` holds no result of yet (errors count
    as results unless ``retry_errors``), and the number of units in all. ``out``, its torn last line cut, must hold
    results of this benchmark and system only."""
    existing = latest(read_results(out, repair=True))
    _check_only(existing.values(), benchmark, system, out)
    done = {k for k, r in existing.items() if not (retry_errors and r.error)}
    units = [Unit(item, v, q) for item in items for v, q in enumerate(item.wordings()[:variants])]
    return [u for u in units if result_key(u.item.id, u.variant) not in done], len(units)


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, CopilotError) else f"{type(exc).__name__}: {exc}"


def attempt(item: Item, variant: int, question: str, system: System, judge: Judge | None, benchmark: str) -> Result:
    """Ask ``system`` one wording of ``item`` and score the answer; any failure becomes the result's error."""
    started = time.perf_counter()
    result = unanswered(Unit(item, variant, question), system.name, benchmark)
    try:
        prediction = system.answer(item, question)
        result.prediction, result.evidence, result.timings = prediction.text, prediction.evidence, dict(prediction.timings)
        result.reused_plan, result.parts, result.program = prediction.reused_plan, prediction.parts, prediction.program
        scoring = time.perf_counter()
        scored = score(item, prediction, question, judge)
        result.timings["scoring"] = round(time.perf_counter() - scoring, 3)  # the judge's time, when one rates
        result.score, result.judge, result.part_scores = scored.scores, scored.judge, scored.part_scores
        if scored.choice is not None:
            result.choice = f"({chr(ord('a') + scored.choice)}) {item.options[scored.choice]}"
    except Exception as exc:  # noqa: BLE001 - one item's failure is recorded, and the run goes on
        result.error = _describe(exc)
    result.timings["wall"] = round(time.perf_counter() - started, 3)
    return result


def run(
    items: list[Item], system: System, out: Path, *, benchmark: str, judge: Judge | None = None,
    variants: int = 1, workers: int = 1, retry_errors: bool = False,
) -> RunSummary:
    """Ask every item in its first ``variants`` wordings with ``workers`` threads, appending results to ``out``.

    Results already in ``out`` are kept and not asked again (errors too, unless ``retry_errors``); ``out`` must
    hold results of this benchmark and system only.
    """
    todo, total = pending(items, out, benchmark=benchmark, system=system.name, variants=variants,
                          retry_errors=retry_errors)
    jobs = [functools.partial(attempt, *unit, system, judge, benchmark) for unit in todo]
    with closing(threaded(jobs, workers)) as results:
        errors = write(results, out, f"{benchmark} {system.name}", total, len(todo))
    return RunSummary(out=out, before=total - len(todo), added=len(todo), errors=errors)


def rescored(item: Item, result: Result, judge: Judge | None) -> Result:
    """``result`` scored again by today's scorers, its prediction unchanged. A verdict ``judge`` gave already is
    kept, as is any verdict when ``judge`` is None; a failed answer stays as it was."""
    if result.error and not result.prediction:
        return result
    keep_verdict = result.judge is not None and (judge is None or judge.name == result.judge)
    prediction = Prediction(text=result.prediction, choice=ord(result.choice[1]) - ord("a") if result.choice else None,
                            evidence=result.evidence, parts=result.parts, program=result.program)
    new = result.model_copy(deep=True, update={"error": None})
    started = time.perf_counter()
    try:
        scored = score(item, prediction, result.question, None if keep_verdict else judge)
    except Exception as exc:  # noqa: BLE001 - as in `attempt`: recorded, and the rescoring goes on
        new.error = _describe(exc)
        return new
    if keep_verdict:
        verdict = {k: v for k, v in result.score.items() if k in JUDGE_SCORES}
        scored.scores.update(verdict, refusal=max(scored.scores["refusal"], result.score.get("refusal", 0.0)))
    else:
        new.judge = scored.judge
        new.timings["scoring"] = round(time.perf_counter() - started, 3)
    new.score, new.part_scores = scored.scores, scored.part_scores
    return new


def rescore(items: list[Item], source: Path, out: Path, *, judge: Judge | None = None, workers: int = 1) -> RunSummary:
    """Score the predictions in ``source`` again into ``out`` (see `rescored`) without asking the system again:
    after a scorer changes, or to have another judge rate them. Resumable like `run`; ``source`` is only read."""
    if out.resolve() == source.resolve():
        raise CopilotError(f"give another --out: {source} is only read, never rewritten")
    results = latest(read_results(source))
    if not results:
        raise CopilotError(f"{source} holds no results to score")
    first = next(iter(results.values()))
    by_id = {item.id: item for item in items}
    unknown = sorted({r.id for r in results.values()} - by_id.keys())
    if unknown:
        raise CopilotError(f"{len(unknown)} results in {source} are of items the data lacks (e.g. id {unknown[0]!r}): "
                           f"is --data the {first.benchmark} data they were run on?")
    existing = latest(read_results(out, repair=True))
    _check_only(existing.values(), first.benchmark, first.system, out)
    todo = [r for k, r in results.items() if k not in existing]
    jobs = [functools.partial(rescored, by_id[r.id], r, judge) for r in todo]
    with closing(threaded(jobs, workers)) as answers:
        errors = write(answers, out, f"rescore {first.benchmark} {first.system}", len(results), len(todo))
    return RunSummary(out=out, before=len(results) - len(todo), added=len(todo), errors=errors)


def _check_only(results: Iterable[Result], benchmark: str, system: str, path: Path) -> None:
    foreign = {(r.benchmark, r.system) for r in results} - {(benchmark, system)}
    if foreign:
        other = ", ".join(f"{b} with {s}" for b, s in sorted(foreign))
        raise CopilotError(f"{path} holds results of {other}; give another --out for {benchmark} with {system}")


def threaded(jobs: Sequence[Callable[[], Result]], workers: int) -> Generator[Result]:
    """The results of ``jobs`` run on ``workers`` threads, as each completes; closing it cancels those not started."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bench")
    try:
        futures = [pool.submit(job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def write(results: Iterable[Result], out: Path, desc: str, total: int, count: int) -> int:
    """Append each of ``results`` (``count`` of them) to ``out`` as it comes, durably, under a progress bar of
    ``total`` units (the others were done before); the number of errors. The one writer of a results file, whether
    the results come from threads here or from Ray actors."""
    out.parent.mkdir(parents=True, exist_ok=True)
    errors = 0
    bar = tqdm(total=total, initial=total - count, desc=desc, unit="q", file=sys.stderr, dynamic_ncols=True,
               smoothing=0.1)
    try:
        with out.open("a", encoding="utf-8") as f:
            for result in results:
                f.write(result.model_dump_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
                errors += result.error is not None
                bar.set_postfix(errors=errors, refresh=False)
                bar.update()
    finally:
        bar.close()
    return errors
