"""Comparing texts word by word: one plain form, and whether a text says a phrase in any inflection."""

from __future__ import annotations

import re
import threading

import snowballstemmer

ARTICLES = {"a", "an", "the"}


def plain(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: the form every text comparison here uses."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


class _PerThread(threading.local):
    """One stemmer per thread: a Snowball stemmer keeps the word it works on in its own state, and both
    `bench run --workers K` and `copilot serve` work in threads."""

    def __init__(self) -> None:
        self.stemmer = snowballstemmer.stemmer("english")


_english = _PerThread()


def stems(text: str) -> list[str]:
    """The English stems of ``text``'s words, articles left out: "flying kites" gives ["fli", "kite"]."""
    return _english.stemmer.stemWords([w for w in plain(text).split() if w not in ARTICLES])


def says(said: list[str], phrase: str) -> bool:
    """Whether a text, given as its `stems`, has ``phrase``'s words in a row, in any inflection: "flying kites"
    says "fly a kite", "is it raining?" says "Rain"; "a team" does not say "tea"."""
    return where(said, phrase) is not None


def where(said: list[str], phrase: str) -> int | None:
    """The word position at which a text, given as its `stems`, first says ``phrase`` (see `says`), else None."""
    wanted = stems(phrase)
    if not wanted:
        return None
    return next((i for i in range(len(said) - len(wanted) + 1) if said[i : i + len(wanted)] == wanted), None)


def akin(a: str, b: str) -> bool:
    """Whether two stems are one word's, or one derives from the other: "type" and "type" (typing, typed), "laugh" and
    "laughter"; a stem of under five letters derives nothing, so "cat" is not akin to "catch" nor "crow" to "crowd"."""
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 5 and long.startswith(short))
