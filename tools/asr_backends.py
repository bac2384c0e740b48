"""The openai-whisper ASR backend: a user's Whisper checkpoint behind faster-whisper's interface.

`copilot.tools.asr` calls ``transcribe`` and ``detect_language`` the way faster-whisper has them, so
this adapter reproduces what the default backend does with those calls: speech is found first with
the same Silero VAD settings faster-whisper's ``vad_filter`` uses and only those stretches are decoded
(openai-whisper's ``clip_timestamps``), and the language is detected on the first 30 s of that speech.
Decoding is greedy, without openai-whisper's temperature fallback, which re-decodes a hard window up to
six times (slow on CPU); the loop guard in `copilot.tools.asr` drops repetitive segments instead.
Those stretches are kept inside the audio's last whole 10 ms frame: openai-whisper (20250625) decodes
the same window forever when a clip ends past it, which speech running to the end of a clip would do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from copilot import backends
from copilot.audio import SAMPLE_RATE

FRAME = SAMPLE_RATE // 100  # samples per Whisper mel frame (10 ms)


class Word(NamedTuple):
    start: float
    end: float
    word: str
    probability: float


class Segment(NamedTuple):
    start: float
    end: float
    text: str
    tokens: list[int]
    words: list[Word] | None


class Info(NamedTuple):
    language: str
    language_probability: float
    duration_after_vad: float


def _speech(samples: np.ndarray) -> list[tuple[int, int]]:
    """Sample ranges of speech, found as faster-whisper's ``vad_filter=True`` finds them, in whole mel frames
    that end no later than the last whole frame of ``samples``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    last = len(samples) // FRAME
    frames = [
        (round(c["start"] / FRAME), min(round(c["end"] / FRAME), last))
        for c in get_speech_timestamps(samples, VadOptions())
    ]
    return [(a * FRAME, b * FRAME) for a, b in frames if b > a]


class OpenAIWhisper:
    """An openai-whisper model answering faster-whisper's ``transcribe`` and ``detect_language``."""

    def __init__(self, model: Any):
        self.model = model

    def detect_language(self, audio: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        """The likeliest language of the first 30 s of ``audio``, its probability, and every language's, best first.

        An English-only model (``*.en``) always answers English with probability 1, as faster-whisper does."""
        import whisper

        if not self.model.is_multilingual:
            return "en", 1.0, [("en", 1.0)]
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio.astype(np.float32)), self.model.dims.n_mels)
        _, probs = self.model.detect_language(mel)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        return ranked[0][0], float(ranked[0][1]), [(code, float(p)) for code, p in ranked]

    def transcribe(
        self,
        samples: np.ndarray,
        language: str | None = None,
        condition_on_previous_text: bool = False,
        vad_filter: bool = True,
        word_timestamps: bool = False,
    ) -> tuple[list[Segment], Info]:
        """Decode the speech of ``samples`` (16 kHz mono); times are seconds from the start of ``samples``."""
        import whisper

        chunks = _speech(samples) if vad_filter else [(0, len(samples))]
        speech_seconds = sum(e - s for s, e in chunks) / SAMPLE_RATE
        if not chunks:
            return [], Info(language or "en", 0.0, 0.0)
        probability = 1.0
        if language is None:
            speech = np.concatenate([samples[s:e] for s, e in chunks])
            language, probability, _ = self.detect_language(speech)
        result = whisper.transcribe(
            self.model,
            samples.astype(np.float32),
            language=language,
            temperature=0.0,
            condition_on_previous_text=condition_on_previous_text,
            word_timestamps=word_timestamps,
            clip_timestamps=[t / SAMPLE_RATE for chunk in chunks for t in chunk],
            fp16=False,
            verbose=None,
        )
        segments = [
            Segment(
                start=s["start"],
                end=s["end"],
                text=s["text"],
                tokens=s["tokens"],
                words=[Word(w["start"], w["end"], w["word"], w["probability"]) for w in s.get("words", [])] or None,
            )
            for s in result["segments"]
        ]
        return segments, Info(language, probability, speech_seconds)


def load_openai_whisper(path: Path) -> OpenAIWhisper:
    """The ``openai-whisper:PATH`` backend: a checkpoint in openai-whisper's format (``{"dims", "model_state_dict"}``)."""
    backends.import_torch()
    whisper = backends.import_library("whisper", "openai-whisper")
    return OpenAIWhisper(whisper.load_model(str(path), device="cpu"))
