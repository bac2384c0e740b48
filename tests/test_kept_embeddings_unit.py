"""A long transcript's segment embeddings are kept on disk: a later question about the same clip embeds only itself.
A fake embedder stands in for MiniLM and counts what it embeds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from copilot import sentences
from copilot.answering.passages import ranked
from copilot.transcript import TranscriptSegment

embedded: list[str] = []


def fake_embed(texts: list[str]) -> np.ndarray:
    """A unit vector a text, the same for the same text: words hashed into 384 buckets."""
    embedded.extend(texts)
    rows = np.zeros((len(texts), sentences.WIDTH), np.float32)
    for row, text in zip(rows, texts, strict=True):
        for word in text.lower().strip(".?").split():
            row[hash(word) % sentences.WIDTH] += 1.0
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


@pytest.fixture(autouse=True)
def fake(monkeypatch, tmp_path) -> Iterator[None]:
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path))
    monkeypatch.setattr(sentences, "embed", fake_embed)
    embedded.clear()
    sentences._embedder.cache_clear()
    yield
    sentences._embedder.cache_clear()


def segments(*texts: str) -> list[TranscriptSegment]:
    return [TranscriptSegment(start=10.0 * i, end=10.0 * i + 9, text=t, words=[]) for i, t in enumerate(texts)]


MEETING = segments("The budget is forty thousand euros.", "We meet again on Friday.", "Lunch is at noon.")


def test_a_second_question_about_the_same_transcript_embeds_only_itself():
    first = ranked("What is the budget?", MEETING)
    assert embedded == [*sorted((s.text for s in MEETING), key=len), "What is the budget?"]
    embedded.clear()
    again = ranked("What is the budget?", MEETING)
    assert embedded == ["What is the budget?"] and again == first and first[0].index == 0
    embedded.clear()
    ranked("When do we meet?", MEETING[1:])  # a part of it (a time range) is kept too
    assert embedded == ["When do we meet?"]


def test_another_transcript_embeds_its_own_segments_and_the_rows_read_back_are_those_computed():
    ranked("What is the budget?", MEETING)
    embedded.clear()
    other = segments("The budget is forty thousand euros.", "The venue is the town hall.")
    ranked("Where is it?", other)
    assert embedded == ["The venue is the town hall.", "Where is it?"]
    texts = [s.text for s in other]
    assert np.array_equal(sentences.embed_kept(texts), fake_embed(texts))


def test_a_new_embedder_does_not_read_the_old_ones_rows(monkeypatch):
    sentences.embed_kept(["Lunch is at noon."])
    monkeypatch.setattr(sentences, "COMPUTED", "2")
    sentences._embedder.cache_clear()
    embedded.clear()
    sentences.embed_kept(["Lunch is at noon."])
    assert embedded == ["Lunch is at noon."]


def test_texts_are_embedded_a_batch_at_a_time_and_the_oldest_go_past_the_bound(monkeypatch):
    monkeypatch.setattr(sentences, "BATCH", 2)
    monkeypatch.setattr(sentences, "KEPT", 4)
    batches: list[int] = []
    monkeypatch.setattr(sentences, "embed", lambda texts: batches.append(len(texts)) or fake_embed(texts))
    words = [f"word{i}" for i in range(5)]
    assert sentences.embed_kept(words).shape == (5, sentences.WIDTH) and batches == [2, 2, 1]
    (rows,) = sentences._table(sentences.Settings.from_env().cache_dir / "sentences.sqlite").execute(
        "SELECT count(*) FROM embeddings"
    ).fetchone()
    assert rows == 3  # past 4 rows, down to 9 tenths of 4
    assert sentences.embed_kept([]).shape == (0, sentences.WIDTH)
