"""What a question asks about, read from its words: a quoted phrase, and whether it asks what is said."""

from __future__ import annotations

import re

QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“”]+)[“”]|‘([^’]+)’|«\s*([^»]+?)\s*»|(?<!\w)\'([^\']+)\'(?!\w)')
_SAYING = re.compile(
    r"(?<!\byou )\b(say|says|said|saying|mention|mentions|mentioned|mentioning|pronounce|pronounces|pronounced|"
    r"pronouncing|utter|utters|uttered|uttering)\b"
    r"|\bwords?\b|\btranscri\w*|\b(talk|talks|talked|talking|speak|speaks|spoke|speaking)\s+about\b"
    r"|\b(spoken|said|uttered)\s+(terms?|phrases?|names?|numbers?|sentences?)\b",
    re.I,
)
_TEXT_NOUN = re.compile(r"\b(terms?|phrases?|names?|expressions?|sentences?|keywords?)\b", re.I)


def quoted(question: str) -> list[str]:
    """The phrases ``question`` quotes ("the word "tomato"", 'the term 'ice cream''), in order. An apostrophe
    inside a word (the speaker's) opens no quote."""
    return [next(g for g in m.groups() if g).strip() for m in QUOTED.finditer(question) if any(m.groups())]


def asks_what_is_said(question: str) -> bool:
    """Whether ``question`` is about what is said: a verb of saying ("does she say", "is it mentioned", "pronounce",
    "utter"), words or a transcript, what is talked about, or a quoted term or phrase. "Would you say ...", the asker's
    own saying, is not; nor is "how many people speak", which is about who speaks."""
    return bool(_SAYING.search(question)) or bool(quoted(question) and _TEXT_NOUN.search(question))
