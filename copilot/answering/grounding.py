"""Answers that the measurements decide, in code: an option or verdict a label names, a transcript match, the
option nearest a measured number, a bound on a number, a level's reading, one speaker's labels. The LLM is asked
only when none of these decides (`copilot.answering.compose`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from copilot.answering.matching import closeness, compares, fits, named, nearest, normalise
from copilot.answering.models import Draft
from copilot.answering.passages import LONG_CLIP, clock
from copilot.evidence import Evidence
from copilot.question.figures import FIGURE, comparison, counts_people_told_of, read_option
from copilot.question.parts import speaker_asked
from copilot.question.reading import (
    asks_what_is_said,
    negates,
    offers_alternatives,
    quoted,
    speaking_time_asked,
    unquoted,
    what_is_asked,
)
from copilot.question.request import Request
from copilot.tool import Attribute, Quantity
from copilot.words import akin, says, stems, where

_ABSENCE = re.compile(r"\b(absent|missing|lacks?|lacking|omit\w*|left out|excluded?)\b", re.I)
_ASKED_BY_NAME = (  # "which animal do you hear?", "what's that noise in the background?"; not "what is the sound quality?"
    r"^\W*(?:which|what)(?:'s|\s+is|\s+was)?\s+(?:(?:kind|sort|type)\s+of\s+)?(?:that\s+|the\s+|this\s+)?{head}s?\b"
    r"(?!\s+(?:quality|level|levels|volume|effects?|source|file|track|system|design|card|wave|pressure)\b)"
)
TRANSCRIPT_SHOWN = 240  # characters of the transcript quoted in a transcript-match answer


@dataclass(frozen=True)
class Verdict:
    """A yes or no that a measurement gives, with the measurement that gives it."""

    yes: bool
    reason: str
    answered_by: str

    def draft(self) -> Draft:
        """The verdict as an open answer: "Yes. <reason>"."""
        return Draft(text=f"{'Yes' if self.yes else 'No'}. {self.reason}", answered_by=self.answered_by)

    def pick(self, request: Request) -> Draft:
        """The verdict as the yes or the no option of ``request``."""
        index = [normalise(o) for o in request.options].index("yes" if self.yes else "no")
        return Draft(text=f"{request.lettered[index]}. {self.reason}", choice=index, answered_by=self.answered_by)


def for_the_speaker_asked(question: str, evidence: list[Evidence]) -> list[Evidence]:
    """``evidence`` with the labels of a speaker-by-speaker output narrowed to the speaker ``question`` asks about by
    order, when it asks about one and the output has them. A speaker it does not have, or did not measure, leaves
    nothing to ground an answer on: no labels and no attribute."""
    index = speaker_asked(question)
    if index is None:
        return evidence
    def narrowed(e: Evidence) -> Evidence:
        speakers = e.findings.by_speaker
        labels = speakers[index] if -len(speakers) <= index < len(speakers) else []
        attribute = e.findings.attribute if labels else None
        return e.model_copy(update={"findings": e.findings.model_copy(update={"labels": labels, "attribute": attribute})})

    return [narrowed(e) if e.findings.by_speaker else e for e in evidence]


def yes_or_no_from_labels(question: str, evidence: list[Evidence]) -> Verdict | None:
    """The verdict the tools' labels give when the question names one: yes for a sound heard ("is it raining?":
    Rain) or a closed-set property's measured value ("is the speaker female?": female; "is there an echo?":
    reverberant, through the attribute's `terms`), no for another value of that property ("is there a cat?" when
    the animal heard is a dog), and no for a sound the tool can name but did not ("can you hear rain?" when only
    speech and music were tagged). When the question names two values ("is there noise, or is it clean?"), yes stands
    for the first. None when the question names no label or value, or negates ("is there no music?", "free of
    noise"), which is left to the LLM.

    A small model given "Rain (0.95)" still answered "is it raining?" with no now and then, and given "dry", called
    the speech reverberant.
    """
    asked = what_is_asked(question)
    if negates(asked):
        return None
    said = stems(asked)
    for e in evidence:
        if e.findings.attribute is None or e.error:
            continue
        positions = _named_values(said, e.findings.attribute)
        if positions:
            first = min(positions, key=positions.__getitem__)
            values = _values(e.findings.attribute, e.findings.labels)
            top = values[0] if values else None
            measured = f"{e.findings.attribute.name}: {top}" if top else f"no {e.findings.attribute.name}"
            return Verdict(top is not None and normalise(top) == first, f"The {e.tool} tool measured {measured}.", "label match")
    heard = next(((label, e) for e in evidence if not e.error for label in e.findings.labels if says(said, label)), None)
    if heard is not None:
        if _presumed(asked, heard[0]):  # "is the speech clear?" asks about the speech, not whether there is any
            return None
        return Verdict(True, f"The {heard[1].tool} tool measured {heard[0]}.", "label match")
    missing = next(((name, e) for e in evidence if not e.error for name in e.findings.vocabulary if says(said, name)), None)
    if missing is not None:
        name, e = missing
        listed = ", ".join(e.findings.labels[:5]) or "nothing"
        return Verdict(False, f"The {e.tool} tool did not detect {name}; it detected {listed}.", "label match")
    return None


def _presumed(asked: str, label: str) -> bool:
    """Whether a question takes the thing a label names as given and asks about it ("is the speech clear?"), rather
    than asking whether it is there ("is there speech?")."""
    return re.search(rf"\bthe\s+{re.escape(label.lower())}", asked.lower()) is not None


def _named_values(said: list[str], attribute: Attribute) -> dict[str, int]:
    """The values of ``attribute`` that a question (given as its `stems`) names, by themselves or by one of their
    `terms`, each with the word position it is first named at."""
    positions = {}
    for value in attribute.values:
        at = [i for term in [value, *attribute.terms.get(value, [])] if (i := where(said, term)) is not None]
        if at:
            positions[normalise(value)] = min(at)
    return positions


def alternative_from_labels(question: str, evidence: list[Evidence]) -> Draft | None:
    """The measured value, when the question asks which of two or more values of a measured attribute holds ("is it
    a man or a woman speaking?": male; "is the speech reverberant or dry?"), and the likeliest label is one of them.
    None otherwise (no labels: the speakers' genders differ, say), which is left to the LLM.

    In a compound question a small model answered "is it a man or a woman speaking?" with "Yes"."""
    asked = what_is_asked(question)
    if not offers_alternatives(asked) or negates(asked):
        return None
    said = stems(asked)
    for e in evidence:
        if e.findings.attribute is None or e.error or len(named := _named_values(said, e.findings.attribute)) < 2:
            continue
        values = _values(e.findings.attribute, e.findings.labels)
        if values and normalise(values[0]) in named:
            top = values[0]
            return Draft(text=f"{top[:1].upper()}{top[1:]}. The {e.tool} tool measured {e.findings.attribute.name}: {top}.", answered_by="label match")
    return None


def value_asked(question: str, evidence: list[Evidence]) -> Draft | None:
    """The likeliest measured value of a thing the question asks for by name: an attribute ("which animal do you
    hear?", "what language is spoken?") or what a tool names outright ("what's that noise in the background?": the
    tagger's likeliest sound), else None. A question that only mentions it ("what does the animal eat?", "what is
    the sound quality like?") is the LLM's.

    Given "Cattle, bovinae (0.99), Moo (0.99)", a small model answered "which animal do you hear?" with "Sheep", and
    given an SNR beside "Applause (0.91)", "what's that noise?" with "the background is noisy".
    """
    asked = [(a.name, values[0], e.tool) for e in evidence for a, values in measured_attributes([e])]
    asked += [(name, value, e.tool) for e in evidence if not e.error for name, value in e.findings.named_values.items()]
    for name, value, tool in asked:
        head = f"(?:{re.escape(name)}|{re.escape(name.rsplit(' ', 1)[-1])})"  # "the spoken language" or "the language"
        if re.match(_ASKED_BY_NAME.format(head=head), question, re.I):
            return Draft(text=f"{value[:1].upper()}{value[1:]}. The {tool} tool measured the {name}: {value}.", answered_by="label match")
    return None


def measured_reading(question: str, evidence: list[Evidence]) -> Draft | None:
    """The measured value of the one quantity the question names, when it is a count ("how many people talk?") or a
    level with a reading against stated references ("how loud is it?": -35.0 LUFS, quiet, well below broadcast
    level (EBU R 128 ...)); else None. Other quantities (a duration) are worded by the LLM.

    A small model given "-35.0 LUFS: quiet, well below broadcast level" has called the recording very loud, and given
    "Speakers: 1", written "Two people talk".
    """
    picked = _most_named([(named(question, q), e, q) for e in evidence if not e.error for q in e.findings.quantities if q.reading or not q.unit])
    if picked is None:
        return None
    e, q = picked
    value = f"{round(q.value, 1):g}{f' {q.unit}' if q.unit else ''}"
    reading = f", {q.reading}" if q.reading else ""
    return Draft(text=f"The {e.tool} tool measured the {q.name}: {value}{reading}.", answered_by="measured number")


def measured_open_answer(question: str, evidence: list[Evidence]) -> Draft | None:
    """The answer a measured label or reading gives to a question that is not a yes/no one, else None
    (`alternative_from_labels`, `value_asked`, `measured_reading`)."""
    return alternative_from_labels(question, evidence) or value_asked(question, evidence) or measured_reading(question, evidence)


def speaking_times(request: Request, evidence: list[Evidence]) -> Draft | None:
    """Who talks the most or the least, or how long each speaker talks (`speaking_time_asked`), from the speaking
    times of the one diarization of a recording longer than `LONG_CLIP`: "S2 talks the most: 5:12 of speech (312.4 s).
    Speaking time: S2 5:12 (312.4 s), S1 3:40 (220.0 s)." None for another question, no such diarization or two, or
    a shorter clip (left to the LLM, as before). The speakers are diarization's S1, S2, ... in order of first speech;
    it cannot tell their names, and a speaker it merged with another is counted with that one."""
    from copilot.tools.diarization import DiarizationOutput

    asked = speaking_time_asked(request.question)
    found = [e for e in evidence if e.tool == "diarization" and not e.error and e.output]
    if asked is None or len(found) != 1 or request.clips.get(found[0].args.get("audio", "audio1"), 0.0) <= LONG_CLIP:
        return None
    spoken = DiarizationOutput.model_validate(found[0].output).speaking_time
    times = sorted(((t.speaker, t.duration) for t in spoken), key=lambda t: -t[1])
    if not times:
        return Draft(text="Nobody speaks: the diarization tool found no speech.", answered_by="speaking time")
    listed = "Speaking time: " + ", ".join(f"{who} {clock(seconds)} ({seconds:.1f} s)" for who, seconds in times) + "."
    if asked == "each":
        return Draft(text=listed, answered_by="speaking time")
    who, seconds = times[0] if asked == "most" else times[-1]
    return Draft(text=f"{who} talks the {asked}: {clock(seconds)} of speech ({seconds:.1f} s). {listed}", answered_by="speaking time")


def yes_or_no_from_number(question: str, evidence: list[Evidence]) -> Verdict | None:
    """Yes or no to a bound the question sets on a measured quantity ("is there more than one speaker?", "is it
    longer than 10 seconds?"), by arithmetic. None when the question sets no bound, or several, or negates, or when
    no measured quantity or two equally named ones fit the bound; a count is not bound by people the words tell of
    ("were more than ten people invited?", `counts_people_told_of`).

    A small model given "Speakers: 1" has answered "is there more than one speaker?" with yes.
    """
    asked = what_is_asked(question)
    bound = comparison(asked)
    if bound is None or negates(asked.replace(bound.text, " ")):
        return None
    said, told_of = stems(asked), counts_people_told_of(asked)
    found = [
        (closeness(said, q), e, q) for e in evidence if not e.error for q in e.findings.quantities
        if compares(bound.bound, q) and (q.unit or not told_of)
    ]
    picked = _most_named(found, unnamed=True)
    if picked is None:
        return None
    e, q = picked
    holds = bound.holds(q.value)
    value = f"{round(q.value, 2):g}{f' {q.unit}' if q.unit else ''}"
    return Verdict(holds, f"The {e.tool} tool measured the {q.name}: {value}, {'' if holds else 'not '}{bound.text}.", "measured number")


def measured_yes_or_no(question: str, evidence: list[Evidence]) -> Verdict | None:
    """Yes or no as a measured label or number gives it, else None (`yes_or_no_from_labels`, `yes_or_no_from_number`)."""
    return yes_or_no_from_labels(question, evidence) or yes_or_no_from_number(question, evidence)


def yes_no_option(request: Request, evidence: list[Evidence]) -> Draft | None:
    """The yes or the no option, when those are the options and a measured label or number gives the verdict."""
    if not _offers_yes_and_no(request):
        return None
    verdict = measured_yes_or_no(request.question, evidence)
    return verdict.pick(request) if verdict else None


def _offers_yes_and_no(request: Request) -> bool:
    return sorted(normalise(o) for o in request.options) == ["no", "yes"]


def option_named(request: Request, evidence: list[Evidence]) -> Draft | None:
    """The one option that names a finding in its own words, when no option is a label itself: "keyboard typing" for
    the tagger's Typing, "laughing" for Laughter, "barking" for Bark (`copilot.words.akin`: the finding's head word,
    in any inflection or derivation). The likeliest finding that names any option decides, and it must name just one.

    Given "Typing (1.00), Computer keyboard (0.95)", a small model chose "crying baby" over "keyboard typing".
    """
    said = [stems(option) for option in request.options]
    for e, label in _asserted_labels(evidence):
        words = stems(re.sub(r"\(.*?\)", " ", label))  # "Zipper (clothing)": the zipper
        if not words:
            continue
        named = [i for i, option in enumerate(said) if any(akin(words[-1], word) for word in option)]
        if len(named) > 1:
            return None
        if named:
            i = named[0]
            return Draft(text=f"{request.lettered[i]}. The {e.tool} tool measured {label}.", choice=i, answered_by="label match")
    return None


def _asserted_labels(evidence: list[Evidence]) -> Iterator[tuple[Evidence, str]]:
    """Each tool's labels, likeliest first, but of a closed set only its likeliest value: the rest are alternatives
    it judged less likely ("happy" when the emotion measured is angry), not things it found."""
    for e in evidence:
        if e.error:
            continue
        values = [normalise(value) for value in _values(e.findings.attribute, e.findings.labels)] if e.findings.attribute else []
        unlikelier = set(values) - set(values[:1])
        yield from ((e, label) for label in e.findings.labels if normalise(label) not in unlikelier)


def transcript_match(request: Request, evidence: list[Evidence]) -> Draft | None:
    """Yes or no to whether the phrase a question quotes is said ("does the speaker say the word "tomato"?"), from
    the transcript, matched in any inflection as JASCO's keyword hits are (`copilot.words.says`): a yes/no question
    (or yes and no as its options) about what is said, one quoted phrase, and the asr tool's transcript of one clip.
    None otherwise, or when the question negates ("is the word "x" not said?", "absent"), which the LLM answers.

    A small model given a transcript that holds the word has answered "no, it is not said".
    """
    if request.options and not _offers_yes_and_no(request):
        return None
    phrases = quoted(request.question)
    own_words = unquoted(what_is_asked(request.question))
    if len(phrases) != 1 or not asks_what_is_said(request.question) or negates(own_words) or _ABSENCE.search(own_words):
        return None
    heard = [e for e in evidence if e.tool == "asr" and not e.error and e.output is not None]
    if not heard or len({e.args.get("audio", "audio1") for e in heard}) > 1:
        return None  # no transcript, or one per clip: which clip the question means is the LLM's to read
    transcript = " ".join(str((e.output or {}).get("text", "")).strip() for e in heard).strip()
    phrase = phrases[0]
    said = says(stems(transcript), phrase)
    shown = transcript if len(transcript) <= TRANSCRIPT_SHOWN else f"{transcript[:TRANSCRIPT_SHOWN].rsplit(' ', 1)[0]} ..."
    if not transcript:
        reason = f'No speech was recognised, so "{phrase}" is not said.'
    else:
        reason = f'The transcript {"says" if said else "does not say"} "{phrase}": "{shown}"'
    verdict = Verdict(said, reason, "transcript match")
    return verdict.pick(request) if request.options else verdict.draft()


def measured_number(request: Request, evidence: list[Evidence]) -> Draft | None:
    """The option nearest to a measured number, when every option is a number ("about 12 seconds", "3", "10 dB")
    and the question names exactly one quantity the tools measured in the options' unit ("how long ...": the
    duration; "how many speakers ...": the number of speakers). Durations and frequencies are compared by ratio: 4,
    7, 10 and 20 seconds are spaced by ratios, and an estimate of a length errs in proportion to it. None when an
    option is not a number, when no measured quantity or two are named, or when two options are equally near.

    A small model given "Duration: 6.790 s" has answered "about 12 seconds", and given "Speakers: 1", "3".
    """
    numbers = [read_option(option) for option in request.options]
    options = [n for n in numbers if n is not None]
    if len(options) < len(numbers):
        return None
    # "reverberation time" names RT60 more closely than "how long" a duration
    found = [(named(request.question, q), e, q) for e in evidence if not e.error for q in e.findings.quantities]
    picked = _most_named([(n, e, q) for n, e, q in found if all(fits(o, q) for o in options)])
    if picked is None:
        return None
    e, q = picked
    index = nearest(options, q)
    if index is None:
        return None
    value = f"{round(q.value, 2):g}{f' {q.unit}' if q.unit else ''}"
    text = f"{request.lettered[index]}. The {e.tool} tool measured the {q.name}: {value}; the nearest option is {request.options[index]}."
    return Draft(text=text, choice=index, answered_by="measured number")


def _most_named(found: list[tuple[int, Evidence, Quantity]], unnamed: bool = False) -> tuple[Evidence, Quantity] | None:
    """The quantity a question names most closely, from (closeness, evidence, quantity) triples; the same measurement
    given twice (by two steps) counts once. None when two differ at the top, or when none is named at all, unless
    ``unnamed`` lets the only candidate stand (a bound that fits one quantity alone)."""
    most = max((n for n, _, _ in found), default=0)
    if not found or not (most or unnamed):
        return None
    chosen = {(q.name, q.value, q.unit): (e, q) for n, e, q in found if n == most}
    return next(iter(chosen.values())) if len(chosen) == 1 else None


def measured_attributes(evidence: list[Evidence]) -> list[tuple[Attribute, list[str]]]:
    """Each closed-set attribute measured, with its values heard, likeliest first."""
    return [(e.findings.attribute, values) for e in evidence if e.findings.attribute and not e.error and (values := _values(e.findings.attribute, e.findings.labels))]


def attribute_named(question: str, evidence: list[Evidence]) -> tuple[Attribute, list[str]] | None:
    """The measured closed-set attribute ``question`` names, with its values heard, likeliest first: by its head noun,
    since a question about the "spoken language" may just say "the language"."""
    said = stems(question)
    return next(((a, values) for a, values in measured_attributes(evidence) if says(said, a.name.rsplit(" ", 1)[-1])), None)


def _values(attribute: Attribute, labels: list[str]) -> list[str]:
    """The ``labels`` that are values of ``attribute``, likeliest first: "Cat", not "Animal" or "Silence"."""
    known = {normalise(value) for value in attribute.values}
    return [label for label in labels if normalise(label) in known]


def ground_numbers(text: str, request: Request, evidence: list[Evidence], quoted: list[str] | None = None) -> str:
    """``text``, followed by the tools' own facts (or the ``quoted`` ones in their place, a step's each) when it
    states a figure that neither a tool nor the question gave.

    The LLM is told to copy figures; this keeps an answer honest when it rounds, sums or invents one.
    """
    sources = [request.question, *(e.findings.facts for e in evidence), *(json.dumps(e.output) for e in evidence if e.output)]
    known = set(FIGURE.findall(" ".join(sources)))
    if all(n in known for n in FIGURE.findall(text)):
        return text
    facts = quoted if quoted is not None else [e.findings.facts for e in evidence]
    return f"{text} (measured by the tools: {'; '.join(f for f in facts if f)})"
