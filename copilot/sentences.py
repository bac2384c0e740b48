"""Sentence embeddings: all-MiniLM-L6-v2 (sentence-transformers), re-implemented in torch.

The network (BERT, 6 layers, 384 wide, 12 heads), its WordPiece tokenizer (the model's own ``tokenizer.json``,
read by `tokenizers`), mean pooling over the tokens and the final L2 norm match sentence-transformers' model, so
a cosine between two embeddings is the model's sentence similarity. The weights are read from the model store's
``model.safetensors`` without the safetensors or transformers packages, neither of which the project needs
otherwise, and kept in float16: embeddings move by under 0.001 from the float32 model's. Used to find questions
worded like one seen before (`copilot.plans`).
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from copilot import backends, models

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

MODEL = "minilm"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
WIDTH = 384  # floats in an embedding
_DTYPES = {"F32": np.float32, "I64": np.int64}
_lock = threading.Lock()


def read_safetensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """The tensors of a safetensors file, one at a time: an 8-byte header length, a JSON header, then the raw
    little-endian data."""
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            f.seek(8 + length + start)
            yield name, np.frombuffer(f.read(end - start), _DTYPES[info["dtype"]]).reshape(info["shape"])


class _Bert:
    """BERT's encoder over token ids, from a state dict of torch tensors, kept in float16 (45 MB, not 90, beside
    the LLM) and computed in float32."""

    def __init__(self, weights: dict[str, torch.Tensor], config: dict):
        self.w = weights
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        weight, bias = self.w[f"{name}.weight"].float(), self.w[f"{name}.bias"].float()
        return torch.nn.functional.layer_norm(x, x.shape[-1:], weight, bias, self.eps)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        return torch.nn.functional.linear(x, self.w[f"{name}.weight"].float(), self.w[f"{name}.bias"].float())

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states (batch, tokens, width) of the token ``ids`` where ``mask`` is 1."""
        import torch

        w, (batch, length) = self.w, ids.shape
        positions = torch.arange(length)
        x = w["embeddings.word_embeddings.weight"][ids].float() + w["embeddings.position_embeddings.weight"][positions].float()
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0].float(), "embeddings.LayerNorm")
        blocked = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, -1).transpose(1, 2)

        for i in range(self.layers):
            at = f"encoder.layer.{i}"
            q, k, v = (split(self._linear(x, f"{at}.attention.self.{p}")) for p in ("query", "key", "value"))
            attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=blocked)
            attended = attended.transpose(1, 2).reshape(batch, length, -1)
            x = self._norm(x + self._linear(attended, f"{at}.attention.output.dense"), f"{at}.attention.output.LayerNorm")
            inner = torch.nn.functional.gelu(self._linear(x, f"{at}.intermediate.dense"))
            x = self._norm(x + self._linear(inner, f"{at}.output.dense"), f"{at}.output.LayerNorm")
        return x


@cache
def _load() -> tuple[Tokenizer, _Bert]:
    from tokenizers import Tokenizer

    torch = backends.import_torch()
    folder = models.ensure(MODEL)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    weights = {k: torch.from_numpy(v.astype(np.float16)) for k, v in read_safetensors(folder / "model.safetensors")
               if k != "embeddings.position_ids"}
    return tokenizer, _Bert(weights, json.loads((folder / "config.json").read_text()))


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length sentence embeddings of ``texts``, one `WIDTH` row each: their dot product is their similarity."""
    import torch

    if not texts:
        return np.zeros((0, WIDTH), np.float32)
    with _lock:
        tokenizer, bert = _load()
    encoded = tokenizer.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encoded])
    mask = torch.tensor([e.attention_mask for e in encoded])
    with torch.no_grad():
        hidden = bert(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()
