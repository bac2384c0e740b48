"""The questions a compound question joins, and the speaker a question asks about by order: one reading, since a part
about "the second one" is completed from the part before it by the words that name a speaker."""

from __future__ import annotations

import itertools
import re

from copilot.errors import QuestionError

_JOINED_QUESTION = re.compile(
    r"(,|;|\band\b|\?)\s*(and\s+)?"
    r"((about|after|at|before|by|during|for|from|in|of|on|to|until|with)\s+(what|which|whom|when|where|how)\b"  # "in which month"
    r"|(what|who|whose|which|when|where|why|how|is|are|was|were|do|does|did|can|could|has|have|had|will|would)\b)",
    re.I,
)
_PER_SPEAKER = re.compile(
    r"\b(first|second|third|last|other|each|every|both)\s+(\w+\s+)?(speaker|person|voice|talker|one|man|woman)s?\b"
    r"|\bwho\s+(speaks|talks|spoke|talked|is speaking|is talking)\b|\bper speaker\b",
    re.I,
)


MAX_PARTS = 10  # a long compound question asks four or five things; a thousand parts would be a thousand LLM calls


def parts(question: str) -> list[str]:
    """The questions ``question`` asks, in order, when it joins several with a comma, "and", a semicolon or a
    question mark before a question word or auxiliary ("How many people speak, and what is the sound behind
    them?"); just ``question`` otherwise ("What do they say about bread and butter?", "Who speaks first, a man or
    a woman?"). Each part keeps the asker's words, and one about another speaker takes what it leaves out from the
    part before (`completed`).

    A question of more than `MAX_PARTS` parts is refused with a `QuestionError` that says how many it asks, not
    answered in part: each part is planned and answered with LLM calls of its own, and an answer to the first ten of
    forty questions would leave the asker to find out which were dropped."""
    cuts = [m.start() for m in _JOINED_QUESTION.finditer(question)]
    pieces = [question[a:b] for a, b in zip([0, *cuts], [*cuts, len(question)], strict=True)]
    found: list[str] = []
    for piece in pieces:
        text = re.sub(r"^[\s,;?]*(and\s+)?", "", piece, flags=re.I).strip(" ,;?")
        if len(text.split()) < 2 and found:  # too short to stand alone: it stays with the part before
            found[-1] = f"{found[-1][:-1]} {text}?"
            continue
        found.append(f"{text[:1].upper()}{text[1:]}?")
    if len(found) > MAX_PARTS:
        raise QuestionError(
            f"the question asks {len(found)} things at once, more than the {MAX_PARTS} one question may ask: "
            "ask them as separate questions"
        )
    found = [found[0], *(completed(before, part) for before, part in itertools.pairwise(found))]
    return found if len(found) > 1 else [question]


_FOLLOW_ON = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<who>.+?)\??$", re.I)


def completed(before: str, part: str) -> str:
    """``part`` with what it leaves out taken from the part ``before`` it, when it is about another speaker in the
    same words: "What about the second one?" after "Is the first voice a man's or a woman's?" is "Is the second one
    a man's or a woman's?", and "Who speaks second?" after "Who speaks first, a man or a woman?" is "Who speaks
    second, a man or a woman?". Any other part is left as it is."""
    speaker = _PER_SPEAKER.search(before)
    follow_on = _FOLLOW_ON.match(part)
    if follow_on and speaker:
        who, head = follow_on.group("who"), before[: speaker.start()]
        if re.match(r"(the|a|an|this|that|his|her|their)\b", who, re.I):
            head = re.sub(r"\b(the|a|an)\s+$", "", head, flags=re.I)
        return f"{head}{who}{before[speaker.end() :]}"
    ordinals = list(_ORDINAL.finditer(before))
    mine = [m.group(1) for m in _ORDINAL.finditer(part)]
    if speaker and len(ordinals) == 1 and len(mine) == 1:
        swapped = f"{before[: ordinals[0].start()]}{mine[0]}{before[ordinals[0].end() :]}"
        if swapped.lower().startswith(part.rstrip("?").lower()) and len(swapped) > len(part):
            return swapped
    return part


_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|last)\b", re.I)
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}


def speaker_asked(question: str) -> int | None:
    """The index, in order of first speech, of the one speaker ``question`` is about ("who speaks second": 1, "the
    last voice": -1), else None: no speaker by order, or two ("does the second speaker sound like the first?")."""
    if not asks_per_speaker(question):
        return None
    found = {m.group(1).lower() for m in _ORDINAL.finditer(question)}
    return ORDINALS[found.pop()] if len(found) == 1 else None


def asks_per_speaker(question: str) -> bool:
    """Whether ``question`` is about one speaker among several, or each in turn: "who speaks first", "the second
    speaker's gender", "each person"."""
    return bool(_PER_SPEAKER.search(question))
