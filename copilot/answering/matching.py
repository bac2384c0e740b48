"""Matching options and questions to what the tools measured: an option a label names outright, the option nearest
to a measured quantity, and how closely a question names a quantity.

A small LLM given "Duration: 6.790 s" and the options 4, 7, 10 and 20 seconds has answered "about 20 seconds"; the
nearest option is a matter of arithmetic, so it is chosen here.
"""

from __future__ import annotations

import math
import re

from copilot.question.figures import UNITS, NumberOption, counted, counts_people_told_of
from copilot.tool import Quantity
from copilot.words import says, stems

RATIO_UNITS = {"s", "Hz"}
"""Units of quantities compared by their ratio (log scale): a duration or a frequency. dB and LUFS are logarithmic
already, and counts are compared by difference."""


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def match_option(options: list[str], labels: list[str]) -> int | None:
    """The index of the option that a tool's label names outright (``female`` -> ``(b) Female``), else None.

    ``labels`` come likeliest first, so when several options are named the likeliest label's option wins.
    """
    positions = {normalise(option): i for i, option in reversed(list(enumerate(options)))}
    return next((positions[n] for n in map(normalise, labels) if n in positions), None)


def compares(bound: NumberOption, quantity: Quantity) -> bool:
    """Whether a question's ``bound`` is on ``quantity``: its unit ("10 seconds" on a duration), or, for a count,
    a noun the quantity is named by ("one speaker" on the number of speakers)."""
    return (bound.unit is not None or bound.noun is not None) and fits(bound, quantity)


def named(question: str, quantity: Quantity) -> int:
    """How specifically ``question`` names ``quantity``: the words of the longest of its terms the question says (in
    any inflection), else 1 when it asks for a number of the quantity's unit ("how many seconds ...?" asks for a
    duration, an RT60 or any other time), else 0. A count must be asked for as one ("how many", "number of"), and is
    named by the words counted (`counted`: "how many items did the speakers propose?" names no speaker count), never
    by people the words tell of (`counts_people_told_of`: "how many people were invited?")."""
    if not quantity.unit:
        what = counted(question)
        return 0 if what is None or counts_people_told_of(question) else closeness(stems(what), quantity)
    said = stems(question)
    closest = closeness(said, quantity)
    if not closest:
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
