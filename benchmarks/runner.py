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
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from copilot.benchmarks.items import Item, Prediction, Result, result_key
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


def select(items: list[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items taken in turn from each category (in order of first appearance), so a short run
    covers every category; all items when ``limit`` is None."""
    if limit is None or limit >= len(items):
        return items
    queues: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        queues[item.category].append(item)
    chosen: list[Item] = []
    while len(chosen) < limit:
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


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


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, CopilotError) else f"{type(exc).__name__}: {exc}"


def attempt(item: Item, variant: int, question: str, system: System, judge: Judge | None, benchmark: str) -> Result:
    """Ask ``system`` one wording of ``item`` and score the answer; any failure becomes the result's error."""
    started = time.perf_counter()
    result = Result(
        key=result_key(item.id, variant), id=item.id, variant=variant, benchmark=benchmark, system=system.name,
        category=item.category, kind=item.kind, question=question, reference=item.reference,
    )
    try:
        prediction = system.answer(item, question)
        result.prediction, result.evidence, result.timings = prediction.text, prediction.evidence, dict(prediction.timings)
        scoring = time.perf_counter()
        scored = score(item, prediction, question, judge)
        result.timings["scoring"] = round(time.perf_counter() - scoring, 3)  # the judge's time, when one rates
        result.score, result.judge = scored.scores, scored.judge
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
    existing = latest(read_results(out, repair=True))
    _check_only(existing.values(), benchmark, system.name, out)
    done = {k for k, r in existing.items() if not (retry_errors and r.error)}
    units = [(item, v, q) for item in items for v, q in enumerate(item.wordings()[:variants])]
    todo = [u for u in units if result_key(u[0].id, u[1]) not in done]
    jobs = [functools.partial(attempt, item, v, q, system, judge, benchmark) for item, v, q in todo]
    errors = _append(jobs, out, f"{benchmark} {system.name}", len(units), workers)
    return RunSummary(out=out, before=len(units) - len(todo), added=len(todo), errors=errors)


def rescored(item: Item, result: Result, judge: Judge | None) -> Result:
    """``result`` scored again by today's scorers, its prediction unchanged. A verdict ``judge`` gave already is
    kept, as is any verdict when ``judge`` is None; a failed answer stays as it was."""
    if result.error and not result.prediction:
        return result
    keep_verdict = result.judge is not None and (judge is None or judge.name == result.judge)
    prediction = Prediction(text=result.prediction, choice=ord(result.choice[1]) - ord("a") if result.choice else None)
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
    new.score = scored.scores
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
    errors = _append(jobs, out, f"rescore {first.benchmark} {first.system}", len(results), workers)
    return RunSummary(out=out, before=len(results) - len(todo), added=len(todo), errors=errors)


def _check_only(results: Iterable[Result], benchmark: str, system: str, path: Path) -> None:
    foreign = {(r.benchmark, r.system) for r in results} - {(benchmark, system)}
    if foreign:
        other = ", ".join(f"{b} with {s}" for b, s in sorted(foreign))
        raise CopilotError(f"{path} holds results of {other}; give another --out for {benchmark} with {system}")


def _append(jobs: Sequence[Callable[[], Result]], out: Path, desc: str, total: int, workers: int) -> int:
    """Run ``jobs`` on ``workers`` threads, appending each result to ``out`` as it completes, durably, under a
    progress bar of ``total`` units (those not in ``jobs`` were done before); the number of errors."""
    out.parent.mkdir(parents=True, exist_ok=True)
    errors = 0
    bar = tqdm(total=total, initial=total - len(jobs), desc=desc, unit="q", file=sys.stderr, dynamic_ncols=True,
               smoothing=0.1)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bench")
    try:
        futures = [pool.submit(job) for job in jobs]
        with out.open("a", encoding="utf-8") as f:
            for future in as_completed(futures):
                result = future.result()
                f.write(result.model_dump_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
                errors += result.error is not None
                bar.set_postfix(errors=errors, refresh=False)
                bar.update()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return errors
