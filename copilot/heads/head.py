"""A learned head and its file: a standardised multinomial logistic regression over one encoder's features.

A head is one ``.npz`` file holding four arrays (``mean``, ``scale``, ``coef``, ``intercept``) and its
metadata as UTF-8 JSON (``meta``); it is read with ``allow_pickle=False``, so loading it executes
nothing. Its sha256 is kept beside it (``NAME.npz.sha256``, as `sha256sum` writes it) or, for the heads
shipped with the package, in `copilot.manifest`; a head whose bytes do not match is a `ChecksumError`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from copilot.errors import ChecksumError, ModelError
from copilot.files import atomic_write, sha256_file

FORMAT = 1
ARRAYS = ("mean", "scale", "coef", "intercept")
SHA256 = re.compile(r"[0-9a-f]{64}")


class ClassFigures(BaseModel):
    label: str
    precision: float
    recall: float
    support: int


class Figures(BaseModel):
    """Grouped cross-validation figures: no group (speaker) is in both the training and the test folds."""

    folds: int
    groups: int = Field(description="distinct groups (e.g. speakers); 0 when no group field was given")
    unweighted_average_recall: float
    accuracy: float
    per_class: list[ClassFigures]
    confusion: list[list[int]] = Field(description="rows: true label, columns: predicted, in `labels` order")
    per_subset: dict[str, float] = Field({}, description="unweighted average recall within each value of --by")
    expected_calibration_error: float = Field(0.0, description="gap between the top label's probability and its hit rate")


class HeadMeta(BaseModel):
    """What a head is: its name, the attribute it names, its label set, encoder, training data and figures."""

    format: int = FORMAT
    name: str
    attribute: str = Field(description="the property the labels are values of, e.g. emotion")
    labels: list[str]
    encoder: str
    encoder_version: str
    feature_spec: str
    dimensions: int
    regularisation: float = Field(description="the logistic regression's C")
    clips: int
    data: str = Field(description="where the training clips came from, as given to copilot learn")
    data_sha256: str = Field(description="hash of the training items (clip hashes and labels) in order")
    trained_with: str = Field(description="the command that trained it")
    figures: Figures
    notes: str = ""


class Head:
    """A trained head: metadata and weights, able to turn features into label probabilities."""

    def __init__(self, meta: HeadMeta, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
        self.meta, self.mean, self.scale, self.coef, self.intercept = meta, mean, scale, coef, intercept

    @property
    def name(self) -> str:
        return self.meta.name

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Each label's probability for one feature vector, in `meta.labels` order."""
        logits = self.coef @ ((features - self.mean) / self.scale) + self.intercept
        if len(self.meta.labels) == 2:  # scikit-learn keeps one row of weights for two classes
            logits = np.array([0.0, logits[0]])
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def save(self, path: Path) -> str:
        """Write the head to ``path`` atomically with its ``.sha256`` beside it; returns the sha256. The same head
        always gives the same bytes."""
        buffer = io.BytesIO()
        arrays = {"meta": np.frombuffer(self.meta.model_dump_json().encode(), np.uint8)}
        arrays |= {name: getattr(self, name) for name in ARRAYS}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:  # np.savez's layout, with fixed file times
            for name, array in arrays.items():
                with zf.open(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as f:
                    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(buffer.getvalue())
        digest = sha256_file(path)
        with atomic_write(checksum_path(path)) as f:
            f.write(f"{digest}  {path.name}\n".encode())
        return digest


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str:
    """The sha256 written beside a head file; a missing, unreadable, empty or garbled one is a `ModelError`."""
    sidecar = checksum_path(path)
    try:
        words = sidecar.read_bytes().split()
    except OSError:
        raise ModelError(f"head {path} has no checksum file {sidecar.name}: train it again with copilot learn") from None
    digest = words[0].decode("ascii", "replace").lower() if words else ""
    if not SHA256.fullmatch(digest):
        raise ModelError(f"head {path.name}'s checksum file {sidecar.name} holds no sha256: train it again with copilot learn")
    return digest


def verify(path: Path, sha256: str) -> None:
    """Raise `ChecksumError` when the head file's bytes are not the ones recorded."""
    found = sha256_file(path)
    if found != sha256:
        raise ChecksumError(f"head {path} is corrupt or changed: sha256 {found[:12]}..., expected {sha256[:12]}...")


def load(path: Path, sha256: str) -> Head:
    """The head in ``path``, after checking its sha256; a bad file is a `ModelError` naming it."""
    if not path.is_file():
        raise ModelError(f"no head file {path}")
    verify(path, sha256)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = HeadMeta.model_validate_json(data["meta"].tobytes())
            arrays = [np.asarray(data[name], np.float64) for name in ARRAYS]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ValidationError, json.JSONDecodeError) as exc:
        raise ModelError(f"head {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if meta.format != FORMAT:
        raise ModelError(f"head {path} has format {meta.format}; this version reads format {FORMAT}")
    return Head(meta, *arrays)
