"""Numbers a question states: an option that is a number ("about 12 seconds", "3", "10 dB", "two speakers"), and a
bound a yes/no question sets on a quantity ("more than one speaker"). Matching them to what the tools measured is the
answer stage's (`copilot.answering.matching`). What a count question counts, and whether it counts voices or people the
words tell of ("how many people were invited?"), is read here too."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], ("s", 1.0)),
    **dict.fromkeys(["ms", "millisecond", "milliseconds"], ("s", 0.001)),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], ("s", 60.0)),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], ("s", 3600.0)),
    **dict.fromkeys(["db", "decibel", "decibels"], ("dB", 1.0)),
    **dict.fromkeys(["hz", "hertz"], ("Hz", 1.0)),
    "khz": ("Hz", 1000.0),
    "lufs": ("LUFS", 1.0),
}
"""Spellings of a unit, lower case, to the unit a `Quantity` is measured in and the factor to it."""

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]

_HEDGE = r"(?:about|around|approximately|approx\.?|roughly|circa|nearly|almost|some|~|≈)"
_OPTION = re.compile(
    rf"^\s*(?:{_HEDGE}\s*)?(?P<number>[-+−]?\d+(?:\.\d+)?|(?:{'|'.join(WORDS)})\b)\s*(?P<rest>[^\d]*?)\s*[.!]?\s*$",
    re.I,
)
FIGURE = re.compile(r"\d+(?:\.\d+)?")
"""A figure written in a text: digits, with a decimal part if any."""
_NUMBER = rf"(?:\d+(?:\.\d+)?|{'|'.join(WORDS)})"
_WHAT = r"(?P<what>(?:\s+(?!(?:in|on|at|of|from|by|with|than|this|that|these|the|a|an)\b)[a-z-]+){0,3})"
_COMPARISONS = [
    (">", rf"\b(?:more|greater|higher|longer|louder|over|above)(?:\s+than)?\s+(?P<number>{_NUMBER})\b{_WHAT}"),
    ("<", rf"\b(?:fewer|less|lower|shorter|quieter|under|below)(?:\s+than)?\s+(?P<number>{_NUMBER})\b{_WHAT}"),
    (">=", rf"\bat\s+least\s+(?P<number>{_NUMBER})\b{_WHAT}"),
    ("<=", rf"\bat\s+most\s+(?P<number>{_NUMBER})\b{_WHAT}"),
    (">=", rf"\b(?P<number>{_NUMBER})\s+or\s+more\b{_WHAT}"),
    ("<=", rf"\b(?P<number>{_NUMBER})\s+or\s+(?:fewer|less)\b{_WHAT}"),
]


class NumberOption(BaseModel):
    """An option read as a number: its value in ``unit`` (None: no unit given), or a count of ``noun``s."""

    value: float
    unit: str | None = None
    noun: str | None = None


def read_option(text: str) -> NumberOption | None:
    """``text`` as a number with an optional hedge, unit and "long" ("about 12 seconds", "10 dB", "3", "two
    speakers", "1.5 s long"), else None: a range ("5 to 10 s") or a comparison ("more than 3") is not one number."""
    match = _OPTION.match(text)
    if not match:
        return None
    number = match.group("number").lower().replace("−", "-")
    value = float(WORDS.index(number)) if number in WORDS else float(number)
    rest = match.group("rest").lower().split()
    if rest and rest[-1] == "long":
        rest = rest[:-1]
    if not rest:
        return NumberOption(value=value)
    if len(rest) == 1 and rest[0] in UNITS:
        unit, factor = UNITS[rest[0]]
        return NumberOption(value=value * factor, unit=unit)
    if len(rest) == 1 and rest[0].isalpha():
        return NumberOption(value=value, noun=rest[0])
    return None


class Comparison(BaseModel):
    """A bound a yes/no question sets on a quantity: "more than one speaker" is ``>`` 1 speaker."""

    op: str
    bound: NumberOption
    text: str = Field(description="the words that set it, as the question says them")

    def holds(self, value: float) -> bool:
        bound = self.bound.value
        return {">": value > bound, "<": value < bound, ">=": value >= bound, "<=": value <= bound}[self.op]


def comparison(question: str) -> Comparison | None:
    """The one bound ``question`` sets on a number ("more than one speaker", "longer than 10 seconds", "two or more
    people", "at least 20 dB"), else None: none, or two different ones."""
    found: dict[tuple[str, float, str | None, str | None], Comparison] = {}
    for op, pattern in _COMPARISONS:
        for match in re.finditer(pattern, question, re.I):
            number, what = match.group("number"), match.group("what").split()
            bound = read_option(" ".join([number, *what[:1]])) or read_option(number)
            if bound is None:
                continue
            if bound.unit is None and what:
                bound = bound.model_copy(update={"noun": " ".join(what)})
            found[(op, bound.value, bound.unit, bound.noun)] = Comparison(op=op, bound=bound, text=match.group(0).strip())
    return next(iter(found.values())) if len(found) == 1 else None


_COUNTED = re.compile(rf"\b(?:how\s+many|number\s+of|count(?!\s+(?:the\s+)?number\b))\b(?:\s+the\b)?{_WHAT}", re.I)
_PEOPLE = re.compile(r"\b(people|persons?|participants?|individuals?)\b", re.I)
# speaking, hearing or the recording: "talk about" tells of people rather than counting the voices
_HEARD = re.compile(
    r"\b(speak|speaks|speaking|spoke|spoken|talk|talks|talking|talked|chat\w*|hear|heard|audible)\b(?!\s+about\b)"
    r"|\b(voices?|speech|conversations?|dialogues?|recording|recorded|audio|clip)\b",
    re.I,
)


def counted(question: str) -> str | None:
    """The words for what ``question`` counts, up to three after its first count word ("how many", "number of",
    "count"), stopping at a preposition or article: "different people speak" in "how many different people speak in
    the recording?", "items did" in "how many items did the second speaker propose?" (items, not speakers); the whole
    question when no word follows ("what is the speaker count?"); None when it asks for no count."""
    match = _COUNTED.search(question)
    if match is None:
        return None
    return match.group("what").strip() or question


def counts_people_told_of(question: str) -> bool:
    """Whether ``question`` counts people (people, persons, participants, individuals) and says nothing of their
    speaking or being heard, nor of the recording: "how many people were invited?" and "were more than ten people
    invited?" count people the words tell of, not voices, so no speaker count answers them; "how many people speak?",
    "how many people are in this conversation?" and "does the audio hold speech from two or more people?" count
    voices. The word for the people must be among the words counted ("how many items did the people propose?" counts
    items)."""
    bound = comparison(question)
    what = counted(question) or (bound.bound.noun if bound is not None else None)
    return what is not None and bool(_PEOPLE.search(what)) and not _HEARD.search(question)
