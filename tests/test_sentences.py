"""The MiniLM sentence embedder, with its real weights from the model store."""

from __future__ import annotations

import numpy as np
import pytest

from copilot import models, sentences

QUESTIONS = [
    "Identify the speaker's gender.",
    "What is the gender of the person speaking?",
    "Which animal makes this sound?",
    "Out of the animals listed, which one is heard in the recording?",
    "word " * 400,  # longer than the model's 256 tokens: cut, not an error
]


def test_paraphrases_are_close_and_other_questions_far():
    e = sentences.embed(QUESTIONS)
    assert e.shape == (5, 384) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    s = e @ e.T
    assert s[0, 1] > 0.7 and s[2, 3] > 0.5
    assert max(s[0, 2], s[0, 3], s[1, 2], s[1, 3]) < 0.35
    assert sentences.embed([]).shape == (0, 384)


def test_it_matches_the_reference_implementation():
    transformers = pytest.importorskip("transformers")
    import torch

    folder = models.ensure(sentences.MODEL)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(QUESTIONS, padding=True, truncation=True, max_length=sentences.MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None]
    reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    assert np.abs(sentences.embed(QUESTIONS) - reference).max() < 1e-3  # float16 weights
