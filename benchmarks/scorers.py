"""Scorers: option match, MMAU's string match, label match and macro-F1, WER/CER, absolute error, keyword hits,
refusals, and `score`, which applies the ones an item's kind calls for (with the LLM judge for open answers)."""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from copilot.benchmarks.items import Item, Prediction
from copilot.words import plain, says, stems

if TYPE_CHECKING:
    from copilot.benchmarks.judge import Judge

REFUSAL_PHRASES = (
    "i cannot", "i can't", "i can not", "i am unable", "i'm unable", "unable to determine", "cannot tell", "can't tell",
    "cannot be determined", "cannot determine", "can't determine", "not possible to determine", "i'm sorry",
    "i am sorry", "as an ai", "i don't have access", "i do not have access", "no answer could be composed",
    "not enough information", "impossible to tell",
)
"""Phrases that mark an answer as a refusal or a non-answer (checked in lower case); the judge catches the rest."""


class Scored(BaseModel):
    """An item's scores for one prediction, the option it was read as, and the judge that rated it."""

    scores: dict[str, float | str] = Field(default_factory=dict)
    choice: int | None = None
    judge: str | None = None


def parse_choice(text: str, options: list[str]) -> int | None:
    """The option an answer picks: by letter ("(b)", "b)", "answer: b", "b"), else the one option its text names."""
    lowered = text.lower()
    letters = string.ascii_lowercase[: len(options)]
    marked = {m for m in re.findall(r"[(（]([a-z])[)）]", lowered) if m in letters}
    if len(marked) == 1:
        return letters.index(marked.pop())
    bare = re.fullmatch(r"\s*([a-z])[).:]?\s*", lowered) or re.match(r"\s*([a-z])[).:]\s", lowered)
    bare = bare or re.search(r"\b(?:answer|option|choice)(?: is)?[:\s]+\(?([a-z])(?:[).,:]|$)", lowered)
    if bare and bare.group(1) in letters:
        return letters.index(bare.group(1))
    said = f" {plain(text)} "
    named = [i for i, o in enumerate(options) if plain(o) and f" {plain(o)} " in said]
    named = [i for i in named if not any(j != i and f" {plain(options[i])} " in f" {plain(options[j])} " for j in named)]
    return named[0] if len(named) == 1 else None


def mmau_string_match(answer: str, prediction: str, choices: list[str]) -> bool:
    """MMAU's rule, reproduced exactly from ``string_match`` in evaluation.py of github Sakshi113/MMAU: every word of
    the answer is in the prediction, and the prediction has no word of a wrong choice that the answer lacks.

    Words are ``\\b\\w+\\b`` runs of the lower-cased text, compared as sets; an empty prediction never matches.
    """

    def tokenize(text: str) -> set[str]:
        return set(re.findall(r"\b\w+\b", text.lower()))

    prediction_tokens, answer_tokens = tokenize(prediction), tokenize(answer)
    if not prediction_tokens:
        return False
    incorrect_tokens: set[str] = set()
    for choice in choices:
        choice_tokens = tokenize(choice)
        if choice_tokens != answer_tokens:
            incorrect_tokens.update(choice_tokens - answer_tokens)
    return answer_tokens.issubset(prediction_tokens) and prediction_tokens.isdisjoint(incorrect_tokens)


def match_label(text: str, labels: list[str]) -> str:
    """The one label of a classification task that an answer names (the whole answer, else as words in it), else ''."""
    said = plain(text)
    exact = [label for label in labels if plain(label) == said]
    if exact:
        return exact[0]
    hits = [label for label in labels if plain(label) and f" {plain(label)} " in f" {said} "]
    hits = [h for h in hits if not any(o != h and f" {plain(h)} " in f" {plain(o)} " for o in hits)]
    return hits[0] if len(hits) == 1 else ""


def macro_f1(golds: list[str], predictions: list[str]) -> float:
    """F1 averaged over the reference classes; a prediction outside them counts against its item's class."""
    classes = sorted(set(golds))
    if not classes:
        return 0.0
    total = 0.0
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(golds, predictions, strict=True))
        fp = sum(g != c and p == c for g, p in zip(golds, predictions, strict=True))
        fn = sum(g == c and p != c for g, p in zip(golds, predictions, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return total / len(classes)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions turning one sequence into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def transcript_errors(reference: str, hypothesis: str) -> dict[str, float]:
    """Word and character edits against the reference and its lengths, after `plain`, for corpus WER and CER."""
    ref, hyp = plain(reference), plain(hypothesis)
    return {
        "word_errors": edit_distance(ref.split(), hyp.split()), "words": len(ref.split()),
        "char_errors": edit_distance(list(ref), list(hyp)), "chars": len(ref),
    }


def first_number(text: str) -> float | None:
    """The first number written in ``text`` (digits, optional sign and decimals), else None."""
    match = re.search(r"[-+]?\d+(?:\.\d+)?", text.replace(",", ""))
    return float(match.group()) if match else None


def keyword_hit(text: str, keywords: list[str]) -> bool:
    """Whether the answer says a reference keyword, its words in a row in any inflection ("fly a kite" hits
    "flying kites", "plants" hits "a plant"): JASCO's cheap proxy, which like its judge ignores verb tense."""
    said = stems(text)
    return any(says(said, keyword) for keyword in keywords)


def refused(text: str) -> bool:
    """Whether the answer is empty or says, in one of `REFUSAL_PHRASES`, that it will not or cannot answer."""
    lowered = text.lower().replace("’", "'")
    return not lowered.strip() or any(p in lowered for p in REFUSAL_PHRASES)


def score(item: Item, prediction: Prediction, question: str, judge: Judge | None = None) -> Scored:
    """Every score ``item``'s kind calls for, for ``prediction`` to the wording ``question``."""
    text = prediction.text
    result = Scored()
    if item.kind == "choice":
        result.choice = prediction.choice if prediction.choice is not None else parse_choice(text, item.options)
        if item.choice_rule == "mmau":
            said = item.options[prediction.choice] if prediction.choice is not None else text
            result.scores["correct"] = float(mmau_string_match(item.reference, said, item.options))
        else:
            result.scores["correct"] = float(result.choice is not None and result.choice == item.answer_index)
    elif item.kind == "classification":
        label = match_label(text, item.metadata.get("labels") or [item.reference])
        result.scores.update(label=label, correct=float(plain(label) == plain(item.reference)))
    elif item.kind == "transcript":
        result.scores.update(transcript_errors(item.reference, text))
    elif item.kind == "number":
        guess, truth = first_number(text), first_number(item.reference)
        if guess is not None and truth is not None:
            result.scores["abs_error"] = abs(guess - truth)
    refusal = refused(text)
    if item.kind == "open":
        if item.keywords:
            result.scores["keyword_hit"] = float(keyword_hit(text, item.keywords))
        if judge is not None:
            verdict = judge.rate(item, question, text)
            result.judge = judge.name
            result.scores.update(verdict.scores())
            refusal = refusal or verdict.refused
    result.scores["refusal"] = float(refusal)
    return result
