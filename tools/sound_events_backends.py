"""The PANNs tags backend: a user's Cnn14 checkpoint (AudioSet, 527 classes) through panns-inference's model code.

panns-inference downloads its labels CSV with ``wget`` when the package is imported, and its checkpoint
when ``AudioTagging`` is built; neither works offline (and a failed download leaves an empty file
behind). So only its model module is imported, without the package's ``__init__``, and the weights
are loaded with ``load_state_dict``. The class names come from AudioSet's ``class_labels_indices.csv``,
read from beside the checkpoint or from panns-inference's own ``~/panns_data``.

Both published sample rates work: the 32 kHz Cnn14 (1024-point window) and ``Cnn14_16k`` (512), told
apart by the checkpoint's STFT weights; our 16 kHz audio is resampled for the first, so it carries
nothing above 8 kHz. Cnn14 scores a whole input at once, so the clip is scored in 2 s windows every 1 s.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from copilot import backends
from copilot.audio import SAMPLE_RATE
from copilot.errors import CopilotError
from copilot.tools.sound_events import Tagger

WINDOW, HOP = 2.0, 1.0  # seconds
BATCH = 8  # windows per forward pass
RATES = {1024: (32000, 14000), 512: (16000, 8000)}  # STFT size -> (sample rate, mel fmax) of the published models
LABELS = "class_labels_indices.csv"


def _models_module() -> Any:
    """``panns_inference.models``, imported under a bare parent package so the real ``__init__`` (and its wget) never runs."""
    if "panns_inference" in sys.modules:
        return backends.import_library("panns_inference.models", "panns")
    spec = importlib.util.find_spec("panns_inference")
    if spec is None or spec.submodule_search_locations is None:
        return backends.import_library("panns_inference.models", "panns")  # not installed: its one-line error
    parent = types.ModuleType("panns_inference")
    parent.__path__ = list(spec.submodule_search_locations)
    sys.modules["panns_inference"] = parent
    try:
        return backends.import_library("panns_inference.models", "panns")
    finally:
        del sys.modules["panns_inference"]  # a later plain import gets the real package


def _labels(checkpoint: Path, classes: int) -> tuple[str, ...]:
    """AudioSet's display names in model order, from ``class_labels_indices.csv`` (index, mid, display_name)."""
    for path in (checkpoint.parent / LABELS, Path.home() / "panns_data" / LABELS):
        if path.is_file() and path.stat().st_size:
            with path.open(newline="") as f:
                names = tuple(row["display_name"] for row in csv.DictReader(f))
            if len(names) != classes:
                raise CopilotError(f"{path} names {len(names)} classes but the checkpoint has {classes}")
            return names
    raise CopilotError(f"the panns backend needs AudioSet's {LABELS} beside {checkpoint} (or in ~/panns_data)")


def load_panns(path: Path) -> Tagger:
    """The ``panns:PATH`` backend: a Cnn14 checkpoint as PANNs publishes it (``{"model": state_dict, ...}``)."""
    torch = backends.import_torch()

    models = _models_module()
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model", checkpoint)
    try:
        n_fft = state["spectrogram_extractor.stft.conv_real.weight"].shape[-1]
        classes, mel_bins = state["fc_audioset.weight"].shape[0], state["logmel_extractor.melW"].shape[1]
    except KeyError as exc:
        raise CopilotError(f"{path} is not a PANNs Cnn14 checkpoint (no {exc} in its state dict)") from None
    if n_fft not in RATES:
        raise CopilotError(f"{path}: a {n_fft}-point STFT matches no published Cnn14 (1024 at 32 kHz, 512 at 16 kHz)")
    names, (rate, fmax) = _labels(path, classes), RATES[n_fft]
    model = models.Cnn14(
        sample_rate=rate,
        window_size=n_fft,
        hop_size=rate // 100,
        mel_bins=mel_bins,
        fmin=50,
        fmax=fmax,
        classes_num=classes,
    )
    model.load_state_dict(state)
    model.eval()

    def scores(samples: np.ndarray) -> np.ndarray:
        from scipy.signal import resample_poly

        x = resample_poly(samples, rate // SAMPLE_RATE, 1).astype(np.float32) if rate != SAMPLE_RATE else samples
        win, hop = int(WINDOW * rate), int(HOP * rate)
        count = 1 + -(-max(len(x) - win, 0) // hop)
        padded = np.zeros((count - 1) * hop + win, np.float32)
        padded[: len(x)] = x
        windows = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]
        with torch.no_grad():
            out = [
                model(torch.from_numpy(windows[i : i + BATCH].copy()))["clipwise_output"]
                for i in range(0, count, BATCH)
            ]
        return torch.cat(out).double().numpy()

    return Tagger(names, WINDOW, HOP, scores)
