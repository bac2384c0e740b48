"""Whisper base's audio encoder in torch, float32, with the weights read from the model store's CTranslate2 file.

The learned heads stand on this encoder, not on the ASR model's: CTranslate2's int8 kernels give different
features on CPUs with and without AVX-512 VNNI, enough to move a head's probabilities by 0.3, while float32
gives the same features on every x86-64 CPU within rounding (docs/heads.md). Its output matches CTranslate2's
float32 ``encode``. Only the encoder's weights are read (kept in float16, 40 MB); it cannot decode text.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from copilot import backends, models
from copilot.errors import ModelError

if TYPE_CHECKING:
    import torch
    from faster_whisper.feature_extractor import FeatureExtractor

MODEL = "whisper-base"
MEL_BANDS = 80
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # CTranslate2's DataType ids
_lock = threading.Lock()


def read_ctranslate2(path: Path, prefix: str) -> Iterator[tuple[str, np.ndarray]]:
    """The variables of a CTranslate2 ``model.bin`` (binary version 6) whose names start with ``prefix``, the
    prefix removed: a version, the spec's name and revision, a count, then each variable's name, shape, type and
    raw little-endian data."""
    with path.open("rb") as f:
        version = _unpack(f, "<I")
        if version != 6:
            raise ModelError(f"{path}: CTranslate2 model version {version}, expected 6")
        _string(f)
        _unpack(f, "<I")  # the spec's revision
        for _ in range(_unpack(f, "<I")):
            name = _string(f)
            shape = [_unpack(f, "<I") for _ in range(_unpack(f, "<B"))]
            dtype, size = _DTYPES[_unpack(f, "<B")], _unpack(f, "<I")
            if name.startswith(prefix):
                yield name[len(prefix) :], np.frombuffer(f.read(size), dtype).reshape(shape)
            else:
                f.seek(size, 1)


def _unpack(f: BinaryIO, fmt: str) -> int:
    (value,) = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
    return int(value)


def _string(f: BinaryIO) -> str:
    return f.read(_unpack(f, "<H"))[:-1].decode()  # NUL-terminated


class WhisperEncoder:
    """Whisper's encoder (two convolutions, sinusoidal positions, pre-norm transformer layers, a final norm) over
    a log-mel spectrogram, from CTranslate2's variable names."""

    def __init__(self, weights: dict[str, torch.Tensor], heads: int):
        self.w = weights
        self.heads = heads
        self.layers = len({k.split("/")[0] for k in weights if k.split("/")[0].removeprefix("layer_").isdigit()})

    def _get(self, name: str) -> torch.Tensor:
        return self.w[name].float()

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        return torch.nn.functional.layer_norm(x, x.shape[-1:], self._get(f"{name}/gamma"), self._get(f"{name}/beta"))

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        return torch.nn.functional.linear(x, self._get(f"{name}/weight"), self._get(f"{name}/bias"))

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """Hidden states (frames, width), one frame per two mel frames, of ``mel`` (80, at most 3000 frames)."""
        import torch

        gelu, conv = torch.nn.functional.gelu, torch.nn.functional.conv1d
        x = gelu(conv(mel[None], self._get("conv1/weight"), self._get("conv1/bias"), padding=1))
        x = gelu(conv(x, self._get("conv2/weight"), self._get("conv2/bias"), stride=2, padding=1))[0].T
        x = x + self._get("position_encodings/encodings")[: len(x)]
        frames, width = x.shape
        for i in range(self.layers):
            at = f"layer_{i}"
            qkv = self._linear(self._norm(x, f"{at}/self_attention/layer_norm"), f"{at}/self_attention/linear_0")
            q, k, v = (t.view(frames, self.heads, -1).transpose(0, 1) for t in qkv.split(width, dim=-1))
            attended = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(frames, width)
            x = x + self._linear(attended, f"{at}/self_attention/linear_1")
            inner = gelu(self._linear(self._norm(x, f"{at}/ffn/layer_norm"), f"{at}/ffn/linear_0"))
            x = x + self._linear(inner, f"{at}/ffn/linear_1")
        return self._norm(x, "layer_norm")


@cache
def _load() -> tuple[FeatureExtractor, WhisperEncoder]:
    from faster_whisper.feature_extractor import FeatureExtractor

    torch = backends.import_torch()
    variables = dict(read_ctranslate2(models.ensure(MODEL) / "model.bin", "encoder/"))
    heads = int(variables.pop("num_heads"))
    weights = {k: torch.from_numpy(v.astype(np.float16)) for k, v in variables.items()}
    return FeatureExtractor(feature_size=MEL_BANDS), WhisperEncoder(weights, heads)


def encode(samples: np.ndarray) -> np.ndarray:
    """The encoder's output (frames, 512), one frame every 20 ms, for 16 kHz ``samples`` of at most 30 s."""
    import torch

    with _lock:
        extractor, encoder = _load()
    mel = extractor(samples)[:, :-1]
    with torch.no_grad():
        return encoder(torch.from_numpy(np.ascontiguousarray(mel, np.float32))).numpy()
