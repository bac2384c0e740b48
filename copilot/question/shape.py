"""A question's shape, for plan reuse (`copilot.plans`): its own words, normalised (case, quote marks, spacing,
punctuation), with the number of clips and the number of options and which of them are numbers. The options' texts
are left out, so "Which animal is it? (a) dog (b) cow" and the same question with other animals share one shape."""

from __future__ import annotations

import unicodedata

from copilot.question.figures import read_option
from copilot.question.request import Request
from copilot.words import plain

SHAPE_VERSION = 2  # raise when `shape` changes, so that programs kept under the old shapes are not found
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})  # "speaker’s" and "speaker's" are one word to `plain`


def kind(request: Request) -> str:
    """What a question worded otherwise must share with ``request`` to borrow its program: the number of clips, and
    of options and which of them are numbers."""
    kinds = "".join("n" if read_option(option) is not None else "w" for option in request.options)
    return f"{len(request.clips)} clip(s), options [{kinds}]"


def wording(request: Request) -> str:
    """The question's own words, normalised: case, quote marks, spacing and punctuation aside."""
    return plain(unicodedata.normalize("NFKC", request.question).translate(_APOSTROPHES))


def shape(request: Request) -> str:
    """The shape of ``request``: what two questions must share for one's program to serve the other."""
    return f"{kind(request)}: {wording(request)}"
