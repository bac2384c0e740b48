"""What a question asks about, read from its words: a quoted phrase, whether it asks what is said, whether it may ask
which several things it asks at once, and whether it asks about one speaker among several."""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right

from copilot.config import Settings
from copilot.errors import QuestionError

# each opening quote mark and the marks that close it; an apostrophe opens a quote only outside a word
_CLOSERS = {'"': '"', "“": "”", "„": "“”", "‘": "’", "«": "»", "'": "'"}
_OPENER = re.compile("[" + "".join(_CLOSERS) + "]")
_WORD = re.compile(r"\w")
_SAYING = re.compile(
    r"(?<!\byou )\b(say|says|said|saying|mention|mentions|mentioned|mentioning|pronounce|pronounces|pronounced|"
    r"pronouncing|utter|utters|uttered|uttering)\b"
    r"|\bwords?\b|\btranscri\w*|\b(talk|talks|talked|talking|speak|speaks|spoke|speaking)\s+about\b"
    r"|\b(spoken|said|uttered)\s+(terms?|phrases?|names?|numbers?|sentences?)\b",
    re.I,
)
_CONTENT_QUESTION = re.compile(r"^\W*(what|which|who|whom|whose|when|where|why)\b", re.I)
_ABOUT_THE_AUDIO = re.compile(
    r"\b(sounds?|noises?|noisy|voices?|speakers?|speak\w*|spoke|talk\w*|speech|recording|recorded|audio|clips?|music"
    r"|instruments?|songs?|sing\w*|animals?|background|loud\w*|quiet|volume|long|length|duration|language|accent"
    r"|gender|emotions?|mood|feel\w*|tone|pitch|echo\w*|reverb\w*|hear|heard|listen\w*)\b",
    re.I,
)
_TEXT_NOUN = re.compile(r"\b(terms?|phrases?|names?|expressions?|sentences?|keywords?)\b", re.I)


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


def quoted(question: str) -> list[str]:
    """The phrases ``question`` quotes ("the word "tomato"", 'the term 'ice cream''), in order. An apostrophe
    inside a word (the speaker's) opens no quote."""
    return [question[start + 1 : end - 1].strip() for start, end in _quote_spans(question)]


def unquoted(question: str) -> str:
    """``question`` with each quote, marks included, replaced by a space: the asker's own words."""
    pieces, last = [], 0
    for start, end in _quote_spans(question):
        pieces += [question[last:start], " "]
        last = end
    return "".join([*pieces, question[last:]])


def _quote_spans(question: str) -> list[tuple[int, int]]:
    """Where each quote is, from its opening mark to just after its closing one: left to right, a mark opens a quote
    that its nearest closing mark ends, when they hold at least one character between them (and, for apostrophes,
    neither touches a word outside). Each mark's positions are listed once and looked up by bisection, so an
    unclosed mark repeated a hundred thousand times costs no more than one: no pattern that could backtrack."""
    marks = {mark: [m.start() for m in re.finditer(re.escape(mark), question)] for mark in "\"”“’»'"}
    spans: list[tuple[int, int]] = []
    for opener in _OPENER.finditer(question):
        start = opener.start()
        if spans and start < spans[-1][1]:
            continue  # inside the quote before
        end = min((e for mark in _CLOSERS[opener.group()] if (e := _after(marks[mark], start)) is not None), default=None)
        if end is None or end == start + 1:
            continue
        if opener.group() == "'" and (_WORD.match(question[start - 1 : start]) or _WORD.match(question, end + 1)):
            continue
        spans.append((start, end + 1))
    return spans


def _after(positions: list[int], start: int) -> int | None:
    """The first of the sorted ``positions`` after ``start``, if any."""
    i = bisect_right(positions, start)
    return positions[i] if i < len(positions) else None


def asks_what_is_said(question: str) -> bool:
    """Whether ``question`` is about what is said: a verb of saying ("does she say", "is it mentioned", "pronounce",
    "utter"), words or a transcript, what is talked about, or a quoted term or phrase. "Would you say ...", the asker's
    own saying, is not; nor is "how many people speak", which is about who speaks."""
    return bool(_SAYING.search(question)) or bool(quoted(question) and _TEXT_NOUN.search(question))


def asks_about_content(question: str) -> bool:
    """Whether ``question`` asks about what happens in what is said, with no word for the audio itself: "when is the
    vet appointment?", "where are the children going?", "what will she bring?"; not "what is the sound behind
    them?" nor "who speaks first?". Such a question can only be answered from a transcript."""
    return bool(_CONTENT_QUESTION.match(question)) and not _ABOUT_THE_AUDIO.search(question)


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
