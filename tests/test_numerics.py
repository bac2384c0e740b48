"""The learned heads hear the same thing on every x86-64 CPU: each stage of the features of the five LibriVox clips
(pocketsphinx-testdata), from the log-mel spectrogram to the shipped heads' probabilities, against a reference stored
in the repository, with the drift each stage may show stated in `TOLERANCE`; and the torch encoder against
CTranslate2's own float32 one.

CTranslate2's int8 encoder, which the heads stood on before, moved the gender head's probabilities by up to 0.3
between an AVX2 machine and an AVX-512 VNNI one; on AVX2 its pooled features differ from float32's by a cosine of
0.997-0.999 and 1.4-2.3 in a dimension, which these tolerances catch. Write the reference anew only after a deliberate change to
the features or the heads (`make heads`), on any machine:

    .venv/bin/python -m tests.test_numerics --write
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from copilot.audio import Audio, load
from copilot.errors import ModelError
from copilot.heads.features import WHISPER_CHUNK, encoder, encoder_for, whisper_frames
from copilot.heads.head import Head
from copilot.heads.store import shipped_head
from copilot.tools.vad import speech_segments
from tests import corpora

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).parent / "data" / "numerics.npz"
TOLERANCE = {
    "mel": 1e-4,  # the largest difference of a band's mean log-mel (values in -1.5..1.5)
    "vad": 0.05,  # seconds a speech boundary may move: under two of Silero's 32 ms windows
    "encoder": 0.01,  # the largest difference of a dimension's mean encoder output (values up to about 10)
    "features": 0.01,  # the same for the pooled features the heads read
    "cosine": 0.9999,  # the least cosine between an encoder or feature vector and its reference
    "probability": 0.02,  # the largest difference of a head's probability
}


def measure(clip: Audio) -> dict[str, np.ndarray]:
    """Every stage of the clip's head features, each reduced to a small vector."""
    from faster_whisper.feature_extractor import FeatureExtractor

    mel = FeatureExtractor(feature_size=80)(clip.samples[:WHISPER_CHUNK])[:, :-1]
    features = encoder("whisper-base").extract(clip)
    return {
        "mel": mel.mean(axis=1),
        "vad": np.array([[s.start, s.end] for s in speech_segments(clip)]),
        "encoder": whisper_frames(clip).mean(axis=0),
        "features": features,
        "gender": shipped_head("gender").probabilities(features),
        "emotion": shipped_head("emotion").probabilities(features),
    }


def clips() -> list[Audio]:
    return [load(path) for path, _ in corpora.librivox()]


@pytest.fixture(scope="module")
def measured() -> list[dict[str, np.ndarray]]:
    return [measure(clip) for clip in clips()]


@pytest.fixture(scope="module")
def reference() -> list[dict[str, np.ndarray]]:
    with np.load(REFERENCE, allow_pickle=False) as data:
        return [{k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{n}/")} for n in range(5)]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("stage", ["mel", "vad", "encoder", "features"])
def test_each_stage_of_the_head_features_matches_the_stored_reference(measured, reference, stage):
    for n, (got, want) in enumerate(zip(measured, reference, strict=True)):
        assert got[stage].shape == want[stage].shape, (n, stage)
        drift = float(np.abs(got[stage] - want[stage]).max())
        assert drift <= TOLERANCE[stage], f"clip {n}: {stage} drifted by {drift:.2g}"
        if stage in {"encoder", "features"}:
            assert cosine(got[stage], want[stage]) >= TOLERANCE["cosine"], (n, stage)


def test_the_shipped_heads_give_the_stored_probabilities(measured, reference):
    for n, (got, want) in enumerate(zip(measured, reference, strict=True)):
        for head in ("gender", "emotion"):
            drift = float(np.abs(got[head] - want[head]).max())
            assert drift <= TOLERANCE["probability"], f"clip {n}: the {head} head moved by {drift:.3f}"


def test_the_torch_encoder_matches_ctranslate2_float32():
    import ctranslate2
    from faster_whisper import WhisperModel

    from copilot import models
    from copilot.heads.whisper_encoder import encode

    model = WhisperModel(str(models.ensure("whisper-base")), device="cpu", compute_type="float32", cpu_threads=1)
    samples = clips()[0].samples
    mel = model.feature_extractor(samples)[:, :-1]
    theirs = np.array(model.model.encode(ctranslate2.StorageView.from_array(mel[None].astype(np.float32)),
                                         to_cpu=True))[0]
    ours = encode(samples)
    assert ours.shape == theirs.shape and ours.shape[1] == 512 and len(ours) > 300  # 7 s, a frame per 20 ms
    assert min(cosine(a, b) for a, b in zip(ours, theirs, strict=True)) > 0.99999
    assert np.abs(ours - theirs).max() < 1e-3


def test_a_head_trained_on_another_version_of_its_features_is_refused():
    shipped = shipped_head("gender")
    assert encoder_for(shipped) is encoder("whisper-base")
    stale = Head(shipped.meta.model_copy(update={"encoder_version": "1"}), shipped.mean, shipped.scale, shipped.coef,
                 shipped.intercept)
    with pytest.raises(ModelError, match=r"^head 'gender' was trained on whisper-base features version 1; this copilot "
                                         r"computes version 2: train it again with copilot learn$"):
        encoder_for(stale)


def write_reference() -> None:
    """Measure the five clips on this machine and store the result as the reference."""
    arrays = {f"{n}/{k}": v for n, clip in enumerate(clips()) for k, v in measure(clip).items()}
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **arrays)
    print(f"wrote {REFERENCE}: {len(arrays)} arrays")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write the numerics reference of the head features.")
    parser.add_argument("--write", action="store_true", required=True)
    parser.parse_args()
    write_reference()
