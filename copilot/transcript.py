"""A recording's transcript as a document: who said what, when, and its writers (txt, srt, vtt, json).

The `asr` tool's timed segments and words are joined with the `diarization` tool's turns, as WhisperX's
``assign_word_speakers`` does with ``fill_nearest``: each word takes the speaker of the turn it overlaps most, or of
the nearest turn when it overlaps none. A segment whose words change speaker is split at each change, so every
segment has one speaker; its text is then its words joined. Both tools run through the tool cache the agent uses
(keyed by tool, arguments and clip), so a clip is transcribed once and later transcripts of it run no model; the
agent's diarization step (default arguments) reads the same kept output, and so does its asr step on a clip of more
than 30 s, its words dropped (`copilot.agent.long_steps`).

It cannot be better than its tools: a word near a change of speaker, or in overlapped speech, may get the wrong
speaker (diarization gives overlapped speech to one speaker), and words Whisper misses are missing here too.
"""

from __future__ import annotations

import sys
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable
from itertools import groupby
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from copilot.audio import Audio
    from copilot.cache import ToolCache
    from copilot.tool import Clips, Tool, ToolInput, ToolOutput
    from copilot.tools.asr import AsrOutput
    from copilot.tools.diarization import Turn

NO_SPACES = {"ja", "zh", "th"}  # languages whose words are written without spaces between them


class TranscriptWord(BaseModel):
    start: float
    end: float
    word: str
    speaker: str | None = Field(None, description="S1, S2... as diarization names them; None without speakers")


class TranscriptSegment(BaseModel):
    start: float
    end: float
    text: str
    speaker: str | None = Field(None, description="the speaker of most of the segment's word time")
    words: list[TranscriptWord]


class SpeakerSummary(BaseModel):
    speaker: str
    speaking_time: float = Field(description="seconds of this speaker's turns, as diarization found them")
    words: int = Field(description="words of the transcript given to this speaker")


class Transcript(BaseModel):
    """Timed segments and words of a clip, with speakers when asked; times in seconds from the clip's start."""

    language: str | None = Field(description="language code Whisper transcribed in; None when no speech was heard")
    duration: float = Field(description="the clip's length in seconds")
    segments: list[TranscriptSegment] = Field(description="in time order; one speaker each when speakers were asked")
    speakers: list[SpeakerSummary] = Field(description="in order of first speech; empty without speakers")


def transcript(
    audio: Audio, speakers: bool = True, cache: ToolCache | None = None, progress: bool = False
) -> Transcript:
    """The transcript of ``audio``, with each word and segment given a speaker when ``speakers``.

    ``cache`` defaults to the tool cache of the cache folder; ``progress`` reports each tool's time on stderr (a tool
    running long also shows its own progress there, see `copilot.progress`). Without
    speakers, diarization does not run. The language is Whisper's detection from the first 30 s of speech."""
    from copilot.cache import ToolCache
    from copilot.tools.asr import AsrInput, AsrOutput, asr
    from copilot.tools.diarization import DiarizationOutput, diarization

    cache = cache or ToolCache()
    clips = {"audio1": audio}
    said = cast(AsrOutput, _cached(asr, AsrInput(word_timestamps=True), clips, cache, progress))
    if not speakers:
        return Transcript(language=said.language, duration=audio.duration, segments=joined(said, []), speakers=[])
    who = cast(DiarizationOutput, _cached(diarization, diarization.parse({}), clips, cache, progress))
    segments = joined(said, who.turns)
    counts = Counter(w.speaker for s in segments for w in s.words)
    summary = [
        SpeakerSummary(speaker=t.speaker, speaking_time=t.duration, words=counts[t.speaker]) for t in who.speaking_time
    ]
    return Transcript(language=said.language, duration=audio.duration, segments=segments, speakers=summary)


def _cached(tool: Tool, args: ToolInput, clips: Clips, cache: ToolCache, progress: bool) -> ToolOutput:
    """The tool's output on ``clips``: from the cache when kept there (`ToolCache.read`), else run and kept."""
    key, started = cache.key(tool, args, clips), time.perf_counter()
    output = cache.read(tool, key)
    kept = output is not None
    if output is None:
        if progress:  # a line of its own: the tool's progress bar (`copilot.progress`) goes below it
            print(f"  {tool.name}: running ...", file=sys.stderr, flush=True)
        output = tool(args, clips)
        cache.keep(key, tool.name, output)
    if progress:
        done = "kept output" if kept else "done"
        print(f"  {tool.name}: {done} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return output


def joined(said: AsrOutput, turns: list[Turn]) -> list[TranscriptSegment]:
    """The ASR segments given the speakers of ``turns``, a segment cut where its words change speaker (the
    segments as they are without turns)."""
    if not turns:
        return _segments(said, [])
    return [piece for segment in _segments(said, turns) for piece in _split(segment, said.language)]


def _segments(said: AsrOutput, turns: list[Turn]) -> list[TranscriptSegment]:
    """The ASR segments with their words (each word in the last segment starting before its middle), and speakers
    from ``turns`` when there are any."""
    speaker_of = _speaker_finder(turns)
    segments = [TranscriptSegment(start=s.start, end=s.end, text=s.text, words=[]) for s in said.segments]
    starts = [s.start for s in segments]
    for w in said.words or []:
        word = TranscriptWord(start=w.start, end=w.end, word=w.word, speaker=speaker_of(w.start, w.end))
        segments[max(bisect_right(starts, (w.start + w.end) / 2) - 1, 0)].words.append(word)
    for s in segments:
        s.speaker = _majority(s.words) if s.words else speaker_of(s.start, s.end)
    return segments


def _speaker_finder(turns: list[Turn]) -> Callable[[float, float], str | None]:
    """A function from a time range to the speaker of the turn that overlaps it most, else of the nearest turn (None
    without turns). ``turns`` are in time order and do not overlap, as diarization gives them."""
    starts, ends = [t.start for t in turns], [t.end for t in turns]

    def speaker_of(start: float, end: float) -> str | None:
        first = bisect_right(ends, start)
        overlapping = turns[first : bisect_left(starts, end)]
        if overlapping:
            return max(overlapping, key=lambda t: min(t.end, end) - max(t.start, start)).speaker
        near = turns[max(first - 1, 0) : first + 1]
        return min(near, key=lambda t: max(t.start - end, start - t.end)).speaker if near else None

    return speaker_of


def _majority(words: list[TranscriptWord]) -> str | None:
    """The speaker of most of the words' time."""
    seconds: dict[str | None, float] = {}
    for w in words:
        seconds[w.speaker] = seconds.get(w.speaker, 0.0) + w.end - w.start
    return max(seconds, key=lambda speaker: seconds[speaker])


def _split(segment: TranscriptSegment, language: str | None) -> list[TranscriptSegment]:
    """``segment`` cut where its words change speaker; one that does not change is returned whole, Whisper's text
    kept."""
    runs = [list(words) for _, words in groupby(segment.words, key=lambda w: w.speaker)]
    if len(runs) < 2:
        return [segment]
    glue = "" if language in NO_SPACES else " "
    return [
        TranscriptSegment(
            start=r[0].start, end=r[-1].end, text=glue.join(w.word for w in r), speaker=r[0].speaker, words=r
        )
        for r in runs
    ]


def timestamp(seconds: float, marker: str = ".") -> str:
    """``seconds`` as HH:MM:SS.mmm, the decimal ``marker`` being "," for SRT."""
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    whole, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{marker}{ms:03d}"


def _line(segment: TranscriptSegment) -> str:
    """The segment's text, after its speaker as WhisperX writes it (``[S1]: text``); "-->" cannot stand in a cue."""
    text = segment.text.replace("-->", "->")
    return f"[{segment.speaker}]: {text}" if segment.speaker else text


def write_txt(t: Transcript) -> str:
    return "".join(f"{_line(s)}\n" for s in t.segments)


def write_srt(t: Transcript) -> str:
    cues = (f"{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{_line(s)}\n\n" for s in t.segments)
    return "".join(f"{i}\n{cue}" for i, cue in enumerate(cues, 1))


def write_vtt(t: Transcript) -> str:
    return "WEBVTT\n\n" + "".join(f"{timestamp(s.start)} --> {timestamp(s.end)}\n{_line(s)}\n\n" for s in t.segments)


def write_json(t: Transcript) -> str:
    return t.model_dump_json(indent=2) + "\n"


WRITERS: dict[str, Callable[[Transcript], str]] = {
    "txt": write_txt,
    "srt": write_srt,
    "vtt": write_vtt,
    "json": write_json,
}
"""The document in each format the whisper CLI writes: txt a segment a line, srt and vtt a cue a segment, json the
`Transcript` itself (WhisperX's shape: segments with their speaker and words)."""
