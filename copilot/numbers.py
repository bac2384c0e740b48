"""Options that are numbers ("about 12 seconds", "3", "10 dB"), and the option nearest to a measured quantity.

A small LLM given "Duration: 6.790 s" and the options 4, 7, 10 and 20 seconds has answered "about 20 seconds"; the
nearest option is a matter of arithmetic, so it is chosen here.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, Field

from copilot.tool import Quantity
from copilot.words import says, stems

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

RATIO_UNITS = {"s", "Hz"}
"""Units of quantities compared by their ratio (log scale): a duration or a frequency. dB and LUFS are logarithmic
already, and counts are compared by difference."""

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]

_HEDGE = r"(?:about|around|approximately|approx\.?|roughly|circa|nearly|almost|some|~|≈)"
_OPTION = re.compile(
    rf"^\s*(?:{_HEDGE}\s*)?(?P<number>[-+−]?\d+(?:\.\d+)?|(?:{'|'.join(WORDS)})\b)\s*(?P<rest>[^\d]*?)\s*[.!]?\s*$",
    re.I,
)
FIGURE = re.compile(r"\d+(?:\.\d+)?")
"""A figure written in a text: digits, with a decimal part if any."""
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b", re.I)
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


class Comparison(BaseModel):
    """A bound a yes/no question sets on a quantity: "more than one speaker" is ``>`` 1 speaker."""

    op: str
    bound: NumberOption
    text: str = Field(description="the words that set it, as the question says them")

    def holds(self, value: float) -> bool:
        bound = self.bound.value
        return {">": value > bound, "<": value < bound, ">=": value >= bound, "<=": value <= bound}[self.op]


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


def compares(bound: NumberOption, quantity: Quantity) -> bool:
    """Whether a question's ``bound`` is on ``quantity``: its unit ("10 seconds" on a duration), or, for a count,
    a noun the quantity is named by ("one speaker" on the number of speakers)."""
    return (bound.unit is not None or bound.noun is not None) and fits(bound, quantity)


def named(question: str, quantity: Quantity) -> int:
    """How specifically ``question`` names ``quantity``: the words of the longest of its terms the question says (in
    any inflection), else 1 when it asks for a number of the quantity's unit ("how many seconds ...?" asks for a
    duration, an RT60 or any other time), else 0. A count must be asked for as one ("how many", "number of")."""
    if not quantity.unit and not _COUNT.search(question):
        return 0
    said = stems(question)
    closest = closeness(said, quantity)
    if not closest and quantity.unit:
        spellings = [s for s, (unit, _) in UNITS.items() if unit == quantity.unit and len(s) > 2]
        closest = int(any(says(said, f"how many {spelling}") for spelling in spellings))
    return closest


def closeness(said: list[str], quantity: Quantity) -> int:
    """The words of the longest of ``quantity``'s terms that a text, given as its `stems`, says; 0 when it says none."""
    return max((len(stems(term)) for term in quantity.terms if says(said, term)), default=0)


def fits(option: NumberOption, quantity: Quantity) -> bool:
    """Whether ``option`` can be a value of ``quantity``: the same unit (or none given), or a count of what it counts."""
    if option.noun is not None:
        return not quantity.unit and any(says(stems(option.noun), term) for term in quantity.terms)
    return option.unit is None or option.unit == quantity.unit


def nearest(options: list[NumberOption], quantity: Quantity) -> int | None:
    """The index of the option nearest to ``quantity``'s value, by ratio for durations and frequencies and by
    difference otherwise; None when two options are equally near."""
    ratio = quantity.unit in RATIO_UNITS and quantity.value > 0 and all(o.value > 0 for o in options)
    distances = [abs(math.log(o.value / quantity.value)) if ratio else abs(o.value - quantity.value) for o in options]
    best = min(distances)
    winners = [i for i, d in enumerate(distances) if math.isclose(d, best, rel_tol=1e-9, abs_tol=1e-12)]
    return winners[0] if len(winners) == 1 else None
