"""The parts of a long transcript that bear on a question, for an answer prompt its whole transcript does not fit.

The `asr` step's timed segments (each with its speaker when a `diarization` step ran on the same clip, joined as
`copilot.transcript` joins them) are ranked by hybrid retrieval: the MiniLM cosine between the question's topic and
each segment (`copilot.sentences`) fused by reciprocal rank with lexical BM25 (`bm25s`); each hit is shown with the
segments around it, one line a segment with its time and speaker ("[17:42] S2: ..."), in time order, until the
budget is spent. A question that names a part of the recording ("between 10:00 and 12:00") sees that part only, and
one that names a speaker by order or label ("what did the second speaker propose?") that speaker's segments only.

It finds what is said in other words or the same words; it cannot find what the transcript lacks (words Whisper
missed), and it ranks segments, not arguments spread over many minutes: a summary of the whole recording is not its
job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from copilot.answering.models import Draft
from copilot.evidence import Evidence
from copilot.question.parts import speaker_asked
from copilot.question.reading import asks_which_speaker, asks_who_said, speaker_label, without_one_speaker
from copilot.question.request import Request
from copilot.question.times import asks_when_said, time_range, topic
from copilot.transcript import TranscriptSegment, joined
from copilot.words import stems

LONG_CLIP = 30.0  # seconds: a clip longer than one Whisper window; the benchmarks' clips are not, and are left as they were
MIN_COSINE = 0.3  # MiniLM: a question and the sentence that answers it measured 0.53-0.65, unrelated sentences <= 0.23
MIN_COSINE_SHARED = 0.2  # ... or this much, with a word of the question in common (BM25 above 0)
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)
CONTEXT = 1  # segments shown either side of a hit
TOP = 8  # hits shown at most, best first, while the budget lasts


@dataclass
class Hit:
    index: int  # of the segment
    cosine: float
    lexical: float


@dataclass
class Passages:
    """The transcript lines an answer prompt shows in place of the `asr` step's transcript."""

    step: int  # index of the asr evidence
    text: str  # the lines, or a note that nothing bears on the question
    shown: list[TranscriptSegment]
    found: bool  # whether any segment bears on the question (always, for a part named by its times)


def clock(seconds: float) -> str:
    """``seconds`` as m:ss, or h:mm:ss from an hour."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def line(segment: TranscriptSegment) -> str:
    """``[17:42] S2: text``; without the speaker when no diarization ran."""
    who = f" {segment.speaker}:" if segment.speaker else ""
    return f"[{clock(segment.start)}]{who} {segment.text.strip()}"


def recording(evidence: list[Evidence]) -> tuple[int, list[TranscriptSegment]] | None:
    """The asr step and its segments, joined with the turns of a diarization step on the same clip and part, or None
    without an asr step that transcribed something."""
    from copilot.tools.asr import AsrOutput
    from copilot.tools.diarization import DiarizationOutput

    for i, e in enumerate(evidence):
        if e.tool != "asr" or e.error or not e.output or not e.output.get("segments"):
            continue
        said = AsrOutput.model_validate(e.output)
        same = [d for d in evidence if d.tool == "diarization" and d.output and not d.error and _span(d) == _span(e)]
        turns = DiarizationOutput.model_validate(same[0].output).turns if same else []
        return i, joined(said, turns)
    return None


def _span(e: Evidence) -> tuple[object, object, object]:
    return e.args.get("audio", "audio1"), e.args.get("start"), e.args.get("end")


def long_clip(request: Request, evidence: Evidence) -> bool:
    return request.clips.get(evidence.args.get("audio", "audio1"), 0.0) > LONG_CLIP


def ranked(query: str, segments: list[TranscriptSegment]) -> list[Hit]:
    """The segments that bear on ``query``, best first: cosine and BM25 ranks fused, kept when `relevant`. The
    segments' embeddings are kept on disk (`embed_kept`): a later question about the clip embeds only itself."""
    import bm25s

    from copilot.sentences import embed, embed_kept

    texts = [s.text for s in segments]
    cosines = embed_kept(texts) @ embed([query])[0]
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", stemmer=_Stemmer(), show_progress=False), show_progress=False)
    query_tokens = bm25s.tokenize([query], stopwords="en", stemmer=_Stemmer(), return_ids=False, show_progress=False)[0]
    known = [t for t in query_tokens if t in index.vocab_dict]
    lexical = index.get_scores(known) if known else np.zeros(len(texts))
    fused = np.zeros(len(texts))
    for scores in (cosines, lexical):
        for rank, i in enumerate(np.argsort(-scores, kind="stable")):
            fused[i] += 1.0 / (RRF_K + rank + 1)
    hits = [Hit(int(i), float(cosines[i]), float(lexical[i])) for i in np.argsort(-fused, kind="stable")]
    return [h for h in hits if relevant(h)]


def relevant(hit: Hit) -> bool:
    return hit.cosine >= MIN_COSINE or (hit.lexical > 0 and hit.cosine >= MIN_COSINE_SHARED)


class _Stemmer:
    """snowballstemmer's English stems, in the shape bm25s calls (PyStemmer's ``stemWords``)."""

    def stemWords(self, words: list[str]) -> list[str]:
        return [next(iter(stems(w)), w) for w in words]


def needed(request: Request, evidence: list[Evidence]) -> bool:
    """Whether the answer prompt shows passages even when the transcript fits: the question is about a long clip and
    asks which speaker said something (the transcript's facts name no speaker; its passages do), or names a part of
    it that the asr step heard more than."""
    found = recording(evidence)
    if found is None or not long_clip(request, evidence[found[0]]):
        return False
    if asks_which_speaker(request.question) and any(s.speaker for s in found[1]):
        return True
    part = time_range(request.question, request.clips.get(evidence[found[0]].args.get("audio", "audio1"), 0.0))
    return part is not None and any(s.start < part[0] or s.end > part[1] for s in found[1])


def passages(request: Request, evidence: list[Evidence], budget: int) -> Passages | None:
    """The transcript lines for ``request`` within ``budget`` characters, or None when there is no transcript, or the
    question has no topic and names no part (what a whole long recording says is a summary, not retrieval)."""
    found = recording(evidence)
    if found is None:
        return None
    step, segments = found
    duration = request.clips.get(evidence[step].args.get("audio", "audio1"), segments[-1].end)
    part = time_range(request.question, duration)
    if part is not None:
        segments = [s for s in segments if s.end > part[0] and s.start < part[1]]
    who = _speaker_named(request.question, found[1])
    if who is not None:
        segments = [s for s in segments if s.speaker == who]
    query = asks_when_said(request.question) or topic(request.question if who is None else without_one_speaker(request.question))
    if part is None and who is None and not query:
        return None
    if not segments:
        if who is not None:
            return Passages(step, f"Transcript: {who} says nothing{_during(part)}", [], False)
        return Passages(step, f"Transcript: nothing was said{_during(part)}", [], False) if part else None
    hits = ranked(query, segments) if query else []
    order = [h.index for h in hits] if hits or (part is None and who is None) else list(range(len(segments)))
    if not order:
        note = f"Transcript ({clock(duration)} long): nothing said in it bears on the question"
        return Passages(step, note, [], False)
    chosen: set[int] = set()
    for i in order[:TOP] if hits else order:
        around = set(range(max(i - CONTEXT, 0), min(i + CONTEXT + 1, len(segments)))) if hits else {i}
        trial = sorted(chosen | around)
        if len(_text(segments, trial)) > budget and chosen:
            break
        chosen.update(around)
    picked = sorted(chosen)
    text = _text(segments, picked, who)[:budget]
    return Passages(step, text, [segments[i] for i in picked], True)


def _speaker_named(question: str, segments: list[TranscriptSegment]) -> str | None:
    """The speaker ``question`` names among the segments' speakers, by label ("S2") or by order of first speech ("the
    second speaker": S2, as diarization numbers them), else None."""
    labels = sorted({s.speaker for s in segments if s.speaker}, key=lambda label: (len(label), label))
    label = speaker_label(question)
    if label is not None:
        return label if label in labels else None
    index = speaker_asked(question)
    return labels[index] if index is not None and -len(labels) <= index < len(labels) else None


def _during(part: tuple[float, float] | None) -> str:
    return f" from {clock(part[0])} to {clock(part[1])}" if part is not None else ""


def _text(segments: list[TranscriptSegment], picked: list[int], who: str | None = None) -> str:
    """The picked segments' lines, "..." between those not next to each other; ``who`` names the one speaker shown."""
    lines: list[str] = []
    for n, i in enumerate(picked):
        if n and i != picked[n - 1] + 1:
            lines.append("...")
        lines.append(line(segments[i]))
    of = f" of {who} alone" if who is not None else ""
    return f"Transcript passages{of} ([m:ss] speaker: words):\n" + "\n".join(lines)


def cited(answer: str, shown: list[TranscriptSegment]) -> TranscriptSegment | None:
    """The shown segment the answer rests on: the one sharing most words with it, None when none shares one."""
    said = set(stems(answer))
    best = max(shown, key=lambda s: len(said & set(stems(s.text))), default=None)
    return best if best is not None and said & set(stems(best.text)) else None


def citation(segment: TranscriptSegment, capital: bool = False) -> str:
    """Where it was said: 'at 17:42, S2 said: "..."' ("At" when ``capital``)."""
    text = segment.text.strip()
    text = text if len(text) <= 160 else text[:157].rsplit(" ", 1)[0] + "..."
    who = f", {segment.speaker} said" if segment.speaker else ""
    return f'{"At" if capital else "at"} {clock(segment.start)}{who}: "{text}"'


class NotInRecording(Exception):
    """Nothing in a long recording's transcript bears on a question about what is said in it."""


def not_found() -> Draft:
    return Draft(
        text="Not found in the recording: nothing said in it bears on this question.", answered_by="transcript search"
    )


def when_said(request: Request, evidence: list[Evidence]) -> Draft | None:
    """When a long recording's transcript first says what the question asks about ("when do they start talking about
    the budget?"): the earliest of the best-ranked segments that bear on it in meaning (else in words), at m:ss; None for another question, or
    a clip of `LONG_CLIP` or less (Whisper's segment times there are left to the LLM, as before)."""
    subject = asks_when_said(request.question)
    found = recording(evidence)
    if subject is None or request.options or found is None or not long_clip(request, evidence[found[0]]):
        return None
    segments = found[1]
    hits = ranked(subject, segments)[:TOP]
    if not hits:
        return not_found()
    strong = [h for h in hits if h.cosine >= MIN_COSINE] or hits  # "market" shares a stem with "marketing" alone
    first = segments[min(h.index for h in strong)]
    return Draft(text=f"{citation(first, capital=True)}.", answered_by="transcript times")


_FIRST_PERSON = re.compile(r"\b(?:I|I'll|I'm|me|my|we|we'll)\b", re.I)


def who_said(request: Request, evidence: list[Evidence]) -> Draft | None:
    """Which speaker of a long recording said what the question asks about ("who proposed opening a second office?"):
    the speaker of the best-ranked segment that bears on it in meaning (else in words), with its time and words; for
    "who will ...?", only when that segment speaks in the first person ("I will send the plans"). None for another
    question, a clip of `LONG_CLIP` or less, a transcript without speakers (no diarization on the asr step's span), or
    a segment in the third person ("Anna will send them": the LLM reads who is meant).

    Given the passages, a small model named the speaker of the line after the one that said it."""
    asked = asks_who_said(request.question)
    found = recording(evidence)
    if asked is None or request.options or found is None or not long_clip(request, evidence[found[0]]):
        return None
    subject, will = asked
    segments = found[1]
    if not topic(subject) or not any(s.speaker for s in segments):
        return None
    hits = ranked(subject, segments)[:TOP]
    if not hits:
        return not_found()
    best = segments[([h for h in hits if h.cosine >= MIN_COSINE] or hits)[0].index]
    if best.speaker is None or (will and not _FIRST_PERSON.search(best.text)):
        return None
    return Draft(text=f"{citation(best, capital=True)}.", answered_by="transcript speakers")


def cite(text: str, shown: Passages | None) -> str:
    """``text`` with the passage it rests on cited after it, unless it already gives a time the passages show."""
    if shown is None or not shown.found or any(clock(s.start) in text for s in shown.shown):
        return text
    segment = cited(text, shown.shown)
    return text if segment is None else f"{text} ({citation(segment, capital=True)})"


def quoted_facts(request: Request, evidence: list[Evidence], text: str, shown: Passages | None) -> list[str]:
    """The steps' facts an answer that states a figure no tool gave is followed by: a long clip's transcript is not
    dumped, only the segment the answer rests on is cited, or nothing."""
    found = recording(evidence)
    facts = [e.findings.facts for e in evidence]
    if found is None or (shown is None and not long_clip(request, evidence[found[0]])):
        return facts
    segment = cited(text, shown.shown if shown is not None else found[1])
    facts[found[0]] = citation(segment) if segment is not None else ""
    return facts
