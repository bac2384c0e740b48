"""What a question asks about, read from its words: a quoted phrase, whether it asks what is said or about what
happens in it or about the audio itself, which speaker said something or how long each speaks, whether it is answered
yes or no (and the words that ask it), and whether it asks for an inference."""

from __future__ import annotations

import re
from bisect import bisect_right

from copilot.question.parts import asks_per_speaker

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
# a speaker named by order or label: "what did the second speaker propose?" is about what is said
_ONE_SPEAKER = re.compile(
    r"\b(?:the\s+)?(?:first|second|third|fourth|fifth|last|other)\s+(?:speaker|person|voice|talker|participant|one)s?(?:'s)?\b"
    r"|\bS\d+\b",
    re.I,
)
_WHICH_SPEAKER = re.compile(
    r"^\W*(?:who|whom|whose|which\s+(?:of\s+the\s+)?(?:speakers?|persons?|people|participants?|voices?|talkers?|one))\b",
    re.I,
)
_SPEAKER_LABEL = re.compile(r"\bS\d+\b")
_TALKS_MOST = re.compile(
    r"^\W*(?:who|which\s+(?:speaker|person|participant|voice|one))\b.*?\b(?:talk|speak)\w*\s+(?:the\s+)?"
    r"(?P<end>most|longest|more|least|shortest|less)\b(?!\s+about\b)",
    re.I,
)
_WHO_SAID = re.compile(
    r"^\W*(?:who|which\s+(?:of\s+the\s+)?(?:speakers?|persons?|people|participants?|one))\s+(?:first\s+)?"
    r"(?P<verb>(?P<will>will|is\s+going\s+to)|said|says|proposed|proposes|suggested|suggests|asked|asks|promised"
    r"|promises|mentioned|mentions|offered|offers|recommended|recommends|announced|announces|agreed|agrees|objected"
    r"|objects|complained|complains|argued|argues|raised|raises|brought\s+up|(?:talked|talks|spoke|speaks)\s+about)\b"
    r"\s*(?P<topic>.*?)[\s?.!]*$",
    re.I,
)
# "how long does each person speak?" needs all three: not "how much does each expedition cost?"
_HOW_LONG = re.compile(r"\bhow\s+(?:long|much\s+time)\b|\b(?:speaking|talking)\s+times?\b", re.I)
_EACH_ONE = re.compile(r"\b(?:each|every|per)\s+(?:speaker|person|participant|voice|talker|one)\b|\beach\s+of\s+them\b", re.I)
_SPEAKING = re.compile(r"\b(?:speak|talk)\w*|\bspoke\b", re.I)
_TEXT_NOUN = re.compile(r"\b(terms?|phrases?|names?|expressions?|sentences?|keywords?)\b", re.I)
_YES_NO = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)
_NEGATION = re.compile(r"\b(no|not|none|nothing|nobody|without|never|free)\b|n't\b", re.I)
# ", or not", " yes or no"; it starts at a comma or at the first of the spaces, so a long run of spaces is tried once
_HOW_TO_ANSWER = re.compile(r"(?:,|(?<![\s,]))\s*\b(?:yes\s+)?or\s+(?:not|no)\b", re.I)
_ALTERNATIVES = re.compile(r"\bor\b", re.I)  # "a man or a woman?" asks which one
_INFERENCE = re.compile(
    r"\b(infer|guess|likely|possibly|probably|doing|activity|scenario|situation|going on|happening)\b", re.I
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


def asks_about_the_audio(question: str) -> bool:
    """Whether ``question`` names the audio itself (a sound, a voice, speaking, the recording, its length, language,
    loudness or tone), leaving aside a speaker it names by order or label: "who talks the most?" and "what is the
    speaker's gender?" do; "on which street is the office?" and "what did the second speaker propose?" do not, and on
    a long recording can only be answered from a transcript."""
    return bool(_ABOUT_THE_AUDIO.search(without_one_speaker(question)))


def without_one_speaker(question: str) -> str:
    """``question`` with a speaker it names by order or label taken out: "What did  propose?" for "What did the
    second speaker propose?"."""
    return _ONE_SPEAKER.sub(" ", question)


def speaker_label(question: str) -> str | None:
    """The speaker label ``question`` names, as diarization writes them ("what does S2 say?": "S2"), if just one."""
    found = set(_SPEAKER_LABEL.findall(question))
    return found.pop() if len(found) == 1 else None


def asks_which_speaker(question: str) -> bool:
    """Whether ``question`` asks which person said or did something, or about one speaker or each ("who proposed the
    library?", "which speaker mentions Elm Road?", "what did the second speaker propose?", "what does S2 say?", "how
    long does each person speak?"): what diarization tells apart."""
    return bool(_WHICH_SPEAKER.match(question) or asks_per_speaker(question) or _SPEAKER_LABEL.search(question))


def asks_who_said(question: str) -> tuple[str, bool] | None:
    """What ``question`` asks which speaker said, and whether it asks who will do it ("who proposed opening a second
    office?": ("proposed opening a second office", False); "who will send the plans?": ("will send the plans",
    True)), else None: a question of another verb ("who is the director?"), or with nothing after its verb."""
    match = _WHO_SAID.match(question)
    if match is None or not match.group("topic").strip():
        return None
    return f"{match.group('verb')} {match.group('topic')}", match.group("will") is not None


def speaking_time_asked(question: str) -> str | None:
    """What ``question`` asks of the speakers' speaking times: "most" ("who talks the most?", "which speaker speaks
    longest?"), "least" ("who talks the least?") or "each" ("how long does each person speak?"), else None."""
    if (most := _TALKS_MOST.match(question)) is not None:
        return "most" if most.group("end").lower() in ("most", "longest", "more") else "least"
    each = _HOW_LONG.search(question) and _EACH_ONE.search(question) and _SPEAKING.search(question)
    return "each" if each else None


def what_is_asked(question: str) -> str:
    """The question's first sentence, without an "or not" or "yes or no" that only says how to answer."""
    return _HOW_TO_ANSWER.sub("", question.split("?", 1)[0])


def asks_yes_or_no(question: str) -> bool:
    """Whether ``question`` is answered yes or no: "Is there a dog?", not "Is the speaker a man or a woman?"."""
    asked = what_is_asked(question)
    return bool(_YES_NO.match(asked)) and not offers_alternatives(asked)


def offers_alternatives(text: str) -> bool:
    """Whether ``text`` joins alternatives with "or": "a man or a woman?" asks which one."""
    return bool(_ALTERNATIVES.search(text))


def negates(text: str) -> bool:
    """Whether ``text`` negates ("is there no music?", "isn't it", "free of noise")."""
    return bool(_NEGATION.search(text))


def asks_for_inference(question: str) -> bool:
    """Whether ``question`` asks for an inference: what is likely going on, the activity or situation."""
    return bool(_INFERENCE.search(question))
