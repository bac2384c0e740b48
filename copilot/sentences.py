"""Sentence embeddings: all-MiniLM-L6-v2 (sentence-transformers), re-implemented in torch.

The network (BERT, 6 layers, 384 wide, 12 heads), its WordPiece tokenizer (the model's own ``tokenizer.json``,
read by `tokenizers`), mean pooling over the tokens and the final L2 norm match sentence-transformers' model, so
a cosine between two embeddings is the model's sentence similarity. The weights are read from the model store's
``model.safetensors`` without the safetensors or transformers packages, neither of which the project needs
otherwise, and kept in float16: embeddings move by under 0.001 from the float32 model's. Used to find questions
worded like one seen before (`copilot.plans`) and the segments of a long transcript that bear on a question
(`copilot.answering.passages`), whose embeddings are kept on disk (`embed_kept`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from copilot import backends, models
from copilot.cache import open_table
from copilot.config import Settings

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

MODEL = "minilm"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
WIDTH = 384  # floats in an embedding
_DTYPES = {"F32": np.float32, "I64": np.int64}
_lock = threading.Lock()
BATCH = 8  # texts embedded at once by `embed_kept`: 256 texts of 80 tokens took 20 s and peaked at 346 MB 8 at a time,
# 27 s and 518 MB 64 at a time (2 busy cores); 1,000 of them in one batch peaked at 2.35 GB
KEPT = 100_000  # texts whose embeddings are kept at most (about 170 MB); past that the least recently written go
COMPUTED = "1"  # how an embedding is computed from the model's files (float16 weights, mean pooling): a new one is kept apart


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


def embed_kept(texts: Sequence[str]) -> np.ndarray:
    """`embed`'s rows for ``texts``, each kept on disk in the cache folder (``sentences.sqlite``), keyed by the sha256
    of the text and of the embedder (the model's files, `MAX_TOKENS`, `COMPUTED`): a long transcript's segments are
    embedded once, and a later question about the same clip (or any part of it) reads them back.

    Texts not kept yet are embedded `BATCH` at a time, shortest first, so the working memory stays small; a row
    differs from ``embed(texts)``'s by float rounding only, and once kept it is read back bit for bit."""
    keys = [_key(t) for t in texts]
    db = _table(Settings.from_env().cache_dir / "sentences.sqlite")
    with _lock:
        found = dict(_rows(db, sorted(set(keys))))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items(), key=lambda kt: len(kt[1]))
    for at in range(0, len(missing), BATCH):
        chunk = missing[at : at + BATCH]
        rows = embed([t for _, t in chunk])
        found.update((k, row) for (k, _), row in zip(chunk, rows, strict=True))
        with _lock, db:
            now = time.time()
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", [(k, found[k].tobytes(), now) for k, _ in chunk])
    if missing:
        _trim(db)
    return np.stack([found[k] for k in keys]) if keys else np.zeros((0, WIDTH), np.float32)


@cache
def _embedder() -> str:
    return json.dumps([MODEL, [f.sha256 for f in models.spec(MODEL).files], MAX_TOKENS, COMPUTED])


def _key(text: str) -> str:
    return hashlib.sha256(f"{_embedder()}\n{text}".encode()).hexdigest()


@cache
def _table(path: Path) -> sqlite3.Connection:
    return open_table(path, "embeddings (key TEXT PRIMARY KEY, vector BLOB, written REAL)")


def _rows(db: sqlite3.Connection, keys: list[str]) -> Iterator[tuple[str, np.ndarray]]:
    for at in range(0, len(keys), 500):  # SQLite's bound on a statement's parameters is 999 in older builds
        chunk = keys[at : at + 500]
        marks = ",".join("?" * len(chunk))
        for key, vector in db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
            yield key, np.frombuffer(vector, np.float32)


def _trim(db: sqlite3.Connection) -> None:
    """Past `KEPT` rows, delete the least recently written down to nine tenths of it."""
    with _lock, db:
        (rows,) = db.execute("SELECT count(*) FROM embeddings").fetchone()
        if rows > KEPT:
            db.execute(
                "DELETE FROM embeddings WHERE key IN (SELECT key FROM embeddings ORDER BY written LIMIT ?)",
                (rows - KEPT * 9 // 10,),
            )
