"""The speechbrain speaker backend: a user's speechbrain speaker-encoder folder (e.g. spkrec-ecapa-voxceleb).

The folder holds ``hyperparams.yaml`` and the checkpoints its pretrainer names. Published folders point
their checkpoints at the hub (``pretrained_path: speechbrain/...``); that key is overridden with the
folder itself, so everything loads from disk. speechbrain links the files into a folder of our cache.

The same-speaker threshold is speechbrain's own default for ECAPA verification (cosine 0.25), not
calibrated here; the built-in encoder's threshold was, so it stays the default.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from copilot import backends
from copilot.config import Settings
from copilot.tools.speaker import SpeakerEncoder, require_speech

THRESHOLD = 0.25  # speechbrain's SpeakerRecognition.verify_batch default


def load_speechbrain(path: Path) -> SpeakerEncoder:
    """The ``speechbrain:PATH`` backend: PATH is the encoder folder or its ``hyperparams.yaml``."""
    torch = backends.import_torch()

    speaker = backends.import_library("speechbrain.inference.speaker", "speechbrain")
    folder = path if path.is_dir() else path.parent
    hparams = folder / "hyperparams.yaml"
    overrides = {"pretrained_path": str(folder)} if "pretrained_path:" in hparams.read_text() else {}
    links = Settings.from_env().cache_dir / "speechbrain" / hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    model = speaker.EncoderClassifier.from_hparams(
        source=str(folder), savedir=str(links), overrides=overrides, run_opts={"device": "cpu"}
    )

    def embed(speech: np.ndarray, where: str) -> np.ndarray:
        require_speech(speech, where)
        with torch.no_grad():
            vector = model.encode_batch(torch.from_numpy(speech.astype(np.float32))[None]).reshape(-1).double().numpy()
        return vector / np.linalg.norm(vector)

    return SpeakerEncoder(embed=embed, threshold=lambda seconds_a, seconds_b: THRESHOLD)
