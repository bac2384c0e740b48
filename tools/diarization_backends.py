"""The pyannote diarization backend: a pyannote.audio pipeline folder the user already has.

PATH is the pipeline's folder or its ``config.yaml``, as pyannote publishes them (for example
speaker-diarization-community-1: ``config.yaml`` naming ``$model/segmentation``, ``$model/embedding``
and ``$model/plda`` sub-folders). Models named by hub id instead of a local sub-folder cannot load
offline. pyannote.audio 4 sends usage metrics by default; they are switched off unless
``PYANNOTE_METRICS_ENABLED`` says otherwise. Audio is handed over in memory, so pyannote's own decoder
(torchcodec) is never used.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

from copilot import backends
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import CopilotError
from copilot.tools.diarization import DiarizationOutput, SpeakerTime, Turn


def load_pyannote(path: Path) -> Callable[[Audio], DiarizationOutput]:
    """The ``pyannote:PATH`` backend: ``Pipeline.from_pretrained(PATH)``, run on each clip's samples."""
    torch = backends.import_torch()

    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*torchcodec")  # its decoder is not needed: audio comes in memory
        pyannote = backends.import_library("pyannote.audio", "pyannote")
    try:
        pipeline = pyannote.Pipeline.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - pyannote raises many kinds; all mean "this folder does not load"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CopilotError(f"pyannote could not load the pipeline at {path}: {type(exc).__name__}: {first}") from None

    def run(audio: Audio) -> DiarizationOutput:
        if audio.samples.size == 0:
            return DiarizationOutput(num_speakers=0, turns=[], speaking_time=[])
        result = pipeline({"waveform": torch.from_numpy(audio.samples)[None], "sample_rate": SAMPLE_RATE})
        annotation = getattr(result, "speaker_diarization", result)  # pyannote 4 wraps it, 3.x returns it
        tracks = sorted((seg.start, seg.end, label) for seg, _, label in annotation.itertracks(yield_label=True))
        names = {label: f"S{i}" for i, label in enumerate(dict.fromkeys(label for *_, label in tracks), 1)}
        turns = [
            Turn(
                speaker=names[label],
                start=round(audio.offset + min(max(start, 0.0), audio.duration), 2),
                end=round(audio.offset + min(max(end, 0.0), audio.duration), 2),
            )
            for start, end, label in tracks
        ]
        totals = {name: round(sum(t.duration for t in turns if t.speaker == name), 2) for name in names.values()}
        return DiarizationOutput(
            num_speakers=len(names),
            turns=turns,
            speaking_time=[SpeakerTime(speaker=name, duration=d) for name, d in totals.items()],
        )

    return run
