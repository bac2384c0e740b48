"""The request: a question about one or two clips, its options read from its text, and the length limit every
question is held to before anything reads it."""

from __future__ import annotations

import re
import string

from pydantic import BaseModel, Field

from copilot.config import Settings
from copilot.errors import QuestionError

_LETTER = re.compile(r"\(([a-z])\)\s*")  # opens an option
_NEXT_LETTER = re.compile(r"\([a-z]\)(?=\s|\Z)")  # ends the option before it, with the spaces before it


class Request(BaseModel):
    """A question about one or two clips; ``options`` makes it multiple choice."""

    question: str
    options: list[str] = Field(default_factory=list, description="option texts, lettered (a), (b), ... in order")
    clips: dict[str, float] = Field(default_factory=dict, description="clip name -> duration in seconds")

    @classmethod
    def from_text(cls, question: str, clips: dict[str, float], options: list[str] | None = None) -> Request:
        """A request whose options, when not given, are read from ``(a) ... (b) ...`` inside the question; a question
        over the length limit is refused (`check_length`) before it is read."""
        check_length(question)
        if options is None:
            stem, options = split_options(question)
            question = stem if options else question
        return cls(question=question.strip(), options=options, clips=clips)

    @property
    def letters(self) -> list[str]:
        return list(string.ascii_lowercase[: len(self.options)])

    @property
    def lettered(self) -> list[str]:
        """The options as listed: ``(a) Female``."""
        return [f"({letter}) {text}" for letter, text in zip(self.letters, self.options, strict=True)]

    def option_text(self) -> str:
        return " ".join(self.lettered)


def check_length(question: str, limit: int | None = None) -> None:
    """Refuse a question longer than ``limit`` characters (default: the ``max_question_chars`` setting,
    ``SPEECH_COPILOT_MAX_QUESTION``) with a `QuestionError`, before anything reads it. `Request.from_text` calls it,
    so every question `Copilot.ask` takes is held to it; a server can call it before it decodes the clips. It bounds
    what reading a question costs; it cannot tell a long question from a padded one."""
    limit = Settings.from_env().max_question_chars if limit is None else limit
    if len(question) > limit:
        raise QuestionError(
            f"the question is {len(question)} characters long, above the {limit} character limit "
            "(raise SPEECH_COPILOT_MAX_QUESTION)"
        )


def split_options(question: str) -> tuple[str, list[str]]:
    """The question's stem and its options, when it lists them as ``(a) ... (b) ...``."""
    first = re.search(r"\(a\)\s", question + " ")
    if not first:
        return question, []
    found = _lettered(question[first.start() :])
    options = [text.strip().rstrip(".;,") for _, text in found]
    letters = [letter for letter, _ in found]
    if len(options) < 2 or letters != list(string.ascii_lowercase[: len(letters)]):
        return question, []
    return question[: first.start()].strip(), options


def _lettered(text: str) -> list[tuple[str, str]]:
    """Each ``(x) option`` in ``text``, as (letter, option), left to right. An option starts after its letter and the
    spaces that follow it (at the last of them when nothing else does) and ends at the spaces before the next letter
    that a space or the end follows, else at the end of ``text`` (before a last newline). A scan with one search for
    each letter and no pattern that could backtrack, so its time grows with the length of ``text``, not its square."""
    found: list[tuple[str, str]] = []
    pos = 0
    while letter := _LETTER.search(text, pos):
        start = letter.end()
        if start == len(text):
            if start == letter.end(1) + 1:  # nothing after the letter: no option
                break
            start -= 1
        end = _option_end(text, start + 1)
        found.append((letter.group(1), text[start:end]))
        pos = end
    return found


def _option_end(text: str, lo: int) -> int:
    """Where the option that runs to at least ``lo`` ends: before the spaces before the next letter, else at the end."""
    following = _NEXT_LETTER.search(text, lo)
    if following:
        return lo + len(text[lo : following.start()].rstrip())
    return len(text) - 1 if text.endswith("\n") and len(text) - 1 >= lo else len(text)
