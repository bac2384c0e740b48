"""Scorers: option match, MMAU's string match, label match and macro-F1, WER/CER, absolute error, keyword hits,
refusals, each part of a compound question read from the words of its answer, a question about a long recording by
its truth's keys and times, and `score`, which applies the ones
an item's kind calls for (with the LLM judge for open answers)."""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from copilot.benchmarks.items import PART_KINDS, Item, LongformTruth, PartKind, PartScore, Prediction
from copilot.question.figures import WORDS
from copilot.words import plain, says, stems, where

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
    part_scores: list[PartScore] = Field(default_factory=list, description="a compound item's parts, how each fared")


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
    elif item.kind == "compound":
        result.part_scores = score_parts(item, prediction)
        return result  # a part that cannot be told is answered so, not refused: each part has its own verdict
    elif item.kind == "longform":
        assert item.truth is not None
        result.scores.update(score_longform(item.truth, text))
        return result  # "not in the recording" is a right answer to some, not a refusal
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


# --- the parts of a compound question -----------------------------------------------------------------------------

Band = Literal["quiet", "moderate", "loud"]
BY_SPEAKER: set[PartKind] = {"gender_first", "gender_second"}
"""Kinds whose gender step serves them only with ``by_speaker`` true."""


def score_parts(item: Item, prediction: Prediction) -> list[PartScore]:
    """Every part of the compound ``item`` as ``prediction`` treats it: planned with a serving tool (a step of its
    program), measured by one (a step of its evidence that ran without error), answered right (`score_part` of the
    part's own text when the prediction has one per part, else of its whole text), and a value claimed with no
    serving tool's measurement behind it."""
    steps = prediction.program.steps if prediction.program else []
    ran = [e for e in prediction.evidence if not e.get("error")]
    texts = prediction.parts if len(prediction.parts) == len(item.parts) else [prediction.text] * len(item.parts)
    results = []
    for part, text in zip(item.parts, texts, strict=True):
        planned = any(serves(part.kind, s.tool, s.args) for s in steps)
        measured = any(serves(part.kind, e.get("tool"), e.get("args")) for e in ran)
        claim = not measured and unmeasured_claim(part.kind, text)
        results.append(PartScore(kind=part.kind, planned=planned, measured=measured,
                                 right=score_part(part.kind, part.truth, text), claim=claim))
    return results


def serves(kind: PartKind, tool: str | None, args: dict[str, Any] | None) -> bool:
    """Whether a call of ``tool`` with ``args`` (a step of a program, or of the evidence) serves a part of ``kind``."""
    if tool not in PART_KINDS[kind].tools:
        return False
    return kind not in BY_SPEAKER or (args or {}).get("by_speaker") is True


_NUMBER = rf"(\d+|\b(?:{'|'.join(WORDS)})\b)"
_PEOPLE = r"(?:speakers?|people|persons?|voices?|talkers?|individuals?|participants?)"  # not "two men" of three
_PEOPLE_COUNTS = [
    re.compile(rf"\b{_NUMBER}\s+(?:(?!of\b)[a-z-]+\s+){{0,2}}{_PEOPLE}\b"),  # "two different speakers"
    re.compile(rf"\b{_NUMBER}\s*(?:or|to|-|–)\s*{_NUMBER}\s+(?:(?!of\b)[a-z-]+\s+){{0,2}}{_PEOPLE}\b"),  # "two or three"
    re.compile(rf"\b(?:number of )?{_PEOPLE}\s*(?::|=|count(?:ed)?:?|(?:is|was|were):?)\s*{_NUMBER}\b(?!\s+[a-z])"),  # "speakers: 2"
]
_SINGLE = re.compile(rf"\b(?:single|lone|sole|solo|only one|just one)\s+(?:[a-z-]+\s+)?(?:{_PEOPLE}|narrator)")
_BARE = re.compile(rf"(?<![-\d.]){_NUMBER}\b(?![.:]\d)(?!\s*(?:s\b|sec|second|min|lufs|lkfs|db|hz|%|percent|o'clock))")
_MALE = re.compile(r"\b(?:male|males|man|men|man's|men's|masculine|boy|gentleman)\b")
_FEMALE = re.compile(r"\b(?:female|females|woman|women|woman's|women's|feminine|girl|lady)\b")
_SECONDS = re.compile(rf"(?<![-\d.:])(\d+(?:\.\d+)?|\b(?:{'|'.join(WORDS)}))\s*(seconds?|secs?|s|minutes?|mins?)?\b")
_CLOCK = re.compile(r"\b(\d+):(\d\d(?:\.\d+)?)\b")  # 0:12.4
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno|\bhardly|\bthan)(?:\s+\w+){0,2}\s*$")  # "not very loud", "than loud"
_BANDS: dict[Band, re.Pattern[str]] = {
    "quiet": re.compile(r"\b(?:quiet|soft|faint|hushed|low(?!\s*-?\s*(?:pitch|noise|frequenc|voice|tone)))\b"),
    "moderate": re.compile(r"\b(?:moderate(?:ly)?|medium|normal|average|(?:about|around|at|near|close to|"
                           r"approximately|roughly|typical|standard)\s+(?:the\s+)?(?:ebu r ?128\s+)?broadcast)\b"),
    "loud": re.compile(r"\bloud\b"),
}
_LUFS = re.compile(r"(-\d+(?:\.\d+)?)\s*(?:lufs|lkfs)")
_YES_NO = re.compile(r"^\W*(yes|yeah|no)\b")
_NO = re.compile(r"\b(?:no|not|none|neither|nor|absent|without)\b|n't\b")
_YES = re.compile(r"\b(?:yes|there (?:is|are)|can be heard|hear|heard|audible|present)\b")
_CLAUSE = re.compile(r"[.;,:!?]|\b(?:and|then|while|whereas|but)\b")
_CANNOT = re.compile(
    r"\b(?:cannot|can ?not|unable|impossible|unknown|unmeasurable|undetermin\w*|no way to|none of the tools)\b"
    r"|(?:\bnot|n't)\s+(?:be\s+|been\s+)?(?:measur|determin|known|availabl|possibl|told|tell|say|know|reveal"
    r"|indicat|show|specifi|mention|stat|given|provid|enough|have)"
    r"|\bno\s+(?:tool|measurement|data|evidence|information)"
    r"|\bno\b[^.]{0,30}\b(?:mentioned|given|stated|spoken|said)\b"
)


def score_part(kind: PartKind, truth: Any, text: str) -> bool:
    """Whether ``text``, the answer to a part of ``kind``, is right about ``truth``, read from the words in it."""
    lowered = text.lower().replace("’", "'")
    if kind == "count":
        return _counts(lowered) == {truth}
    if kind in ("sound", "words"):
        return keyword_hit(lowered, truth)
    if kind in ("gender", "gender_first", "gender_second"):
        return _gender(kind, lowered) == truth
    if kind == "duration":
        return any(abs(seconds - truth) <= max(0.05 * truth, 0.3) for seconds in _durations(lowered))
    if kind == "loudness":
        return _bands(lowered) == {truth}
    if kind == "sound_yes":
        return _yes(lowered) is truth
    return cannot_tell(lowered)  # unmeasurable: right when it says so


def unmeasured_claim(kind: PartKind, text: str) -> bool:
    """Whether ``text`` answers a part of ``kind`` as if it had been measured: it states a value of the kind
    (any words at all for sound, words and unmeasurable parts) and does not say it could not be told."""
    lowered = text.lower().replace("’", "'")
    if not lowered.strip() or cannot_tell(lowered):
        return False
    if kind == "count":
        return bool(_counts(lowered))
    if kind in ("gender", "gender_first", "gender_second"):
        return bool(_genders(lowered))
    if kind == "duration":
        return bool(_durations(lowered))
    if kind == "loudness":
        return bool(_bands(lowered))
    if kind == "sound_yes":
        return _yes(lowered) is not None
    return True


def cannot_tell(text: str) -> bool:
    """Whether ``text`` says that something was not or cannot be measured or told."""
    return bool(_CANNOT.search(text.lower().replace("’", "'")))


def _number(word: str) -> float:
    return float(WORDS.index(word)) if word in WORDS else float(word)


def _counts(text: str) -> set[int]:
    """The speaker counts ``text`` states: numbers next to people ("two speakers", "speakers: 2", "a single
    voice"), else, when there are none, the whole numbers it states without a unit."""
    found = {int(_number(n)) for pattern in _PEOPLE_COUNTS for m in pattern.finditer(text) for n in m.groups()}
    found |= {1} if _SINGLE.search(text) else set()
    return found or {int(_number(m.group(1))) for m in _BARE.finditer(text)}


def _gender(kind: PartKind, text: str) -> str | None:
    """The gender ``text`` states for the part: the only one it names, or, when it names both, the only one in
    the clause that says "first" (or "second"): "the first speaker is male, the second female"."""
    said = _genders(text)
    if len(said) == 1:
        return said.pop()
    ordinal = r"\bfirst\b" if kind == "gender_first" else r"\bsecond\b"
    for clause in _CLAUSE.split(text) if said and kind != "gender" else []:
        if re.search(ordinal, clause) and len(in_clause := _genders(clause)) == 1:
            return in_clause.pop()
    return None


def _genders(text: str) -> set[str]:
    """The genders ``text`` names ("female" is not "male", "woman" is not "man")."""
    return {gender for gender, pattern in (("male", _MALE), ("female", _FEMALE)) if pattern.search(text)}


def _durations(text: str) -> list[float]:
    """The durations in seconds ``text`` states: numbers with a unit of time when it has any, else every number."""
    timed = [float(m.group(1)) * 60 + float(m.group(2)) for m in _CLOCK.finditer(text)]
    bare: list[float] = []
    for m in _SECONDS.finditer(text):
        if m.group(1).isalpha() and not m.group(2):
            continue  # "one of them", not a duration
        value = _number(m.group(1)) * (60 if m.group(2) and m.group(2).startswith("min") else 1)
        (timed if m.group(2) else bare).append(value)
    return timed or bare


def _bands(text: str) -> set[Band]:
    """The loudness bands ``text`` states in words not negated ("not loud"; broadcast level only when "about" or
    "at" it, not "below" it), else by a LUFS figure."""
    found = {name for name, pattern in _BANDS.items() for m in pattern.finditer(text)
             if not _NEGATED.search(text[: m.start()])}
    return found or {b for m in _LUFS.finditer(text) if (b := band(float(m.group(1))))}


def _yes(text: str) -> bool | None:
    """Yes or no, as ``text`` answers a yes/no question: its first word when that is yes or no, else no when it
    negates anything and yes when it says something is there; None when it says neither."""
    first = _YES_NO.search(text)
    if first:
        return first.group(1) != "no"
    if _NO.search(text):
        return False
    return True if _YES.search(text) else None


def band(lufs: float) -> Band | None:
    """The band an integrated loudness is in, as the loudness tool words it: quiet below -30 LUFS, moderate about
    broadcast level (-25 to -21), loud from -14 to -9; None between them."""
    if lufs < -30:
        return "quiet"
    if -25 <= lufs <= -21:
        return "moderate"
    if -14 <= lufs <= -9:
        return "loud"
    return None



# --- questions about a long recording ------------------------------------------------------------------------------

TIME_SLACK = 15.0
"""Seconds a time answered may be off and still be right (issue #33)."""

_SIGNS = {"€": " euro ", "£": " pound ", "$": " dollar "}
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f ](?=\d{3}\b)")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")  # "the 18th" says the day 18
_HMS = re.compile(r"\b(\d+):(\d\d):(\d\d(?:\.\d+)?)\b")
_MS = re.compile(r"\b(\d+):(\d\d(?:\.\d+)?)\b")
_UNIT_TIME = re.compile(rf"(\d+(?:\.\d+)?|\b(?:{'|'.join(WORDS)}))\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b")
_JOINED = re.compile(r"^\s*(?:,|and|,\s*and)?\s*$")
_LABELS = re.compile(r"\b(?:s|speaker[_ ]?)\d+\b")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_NOT_DISCUSSED = re.compile(r"(?:\bnot|n't|\bnever|\bno one)\s+(?:\w+\s+){0,3}(?:discuss|talk|address|cover|bring|rais|"
                            r"come up|appear|in the recording|in the audio|part of)")


def score_longform(truth: LongformTruth, text: str) -> dict[str, float]:
    """The scores of ``text``, an answer to a question about a long recording: ``right`` (for a summary, the share of
    decisions named), ``invented`` (1 when it states a value the recording does not hold: another candidate, a figure
    of its own, or any value for a question the recording does not answer), and for a time question ``time_error``,
    seconds between the first time it states and the truth (none when it states none)."""
    lowered = text.lower().replace("’", "'")
    for sign, word in _SIGNS.items():
        lowered = lowered.replace(sign, word)
    lowered = _ORDINAL.sub(r"\1", _THOUSANDS.sub("", lowered))
    times = answer_times(lowered)
    said = stems(lowered)
    if truth.ask == "time":
        assert truth.seconds is not None
        if not times:
            return {"right": 0.0, "invented": 0.0}
        error = abs(times[0] - truth.seconds)
        return {"right": float(error <= TIME_SLACK), "invented": 0.0, "time_error": round(error, 2)}
    if truth.ask == "summary":
        return {"right": sum(_at(said, key) is not None for key in truth.keys) / len(truth.keys), "invented": 0.0}
    if truth.ask == "speaker":
        named = sorted((at, key) for key in truth.others if (at := _at(said, key)) is not None)
        return {"right": float(bool(named) and named[0][1] == truth.keys[0]), "invented": 0.0}
    figures = _figures(lowered)
    if truth.ask == "absent":
        stated = bool(figures) or any(_at(said, key) is not None for key in truth.others)
        says_absent = cannot_tell(lowered) or bool(_NOT_DISCUSSED.search(lowered))
        return {"right": float(says_absent and not stated), "invented": float(stated)}
    other = any(_at(said, key) is not None for key in truth.others)
    allowed = {d for key in truth.keys for d in _DIGITS.findall(key)}
    stray = bool(figures - allowed)
    return {"right": float(all(_at(said, key) is not None for key in truth.keys) and not other),
            "invented": float(other or stray)}


def _at(said: list[str], key: str) -> int | None:
    """The first word position at which a text (its `stems`) says any alternative of ``key`` ("a|b"), else None."""
    found = [at for alternative in key.split("|") if (at := where(said, alternative)) is not None]
    return min(found) if found else None


def answer_times(text: str) -> list[float]:
    """The times ``text`` states, in seconds, in the order it states them: h:mm:ss, m:ss, and numbers with units
    ("17 minutes and 42 seconds", "three minutes", "1.5 hours")."""
    found: list[tuple[int, float]] = []
    masked = text
    for pattern, value in ((_HMS, lambda m: int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])),
                           (_MS, lambda m: int(m[1]) * 60 + float(m[2]))):
        for m in pattern.finditer(masked):
            found.append((m.start(), value(m)))
        masked = pattern.sub(lambda m: " " * len(m[0]), masked)
    end, start = -1, 0
    for m in _UNIT_TIME.finditer(masked):
        seconds = _number(m[1]) * {"h": 3600, "m": 60}.get(m[2][0], 1)
        if found and end >= 0 and _JOINED.match(masked[end : m.start()]) and found[-1][0] == start:
            found[-1] = (start, found[-1][1] + seconds)  # "17 minutes and 42 seconds": one time
        else:
            start = m.start()
            found.append((start, seconds))
        end = m.end()
    return [seconds for _, seconds in sorted(found)]


def _figures(text: str) -> set[str]:
    """The numbers ``text`` states as values: not its times ("at 17:42", "3 minutes in") nor speaker labels."""
    for pattern in (_HMS, _MS, _UNIT_TIME, _LABELS):
        text = pattern.sub(" ", text)
    return set(_DIGITS.findall(text))
