"""Teach the copilot a new attribute: features of labelled clips, grouped cross-validation, then one head.

    copilot learn accent --data clips.jsonl --label accent --group speaker

``items.jsonl`` holds one clip a line: ``audio`` (a path, relative to the file's folder) and the label
field; the group field (a speaker, a session) keeps every clip of one group in the same fold, so the
figures say how the head does on speakers it has not heard. The classifier is a multinomial logistic
regression on standardised features (its probabilities are calibrated well enough to read as such;
the cross-validation reports their expected calibration error). Everything is deterministic given the data.

The default encoder (Whisper base, 62.3% unweighted average recall against GE2E's 51.2% and YAMNet's
31.1% on CREMA-D's 51 training actors, 6 emotions, 5 folds by speaker) and C (0.003, the best of
0.001-1 there) were chosen by `python experiments/head_encoders.py`: see docs/heads.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from tqdm import tqdm

from copilot.audio import load as load_audio
from copilot.errors import AudioError, CopilotError, NothingToMeasure
from copilot.heads.features import Encoder, FeatureCache
from copilot.heads.head import ClassFigures, Figures, Head, HeadMeta

FOLDS = 5
MIN_PER_CLASS = 10  # examples of a class needed to train and cross-validate it
REGULARISATION = 0.003  # C of the logistic regression: the best of 0.001-1 on CREMA-D, see docs/heads.md
SEED = 0


class Example(BaseModel):
    """One labelled clip of the training data."""

    audio: Path
    label: str
    group: str | None = None
    subset: str | None = None


def read_examples(
    data: Path,
    label: str,
    group: str | None = None,
    by: str | None = None,
    where: dict[str, str] | None = None,
    labels: Sequence[str] | None = None,
) -> list[Example]:
    """The clips of a JSONL file with their labels, filtered by ``where`` (field = value) and ``labels``."""
    numbered = _read_rows(data)
    fields = sorted({k for _, row in numbered for k in row})
    for name, what in ((label, "label"), (group, "group"), (by, "--by"), *((k, "--where") for k in (where or {}))):
        if name is not None and name not in fields:
            raise CopilotError(f"unknown {what} field {name!r} in {data}; its fields: {', '.join(fields)}")
    numbered = [(n, r) for n, r in numbered if all(str(r.get(k)) == v for k, v in (where or {}).items())]
    numbered = [(n, r) for n, r in numbered if r.get(label) is not None and (not labels or str(r[label]) in labels)]
    if not numbered:
        raise CopilotError("no items are left after --where and --labels")
    ungrouped = next((n for n, r in numbered if group and r.get(group) is None), None)
    if ungrouped is not None:
        raise CopilotError(f"{data}:{ungrouped}: no {group!r} field: --group {group} needs it on every item")
    return [
        Example(
            audio=data.parent / r["audio"],
            label=str(r[label]),
            group=str(r[group]) if group else None,
            subset=str(r.get(by)) if by else None,
        )
        for _, r in numbered
    ]


def _read_rows(data: Path) -> list[tuple[int, dict[str, Any]]]:
    """The JSONL file's items with their line numbers; each must be an object whose ``audio`` is a path."""
    if not data.is_file():
        raise CopilotError(f"no such items file: {data}")
    try:
        text = data.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CopilotError(f"{data} is not UTF-8 text (byte {exc.start}): write the items as UTF-8 JSON lines") from None
    except OSError as exc:
        raise CopilotError(f"cannot read {data}: {exc.strerror}") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CopilotError(f"{data}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("audio"), str) or not row["audio"]:
            raise CopilotError(f"{data}:{n}: each line must be an object whose 'audio' field is a file path")
        rows.append((n, row))
    if not rows:
        raise CopilotError(f"{data} holds no items")
    return rows


def check_settings(c: float, folds: int) -> None:
    """Refuse a regularisation or a number of folds no head can be trained with, before any feature is extracted."""
    if not (math.isfinite(c) and c > 0):
        raise CopilotError(f"--c must be a positive number, got {c:g}: it is the inverse regularisation strength "
                           f"(default {REGULARISATION})")
    if folds < 2:
        raise CopilotError(f"--folds must be at least 2, got {folds}: each fold is tested on a head trained on the others")


def check_classes(examples: Sequence[Example], folds: int = FOLDS, min_per_class: int = MIN_PER_CLASS) -> None:
    """Refuse data a head cannot be trained and cross-validated on, with the reason in one line."""
    counts = Counter(e.label for e in examples)
    if not counts:
        raise CopilotError("no clips left to learn from: every clip was unreadable or had no speech")
    if len(counts) < 2:
        raise CopilotError(f"only one class ({next(iter(counts))!r}): a head needs at least two labels")
    few = [f"{label} ({n})" for label, n in sorted(counts.items()) if n < min_per_class]
    if few:
        raise CopilotError(f"too few examples of {', '.join(few)}: each class needs at least {min_per_class}")
    if examples[0].group is None:
        return
    groups = {e.group for e in examples}
    if len(groups) < folds:
        raise CopilotError(f"only {len(groups)} groups: grouped cross-validation needs at least {folds}")
    for label in counts:
        holders = {e.group for e in examples if e.label == label}
        if len(holders) == 1:
            raise CopilotError(
                f"every example of {label!r} is in group {holders.pop()!r}: no fold could test it on an unseen group"
            )


class Features(BaseModel):
    """The clips that could be read, their feature vectors (rows) and cache keys."""

    model_config = {"arbitrary_types_allowed": True}

    examples: list[Example]
    vectors: np.ndarray
    keys: list[str]


def extract(
    examples: Sequence[Example], enc: Encoder, cache: FeatureCache, warn: Callable[[str], object] = print
) -> Features:
    """The features of every clip that can be read, with a progress bar; unreadable clips are skipped with a warning."""
    kept: list[Example] = []
    vectors: list[np.ndarray] = []
    keys: list[str] = []
    skipped: list[str] = []
    for example in tqdm(examples, desc=f"features ({enc.name})", unit="clip", file=sys.stderr):
        try:
            audio = load_audio(example.audio)
            vectors.append(cache.features(audio, enc))
        except (AudioError, NothingToMeasure) as exc:
            skipped.append(f"{example.audio}: {exc}")
            continue
        kept.append(example)
        keys.append(cache.key(audio, enc))
    if skipped:
        warn(f"warning: skipped {len(skipped)} of {len(examples)} clips that could not be used; first: {skipped[0]}")
    matrix = np.stack(vectors) if vectors else np.empty((0, enc.dimensions), np.float32)
    return Features(examples=kept, vectors=matrix, keys=keys)


def learn(
    name: str,
    examples: Sequence[Example],
    enc: Encoder,
    *,
    attribute: str,
    data: str,
    command: str,
    c: float = REGULARISATION,
    folds: int = FOLDS,
    cache: FeatureCache | None = None,
    warn: Callable[[str], object] = print,
) -> Head:
    """Extract the clips' features, cross-validate by group, and fit the head on every clip."""
    check_settings(c, folds)
    check_classes(examples, folds)
    found = extract(examples, enc, cache or FeatureCache(), warn)
    check_classes(found.examples, folds)  # again: skipped clips may have left a class short
    classes = sorted({e.label for e in found.examples})
    figures = cross_validate(found.vectors, found.examples, classes, c, folds)
    weights = fit(found.vectors, [e.label for e in found.examples], classes, c)
    meta = HeadMeta(
        name=name, attribute=attribute, labels=classes, encoder=enc.name, encoder_version=enc.version,
        feature_spec=enc.spec, dimensions=enc.dimensions, regularisation=c, clips=len(found.examples), data=data,
        data_sha256=data_hash(found.examples, found.keys), trained_with=command, figures=figures,
    )  # fmt: skip
    return Head(meta, *weights)


def fit(features: np.ndarray, labels: Sequence[str], classes: Sequence[str], c: float) -> tuple[np.ndarray, ...]:
    """The standardisation and logistic-regression weights for ``features`` (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-8] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((features - mean) / scale, [list(classes).index(label) for label in labels])
    return mean, scale, model.coef_, model.intercept_


def cross_validate(
    features: np.ndarray, examples: Sequence[Example], classes: Sequence[str], c: float, folds: int = FOLDS
) -> Figures:
    """Grouped, stratified cross-validation's figures, from every clip's out-of-fold probabilities."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.array([list(classes).index(e.label) for e in examples])
    groups = [e.group for e in examples]
    grouped = groups[0] is not None
    splitter = (StratifiedGroupKFold if grouped else StratifiedKFold)(n_splits=folds, shuffle=True, random_state=SEED)
    probs = np.zeros((len(y), len(classes)))
    for train, test in splitter.split(features, y, groups if grouped else None):
        weights = fit(features[train], [classes[i] for i in y[train]], classes, c)
        head = Head(_placeholder_meta(classes), *weights)
        probs[test] = [head.probabilities(x) for x in features[test]]
    pred = probs.argmax(axis=1)
    precision, recall, _, support = precision_recall_fscore_support(
        y, pred, labels=range(len(classes)), zero_division=0
    )
    subsets = sorted({e.subset for e in examples if e.subset is not None})
    per_subset = {}
    for s in subsets:
        mask = np.array([e.subset == s for e in examples])
        present = sorted(set(y[mask]))
        per_subset[s] = round(float(np.mean([np.mean(pred[mask & (y == k)] == k) for k in present])), 4)
    figures = Figures(
        folds=folds,
        groups=len(set(groups)) if grouped else 0,
        unweighted_average_recall=round(float(recall.mean()), 4),
        accuracy=round(float(np.mean(pred == y)), 4),
        per_class=[
            ClassFigures(label=label, precision=round(float(p), 4), recall=round(float(r), 4), support=int(n))
            for label, p, r, n in zip(classes, precision, recall, support, strict=True)
        ],
        confusion=confusion_matrix(y, pred, labels=range(len(classes))).tolist(),
        per_subset=per_subset,
        expected_calibration_error=calibration_error(probs, y),
    )
    return figures


def calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top label: how far its probability is from how often it is right."""
    top = probs.max(axis=1)
    right = probs.argmax(axis=1) == y
    edges = np.minimum((top * bins).astype(int), bins - 1)
    gaps = [abs(top[edges == b].mean() - right[edges == b].mean()) * np.mean(edges == b) for b in set(edges)]
    return round(float(sum(gaps)), 4)


def _placeholder_meta(classes: Sequence[str]) -> HeadMeta:
    """Metadata for a fold's temporary head, which only ever computes probabilities."""
    figures = Figures(folds=0, groups=0, unweighted_average_recall=0, accuracy=0, per_class=[], confusion=[])
    return HeadMeta(
        name="fold", attribute="", labels=list(classes), encoder="", encoder_version="", feature_spec="", dimensions=0,
        regularisation=0, clips=0, data="", data_sha256="", trained_with="", figures=figures,
    )  # fmt: skip


def data_hash(examples: Sequence[Example], cache_keys: Sequence[str]) -> str:
    """A hash of the training data as the head saw it: every clip's content key and label, in order."""
    lines = "".join(f"{k}\t{e.label}\n" for k, e in zip(cache_keys, examples, strict=True))
    return hashlib.sha256(lines.encode()).hexdigest()


def report(meta: HeadMeta) -> str:
    """The cross-validation figures as a readable table: per-class precision and recall, UAR, confusion matrix."""
    f = meta.figures
    grouping = f"{f.folds} folds, {f.groups} groups never split" if f.groups else f"{f.folds} folds (no groups)"
    width = max(8, *(len(label) for label in meta.labels))
    lines = [
        f"{meta.name}: {meta.clips} clips, {len(meta.labels)} labels, encoder {meta.encoder}, {grouping}",
        f"{'label':<{width}}  precision  recall  clips",
        *(f"{c.label:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.support:5d}" for c in f.per_class),
        (
            f"unweighted average recall {f.unweighted_average_recall:.3f} (chance {1 / len(meta.labels):.3f}), "
            f"accuracy {f.accuracy:.3f}, expected calibration error {f.expected_calibration_error:.3f}"
        ),
    ]
    lines += [f"  {subset}: unweighted average recall {uar:.3f}" for subset, uar in f.per_subset.items()]
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(f"{label[:7]:>8}" for label in meta.labels))
    lines += [f"{label:<{width}}" + "".join(f"{n:8d}" for n in row) for label, row in zip(meta.labels, f.confusion, strict=True)]
    return "\n".join(lines)
