"""Times a question names: a part of the recording ("between 10:00 and 12:00", "in the last five minutes", "at
3:15") and a question about when something is said ("when do they start talking about the budget?"), with the
topic it asks about. It reads English wordings only, and no times relative to an event ("right after the dog
barks")."""

from __future__ import annotations

import re

from copilot.question.figures import WORDS

NEAR = 15.0  # seconds either side of a moment named with "at 3:15": a Whisper segment is at most 30 s long

_NUMBER = rf"(?:\d+(?:\.\d+)?|{'|'.join(WORDS)}|a|an|one)"
_UNIT = r"(?:h|hrs?|hours?|min|mins|minutes?|s|secs?|seconds?)"
_CLOCK = r"\d{1,2}(?::\d{2}){1,2}"
_TIME = rf"(?:{_CLOCK}|{_NUMBER}\s*{_UNIT}\b)"
_BETWEEN = re.compile(
    rf"\b(?:between|from)\s+(?:minutes?\s+)?(?P<a>{_TIME}|{_NUMBER}(?=\s*(?:and|to|until|-)\s))\s*(?:and|to|until|-)\s*"
    rf"(?:minute\s+)?(?P<b>{_TIME}|{_NUMBER}(?!\s*\w))",
    re.I,
)
_EDGE = re.compile(
    rf"\b(?:in|during|within|over)\s+the\s+(?P<edge>first|opening|last|final|closing)\s+(?:(?P<n>{_NUMBER})\s+)?(?P<unit>{_UNIT})\b",
    re.I,
)
_AT = re.compile(rf"\b(?:at|around)\s+(?:minute\s+)?(?P<t>{_CLOCK})", re.I)
_AFTER = re.compile(rf"\b(?P<side>after|before)\s+(?:minute\s+)?(?P<t>{_CLOCK})", re.I)
_WHEN = re.compile(
    r"^\W*(?:at\s+what\s+(?:time|point|minute)|when)\s+(?:do|does|did|is|are|was|were)\s+(?:they|the\s+(?:speakers?|people|group|team|host|guests?)|we|he|"
    r"she|someone|anyone|somebody)?\s*(?:first\s+|start\s+|begin\s+|get\s+)?(?:to\s+)?(?:start\w*\s+|begin\w*\s+)?"
    r"(?:talk\w*|speak\w*|discuss\w*|mention\w*|say\w*|said|bring\w*\s+up|brought\s+up|turn\w*\s+to)?\s*(?:about\s+|of\s+)?"
    r"(?P<topic>.+?)\s*(?:first\s+)?(?:mentioned|discussed|brought\s+up|said|named|talked\s+about|come\s+up)?\s*[?.!]*$",
    re.I,
)
_GENERIC = re.compile(
    r"\b(what|which|who|whom|whose|where|when|why|how|will|would|is|are|was|were|do|does|did|be|been|the|a|an|of|in|on|at|to|for|"
    r"about|and|or|it|its|they|them|their|he|she|his|her|we|you|i|there|this|that|these|those|said|say|says|saying|"
    r"talk|talked|talking|speak|spoke|speaking|speaker|speakers|mention|mentioned|discuss|discussed|recording|audio|"
    r"clip|meeting|minutes?|seconds?|first|last|final|between|and|someone|anyone|anything|something|happen|happens|"
    r"any|all|part|during|start|starts|begin|begins)\b",
    re.I,
)


def seconds(text: str) -> float:
    """A time as written in a question, in seconds: "12:30", "1:02:03", "ten minutes", "90 s", "a minute"."""
    text = text.strip().lower()
    if ":" in text:
        value = 0.0
        for field in text.split(":"):
            value = value * 60 + int(field)
        return value
    match = re.match(rf"({_NUMBER})\s*({_UNIT})?", text, re.I)
    if match is None:
        raise ValueError(f"not a time: {text!r}")
    number, unit = match.group(1), match.group(2) or "min"
    amount = float(WORDS.index(number)) if number in WORDS else 1.0 if number in ("a", "an") else float(number)
    return amount * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1)


def time_range(question: str, duration: float) -> tuple[float, float] | None:
    """The part of a ``duration``-second recording that ``question`` asks about, in seconds, else None."""
    if (m := _BETWEEN.search(question)) is not None:
        b = m.group("b")
        a = m.group("a") if re.search(_UNIT, m.group("a")) or ":" in m.group("a") else f"{m.group('a')} {_unit_of(b)}"
        return _clamped(seconds(a), seconds(b), duration)
    if (m := _EDGE.search(question)) is not None:
        span = seconds(f"{m.group('n') or 'a'} {m.group('unit')}")
        first = m.group("edge").lower() in ("first", "opening")
        return _clamped(0.0, span, duration) if first else _clamped(duration - span, duration, duration)
    if (m := _AT.search(question)) is not None:
        moment = seconds(m.group("t"))
        return _clamped(moment - NEAR, moment + NEAR, duration)
    if (m := _AFTER.search(question)) is not None:
        moment = seconds(m.group("t"))
        return _clamped(moment, duration, duration) if m.group("side").lower() == "after" else _clamped(0.0, moment, duration)
    return None


def _unit_of(time: str) -> str:
    unit = re.search(_UNIT + r"\s*$", time, re.I)
    return unit.group(0) if unit else "min"


def _clamped(start: float, end: float, duration: float) -> tuple[float, float] | None:
    start, end = max(0.0, min(start, end)), min(duration, max(start, end))
    return (start, end) if end > start else None


def asks_when_said(question: str) -> str | None:
    """The topic of a question about when something is said ("when do they start talking about the budget?" gives
    "the budget"; "when is the party mentioned?" gives "the party"), else None. A question of when something
    happens in what is said ("when is the vet appointment?") has a topic too: it is answered with the moment that
    names it."""
    match = _WHEN.match(question)
    if match is None or not topic(match.group("topic")):
        return None
    return match.group("topic")


def topic(question: str) -> str:
    """The words of ``question`` that say what it is about, without question words, times and the words for
    speaking or for the recording: "" for "what is said in the last five minutes?"."""
    for pattern in (_BETWEEN, _EDGE, _AT, _AFTER):
        question = pattern.sub(" ", question)
    return " ".join(_GENERIC.sub(" ", re.sub(r"[^\w'$€£%.,-]+", " ", question)).split()).strip(" .,")
