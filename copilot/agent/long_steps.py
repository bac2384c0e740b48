"""What a step over a long recording does differently from one over a clip: it runs alone, with a time limit that grows
with its audio, and gives the memory it freed back to the system when it ends; and an asr step reads the word-timed
transcript `copilot transcript` kept of the clip, if any.

Tools work over a long file in windows, but each still holds its model, the clip and a window's working memory:
asr, diarization and sound_events at once on a 2-hour file held 6.2 GB, one at a time about 1.4 GB each. A step
reading at most `LONG_STEP` seconds runs as before (in parallel, the agent's fixed time limit, its own cache row), so
the benchmarks' clips are answered as they were.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache
from typing import cast

from copilot.answering.passages import LONG_CLIP
from copilot.cache import ToolCache
from copilot.tool import Clips, Tool, ToolInput, ToolOutput

LONG_STEP = 600.0  # seconds of audio: a step reading more runs alone
SECONDS_PER_SECOND = 1.0  # a long step's time limit per second of its audio: the tools took 0.02-0.6 of it on 2 busy cores


def seconds(args: ToolInput, clips: Clips) -> float:
    """The most audio the call reads from one clip: the length of its time range of each clip it names."""
    start, end = getattr(args, "start", None) or 0.0, getattr(args, "end", None)
    lengths = [min(end or c.duration, c.duration) - start for c in (clips.get(getattr(args, f)) for f in args.clip_fields) if c]
    return max(lengths, default=0.0)


def alone(args: ToolInput, clips: Clips) -> bool:
    """Whether the call runs alone: it reads more than `LONG_STEP` seconds of a clip."""
    return seconds(args, clips) > LONG_STEP


def time_limit(args: ToolInput, clips: Clips, step_timeout: float) -> float:
    """The call's time limit: the agent's ``step_timeout``, or more for a long step, in proportion to its audio."""
    return max(step_timeout, seconds(args, clips) * SECONDS_PER_SECOND) if alone(args, clips) else step_timeout


def kept(tool: Tool, args: ToolInput, clips: Clips, cache: ToolCache) -> ToolOutput | None:
    """The call's kept output: its own, or for asr without word times on more than `LONG_CLIP` seconds, the output
    kept with word times and otherwise the same arguments (`copilot transcript` asks for them), its words dropped.

    Never the reverse: a call asking for word times runs when only an output without them is kept. Past Whisper's
    window the two runs differ where word times move a segment's bounds (to its first and last word) and, on a clip
    of 30 s to 10 minutes (decoded in one pass), where they move the point decoding resumes from; clips of 30 s or
    less (the benchmarks') always get their own run."""
    from copilot.tools.asr import AsrInput

    own = cache.read(tool, cache.key(tool, args, clips))
    if own is not None or tool.name != "asr" or not isinstance(args, AsrInput) or args.word_timestamps:
        return own
    if seconds(args, clips) <= LONG_CLIP:
        return None
    timed = args.model_copy(update={"word_timestamps": True})
    wider = cache.read(tool, cache.key(tool, timed, clips))
    return None if wider is None else wider.model_copy(update={"words": None})


def give_back() -> None:
    """Return the heap memory freed by a long step to the system (glibc's ``malloc_trim``; nothing elsewhere). Freed in
    the arenas of the tool's own threads, it otherwise stays resident, and the next step and the answer come on top of
    it: after asr, diarization and sound_events on a 30-minute meeting, 1,189 MB resident without, 853 MB with."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return cast(Callable[[int], int], ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim)
    except (OSError, AttributeError):  # not glibc
        return None
