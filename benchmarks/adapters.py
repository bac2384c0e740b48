"""Dataset adapters: each benchmark's published layout turned into `Item`s.

    load_items("sakura", Path("../shared/data/sakura-dev"))

Every adapter reads the layout of the project's dev copy (``items.jsonl``) and the layout of the
benchmark's own release; a missing audio file is not an error here: it fails that item when it is asked.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from copilot.benchmarks.items import Item
from copilot.benchmarks.prompts import JASCO_INSTRUCTIONS, JASCO_QUESTION
from copilot.errors import CopilotError
from copilot.question.request import split_options
from copilot.words import plain

_LETTER = re.compile(r"^\s*[(（]?\s*([a-z])\s*[)）]", re.I)


def load_items(benchmark: str, data: Path, audio_dir: Path | None = None) -> list[Item]:
    """The items of ``benchmark`` read from ``data`` (a file or folder); ``audio_dir`` overrides where audio is found."""
    if benchmark not in ADAPTERS:
        raise CopilotError(f"unknown benchmark {benchmark!r}; known: {', '.join(ADAPTERS)}")
    if not data.exists():
        raise CopilotError(f"benchmark data not found: {data}")
    try:
        items = ADAPTERS[benchmark](data, audio_dir)
    except KeyError as exc:
        raise CopilotError(f"{data} is not in a {benchmark} layout: a row has no field {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CopilotError(f"{data}: an item's {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    if not items:
        raise CopilotError(f"no {benchmark} items found in {data}")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise CopilotError(f"{data} holds two items with the id {item.id!r}")
        seen.add(item.id)
    return items


def resolve_audio(name: str, base: Path, audio_dir: Path | None) -> Path:
    """Where the clip ``name`` is: absolute as given, else under ``audio_dir`` (by relative path, then by file name),
    else relative to ``base``, the folder of the dataset's index file."""
    path = Path(name)
    if path.is_absolute():
        return path
    candidates = [audio_dir / path, audio_dir / path.name] if audio_dir else [base / path]
    return next((c for c in candidates if c.exists()), candidates[0])


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, with the line number in errors."""
    if not path.is_file():
        raise CopilotError(f"no such JSONL file: {path}")
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CopilotError(f"{path}:{number}: not JSON ({exc.msg})") from None


def _index_file(data: Path, name: str) -> Path | None:
    if data.is_file():
        return data if data.name == name else None
    return data / name if (data / name).exists() else None


def choice_from_instruction(instruction: str, answer: str) -> tuple[str, list[str], int]:
    """Stem, options and the answer's index of an instruction ending in ``(a) ... (b) ...`` and an answer ``(b) ...``."""
    stem, options = split_options(instruction)
    match = _LETTER.match(answer)
    if not options or not match or ord(match.group(1).lower()) - ord("a") >= len(options):
        raise CopilotError(f"cannot read the options of {instruction!r} with the answer {answer!r}")
    return stem, options, ord(match.group(1).lower()) - ord("a")


def _sakura_item(item_id: str, track: str, hop: str, audio: Path, instruction: str, answer: str, label: str) -> Item:
    stem, options, index = choice_from_instruction(instruction, answer)
    return Item(
        id=item_id, audio=[audio], question=stem, options=options, reference=options[index], answer_index=index,
        kind="choice", category=f"{hop}/{track}",
        metadata={"track": track, "hop": hop, "attribute_label": label, "instruction": instruction},
    )


def sakura(data: Path, audio_dir: Path | None) -> list[Item]:
    """SAKURA (github ckyang1124/SAKURA): the dev ``items.jsonl`` (id, track, hop, audio, attribute_label, instruction,
    answer), or the release's ``data/<Track>/metadata.csv`` with ``audio/``.

    The release's columns (file, attribute_label, single_instruction, single_answer, multi_instruction,
    multi_answer) and the ``data/<Track>/audio/<file>`` path are those read by the SAKURA inference scripts
    (e.g. run_qwen2_audio.py of the anthony-wss/SAKURA fork). Each row gives a single-hop and a multi-hop item.
    Score: the option letter chosen equals the answer's letter.
    """
    index = _index_file(data, "items.jsonl")
    if index:
        rows = list(read_jsonl(index))
        if any("task" in r and "track" not in r for r in rows):
            raise CopilotError(f"{index} holds Dynamic-SUPERB-style items (a task, no track): "
                               "run them as `copilot bench run dynamic-superb`")
        return [
            _sakura_item(r["id"], r["track"], r["hop"], resolve_audio(r["audio"], index.parent, audio_dir),
                         r["instruction"], r["answer"], r.get("attribute_label", ""))
            for r in rows
        ]
    folder = data.parent if data.is_file() else data
    tables = next((found for pattern in ("metadata.csv", "*/metadata.csv", "data/*/metadata.csv")
                   if (found := sorted(folder.glob(pattern)))), [])
    items = []
    for table in tables:
        track = table.parent.name
        with table.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                audio = resolve_audio(f"audio/{row['file']}", table.parent, audio_dir)
                for hop in ("single", "multi"):
                    items.append(_sakura_item(f"{track}/{row['file']}#{hop}", track, hop, audio,
                                              row[f"{hop}_instruction"], row[f"{hop}_answer"], row["attribute_label"]))
    return items


def _jasco_item(item_id: str, audio: Path, question: str, row: dict[str, str]) -> Item:
    return Item(
        id=item_id, audio=[audio], question=question, reference=row["answer"], kind="open",
        keywords=[k.strip() for k in row["keywords"].split(",") if k.strip()], rubric="jasco",
        variants=JASCO_INSTRUCTIONS,
        perception={"asr": f'Transcript: "{row["spoken_text"]}"',
                    "sound_events": f"Background (non-speech): {row['audio_sound']}"},
        metadata={k: row[k] for k in ("audio_sound", "spoken_text", "audio_only_answer", "speech_only_answer")},
    )


def jasco(data: Path, audio_dir: Path | None) -> list[Item]:
    """JASCO, "What Are They Doing" (github BenoitWang/What_Are_They_Doing): the dev ``items.jsonl`` (id, audio,
    question, audio_sound, spoken_text, audio_only_answer, speech_only_answer, answer, keywords), or the release's
    ``dataset/v0/v0.csv`` (audio_id, Audio, Speech, Audio-Only Answer, Speech-Only Answer, Correct Answer,
    Correct Answer Keyword) with ``<audio_id>.wav`` beside it.

    Only the audio and a wording of the question reach the system; the rest is the judge's reference. The
    prompt variants are the release's 8 instructions; v0.csv has no question column, so `JASCO_QUESTION` is assumed.
    """
    index = _index_file(data, "items.jsonl")
    if index:
        return [
            _jasco_item(r["id"], resolve_audio(r["audio"], index.parent, audio_dir), r["question"], r)
            for r in read_jsonl(index)
        ]
    table = data if data.is_file() else next(iter(sorted(data.glob("v0.csv")) or sorted(data.glob("**/v0.csv"))), None)
    if table is None:
        raise CopilotError(f"no items.jsonl or v0.csv in {data}")
    columns = {
        "Audio": "audio_sound", "Speech": "spoken_text", "Audio-Only Answer": "audio_only_answer",
        "Speech-Only Answer": "speech_only_answer", "Correct Answer": "answer", "Correct Answer Keyword": "keywords",
    }
    with table.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        _jasco_item(r["audio_id"], resolve_audio(f"{r['audio_id']}.wav", table.parent, audio_dir), JASCO_QUESTION,
                    {ours: r[theirs] for theirs, ours in columns.items()})
        for r in rows
    ]


def mmau(data: Path, audio_dir: Path | None) -> list[Item]:
    """MMAU (github Sakshi113/MMAU): ``mmau-test-mini.json``, a list of {id, audio_id, question, choices, answer,
    dataset, task, split, category, sub-category, difficulty}; ``audio_id`` is like ``./test-mini-audios/<id>.wav``,
    relative to the JSON file unless ``audio_dir`` says where the audio folder is.

    Scored with MMAU's own string match (evaluation.py); report rows are task (sound, music, speech) / sub-category.
    """
    path = data if data.is_file() else next(iter(sorted(data.glob("mmau*.json"))), data / "mmau-test-mini.json")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CopilotError(f"cannot read MMAU questions from {path}: {exc}") from None
    items = []
    for r in rows:
        choices = [str(c) for c in r["choices"]]
        answer = str(r.get("answer", ""))
        items.append(Item(
            id=r["id"], audio=[resolve_audio(r["audio_id"], path.parent, audio_dir)], question=r["question"],
            options=choices, reference=answer, answer_index=choices.index(answer) if answer in choices else None,
            kind="choice", choice_rule="mmau",
            category=f"{r.get('task', 'unknown')}/{r.get('sub-category', 'unknown')}",
            metadata={k: v for k, v in r.items() if k not in {"id", "audio_id", "question", "choices", "answer"}},
        ))
    return items


def _generic_choice(options: list[str], answer: str) -> int | None:
    """The index of ``answer`` among ``options``: a letter ("b", "(b)", "(b) text") or an option's text."""
    letter = re.fullmatch(r"\s*\(?([a-z])\)?\s*", answer, re.I) or _LETTER.match(answer)
    if letter and ord(letter.group(1).lower()) - ord("a") < len(options):
        return ord(letter.group(1).lower()) - ord("a")
    texts = [plain(o) for o in options]
    return texts.index(plain(answer)) if plain(answer) in texts else None


_GENERIC_FIELDS = {"id", "audio", "question", "options", "answer", "category", "kind", "keywords"}


def generic_jsonl(data: Path, audio_dir: Path | None) -> list[Item]:
    """Any JSONL of {audio (a path or a list of one or two), question, options (optional), answer}, with optional
    id (default: the line number), category, keywords and kind.

    The kind defaults to ``choice`` when there are options (the answer is a letter or an option's text),
    ``number`` when the answer is a number, else ``open`` (judged); ``transcript`` and ``classification`` must be named.
    """
    path = data if data.is_file() else data / "items.jsonl"
    items = []
    for number, r in enumerate(read_jsonl(path), 1):
        audio = r["audio"] if isinstance(r["audio"], list) else [r["audio"]]
        options = [str(o) for o in r.get("options") or []]
        answer = r["answer"]
        numeric = isinstance(answer, int | float) and not isinstance(answer, bool)
        kind = r.get("kind") or ("choice" if options else "number" if numeric else "open")
        index = _generic_choice(options, str(answer)) if options else None
        if kind == "choice" and index is None:
            raise CopilotError(f"{path}:{number}: the answer {answer!r} is not one of the options")
        keywords = r.get("keywords") or []
        items.append(Item(
            id=str(r.get("id", number)), audio=[resolve_audio(a, path.parent, audio_dir) for a in audio],
            question=r["question"], options=options, reference=options[index] if index is not None else str(answer),
            answer_index=index, kind=kind, category=r.get("category", "all"),
            keywords=keywords.split(",") if isinstance(keywords, str) else keywords,
            metadata={k: v for k, v in r.items() if k not in _GENERIC_FIELDS},
        ))
    return items


def dynamic_superb(data: Path, audio_dir: Path | None) -> list[Item]:
    """Dynamic-SUPERB: the project's ds-dev ``items.jsonl``, or a local export of the task datasets of the Hugging
    Face hub (`copilot.benchmarks.dynamic_superb`).

    ds-dev's rows are SAKURA's format with ``task`` in place of ``track`` and no ``hop``: id, task, audio, ``audio2``
    for a task about two clips (asked as audio1 and audio2), instruction (the question and its options) and answer
    (an option as written). Each task is a report row; Dynamic-SUPERB is scored per task, then by the unweighted
    mean over tasks. ``source`` and ``meta`` are never read: they give the answer away.
    """
    index = _index_file(data, "items.jsonl")
    rows = list(read_jsonl(index)) if index else []
    if not rows or not all("instruction" in r and "answer" in r for r in rows):
        from copilot.benchmarks.dynamic_superb import load_tasks

        return load_tasks(data, audio_dir)
    assert index is not None
    items = []
    for r in rows:
        stem, options, answer = choice_from_instruction(r["instruction"], r["answer"])
        clips = [r["audio"], *([r["audio2"]] if r.get("audio2") else [])]
        items.append(Item(
            id=r["id"], audio=[resolve_audio(c, index.parent, audio_dir) for c in clips], question=stem,
            options=options, reference=options[answer], answer_index=answer, kind="choice", category=r["task"],
            metadata={"task": r["task"], "instruction": r["instruction"]},
        ))
    return items


def compound(data: Path, audio_dir: Path | None) -> list[Item]:
    """The project's compound-question set, written by `copilot bench make compound` (`copilot.benchmarks.compound_set`):
    its ``items.jsonl``, one `Item` of kind ``compound`` a line, each part with its truth, the audio relative to the file.

    Each part is scored from its own text when the answer has one per part, else from the whole answer
    (`scorers.score_parts`); the report adds a table of the parts by kind.
    """
    return _own_set(data, audio_dir, "compound")


def longform(data: Path, audio_dir: Path | None) -> list[Item]:
    """The project's long-form set, written by `copilot bench make longform` (`copilot.benchmarks.longform_set`):
    its ``items.jsonl``, one `Item` of kind ``longform`` a line with its `LongformTruth`, the audio relative to the
    file. Report rows are length / kind of question ("30 min/time"); the report adds a table per length."""
    return _own_set(data, audio_dir, "longform")


def _own_set(data: Path, audio_dir: Path | None, kind: str) -> list[Item]:
    """The items of a set the project makes (`copilot bench make KIND`), every one of ``kind``."""
    index = _index_file(data, "items.jsonl")
    if index is None:
        raise CopilotError(f"no items.jsonl in {data}: make the set with `copilot bench make {kind} {data}`")
    items = []
    for number, r in enumerate(read_jsonl(index), 1):
        if r.get("kind") != kind:
            raise CopilotError(f"{index}:{number} is not a {kind} item; make the set with `copilot bench make {kind}`")
        items.append(Item.model_validate({**r, "audio": [resolve_audio(a, index.parent, audio_dir) for a in r["audio"]]}))
    return items


ADAPTERS: dict[str, Callable[[Path, Path | None], list[Item]]] = {
    "sakura": sakura,
    "jasco": jasco,
    "mmau": mmau,
    "dynamic-superb": dynamic_superb,
    "jsonl": generic_jsonl,
    "compound": compound,
    "longform": longform,
}
