"""Speech recognition and spoken-language identification (Whisper base through faster-whisper, or a backend)."""

from __future__ import annotations

import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from copilot import backends, models
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import ToolError
from copilot.tool import Attribute, Clips, Findings, Segment, SpanInput, ToolOutput, tool

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# The 99 languages of multilingual Whisper (base), with English names for the planner.
LANGUAGES = {
    "en": "English", "zh": "Chinese", "de": "German", "es": "Spanish", "ru": "Russian", "ko": "Korean",
    "fr": "French", "ja": "Japanese", "pt": "Portuguese", "tr": "Turkish", "pl": "Polish", "ca": "Catalan",
    "nl": "Dutch", "ar": "Arabic", "sv": "Swedish", "it": "Italian", "id": "Indonesian", "hi": "Hindi",
    "fi": "Finnish", "vi": "Vietnamese", "he": "Hebrew", "uk": "Ukrainian", "el": "Greek", "ms": "Malay",
    "cs": "Czech", "ro": "Romanian", "da": "Danish", "hu": "Hungarian", "ta": "Tamil", "no": "Norwegian",
    "th": "Thai", "ur": "Urdu", "hr": "Croatian", "bg": "Bulgarian", "lt": "Lithuanian", "la": "Latin",
    "mi": "Maori", "ml": "Malayalam", "cy": "Welsh", "sk": "Slovak", "te": "Telugu", "fa": "Persian",
    "lv": "Latvian", "bn": "Bengali", "sr": "Serbian", "az": "Azerbaijani", "sl": "Slovenian", "kn": "Kannada",
    "et": "Estonian", "mk": "Macedonian", "br": "Breton", "eu": "Basque", "is": "Icelandic", "hy": "Armenian",
    "ne": "Nepali", "mn": "Mongolian", "bs": "Bosnian", "kk": "Kazakh", "sq": "Albanian", "sw": "Swahili",
    "gl": "Galician", "mr": "Marathi", "pa": "Punjabi", "si": "Sinhala", "km": "Khmer", "sn": "Shona",
    "yo": "Yoruba", "so": "Somali", "af": "Afrikaans", "oc": "Occitan", "ka": "Georgian", "be": "Belarusian",
    "tg": "Tajik", "sd": "Sindhi", "gu": "Gujarati", "am": "Amharic", "yi": "Yiddish", "lo": "Lao",
    "uz": "Uzbek", "fo": "Faroese", "ht": "Haitian Creole", "ps": "Pashto", "tk": "Turkmen",
    "nn": "Norwegian Nynorsk", "mt": "Maltese", "sa": "Sanskrit", "lb": "Luxembourgish", "my": "Burmese",
    "bo": "Tibetan", "tl": "Tagalog", "mg": "Malagasy", "as": "Assamese", "tt": "Tatar", "haw": "Hawaiian",
    "ln": "Lingala", "ha": "Hausa", "ba": "Bashkir", "jw": "Javanese", "su": "Sundanese",
}  # fmt: skip
_CODES = {name.lower(): code for code, name in LANGUAGES.items()}

# Loop guards: a segment whose text gzips this well, or that packs more tokens per second
# than anyone speaks, is Whisper repeating itself rather than transcribing.
MAX_COMPRESSION_RATIO = 2.4
MAX_TOKENS_PER_SECOND = 20
LOW_CONFIDENCE = 0.5
LABEL_PROBABILITY = 0.1  # language_id's labels go down to this: an unsure top language is still the best guess
whisper_lock = threading.Lock()  # one Whisper call at a time: the ASR tools share the model


class AsrInput(SpanInput):
    language: str | None = Field(
        None, description="language to transcribe in, as a code (en, de) or English name; default: detect it"
    )
    word_timestamps: bool = Field(False, description="also return every word with its start and end time")


class TextSegment(Segment):
    text: str


class Word(Segment):
    word: str
    probability: float = Field(description="Whisper's confidence in the word, 0 to 1")


class AsrOutput(ToolOutput):
    text: str = Field(description="the transcript; empty when no speech was recognised")
    language: str | None = Field(description="language code of the transcript; None when there was no speech")
    language_probability: float | None = Field(
        description="confidence of the detected language, 0 to 1; None when the language was given or not spoken"
    )
    segments: list[TextSegment] = Field(description="transcript pieces with times in seconds from the clip's start")
    words: list[Word] | None = Field(None, description="words with times, only when word_timestamps was asked")

    def findings(self) -> Findings:
        """Labels: the language, when Whisper is sure of it, and Speech whenever words were recognised (Silero VAD
        gates the transcription, so a transcript is speech heard). Vocabulary: Speech, as an empty transcript is speech
        not heard: "is there speech in it?" is then answered no."""
        if not self.text:
            return Findings(facts="Transcript: no speech recognised", vocabulary=["Speech"])
        p = f", p={self.language_probability:.2f}" if self.language_probability is not None else ""
        sure = self.language if (self.language_probability or 0) >= LOW_CONFIDENCE else None
        return Findings(
            facts=f'Transcript ({self.language}{p}): "{self.text}"',
            labels=[LANGUAGES.get(sure, sure), "Speech"] if sure else ["Speech"],
            vocabulary=["Speech"],
        )


class LanguageIdInput(SpanInput):
    top_k: int = Field(3, ge=1, le=len(LANGUAGES), description="how many of the likeliest languages to return")


class LanguageScore(BaseModel):
    code: str
    name: str
    probability: float


class LanguageIdOutput(ToolOutput):
    languages: list[LanguageScore] = Field(description="likeliest languages first; empty when there is no speech")
    speech_seconds: float = Field(description="seconds of speech found in the range, padded a little at each end")

    def findings(self) -> Findings:
        attribute = Attribute(name="spoken language", values=sorted(set(LANGUAGES.values())))
        if not self.languages:
            return Findings(facts="Spoken language: none (no speech detected)", attribute=attribute)
        top, *rest = self.languages
        rest = [s for s in rest if s.probability >= 0.01]
        text = f"Spoken language: {top.name} (p={top.probability:.2f})"
        if rest:
            text += "; then " + ", ".join(f"{s.name} ({s.probability:.2f})" for s in rest)
        return Findings(
            facts=text + (" - low confidence" if top.probability < LOW_CONFIDENCE else ""),
            labels=[s.name for s in self.languages if s.probability >= LABEL_PROBABILITY],
            attribute=attribute,
        )


def load_faster_whisper(path: Path | None) -> WhisperModel:
    """The default ASR backend: Whisper base from the model store, or the CTranslate2 model folder at ``path``.

    Any ASR backend is an object with faster-whisper's ``transcribe`` and ``detect_language``
    (see `copilot.tools.asr_backends` for openai-whisper)."""
    from faster_whisper import WhisperModel

    return WhisperModel(str(path or models.ensure("whisper-base")), device="cpu", compute_type="int8", cpu_threads=2)


def _language_code(language: str) -> str:
    """The Whisper code for a language given as a code or an English name."""
    key = language.strip().lower()
    if key in LANGUAGES:
        return key
    if key in _CODES:
        return _CODES[key]
    raise ToolError(f"unknown language {language!r}; give a Whisper language code such as en, de, fr, es or zh")


def looks_like_loop(text: str, tokens: int, seconds: float, previous: str) -> bool:
    """Whether a segment looks like a Whisper loop rather than speech."""
    data = text.encode()
    return (
        text == previous
        or len(data) / len(zlib.compress(data)) > MAX_COMPRESSION_RATIO
        or tokens > MAX_TOKENS_PER_SECOND * max(seconds, 1.0)
    )


def _time(audio: Audio, t: float) -> float:
    # Whisper's timestamps can overshoot the end of the audio by a frame or two.
    return round(audio.offset + min(max(t, 0.0), audio.duration), 3)


@tool(version="1")
def asr(args: AsrInput, clips: Clips) -> AsrOutput:
    """Transcribe what is said: the text, its language, timed segments and, on request, word times.

    Transcribe speech (Whisper base, multilingual, 99 languages): the text, its language with a
    confidence, and timed segments; with word_timestamps, every word with its times and confidence.
    Times are in seconds from the clip's start, also when start/end pick a range. Non-speech parts are
    skipped, so silence, noise, applause or instrumental music give an empty transcript rather than
    invented text, and repeated-text loops are dropped; but animal sounds can pass for speech (a dog's
    bark came out as "Help! Help!"), so check short odd transcripts against sound events. It writes what
    was said, not who said it or how; it does not translate; names and rare words may be misspelt; the
    language is detected from the first 30 s of speech, so pass a language (or a time range) for a clip
    that switches language.
    A small model: expect a few percent word errors on clear English, more on noisy or accented speech."""
    audio = args.clip(clips)
    language = _language_code(args.language) if args.language else None
    with whisper_lock:
        raw, info = backends.load("asr").transcribe(
            audio.samples,
            language=language,
            condition_on_previous_text=False,
            vad_filter=True,
            word_timestamps=args.word_timestamps,
        )
        raw = list(raw)  # decoding happens while the generator is consumed
    pieces: list[str] = []
    segments: list[TextSegment] = []
    words: list[Word] = []
    for s in raw:
        text = s.text.strip()
        previous = segments[-1].text if segments else ""
        if not text or looks_like_loop(text, len(s.tokens), s.end - s.start, previous):
            continue
        pieces.append(s.text)
        segments.append(TextSegment(start=_time(audio, s.start), end=_time(audio, s.end), text=text))
        words += [
            Word(
                start=_time(audio, w.start),
                end=_time(audio, w.end),
                word=w.word.strip(),
                probability=round(w.probability, 3),
            )
            for w in s.words or []
        ]
    spoke = info.duration_after_vad > 0
    return AsrOutput(
        text="".join(pieces).strip(),
        language=info.language if spoke else None,
        language_probability=round(info.language_probability, 3) if spoke and not language else None,
        segments=segments,
        words=words if args.word_timestamps else None,
    )


@tool(version="1", serves=("language",))
def language_id(args: LanguageIdInput, clips: Clips) -> LanguageIdOutput:
    """Identify the spoken language: the likeliest languages with their probabilities.

    Identify the spoken language (Whisper base, 99 languages): the top_k likeliest languages with
    codes, English names and probabilities. It works on speech: it first finds the speech in the range
    and judges the first 30 s of it (use start/end to check another part, e.g. for code-switching).
    With no speech found (silence, noise, tones, instrumental music) it returns no language rather than a
    guess (on such audio Whisper alone would still name one, e.g. Nynorsk or English at p=0.3-0.6);
    a barking dog can still be taken for speech and get a language.
    A probability below 0.5 means an uncertain call (very short, unclear, synthetic or mixed-language
    speech); closely related languages can be confused. It says nothing about accent or dialect."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = args.clip(clips)
    with whisper_lock:
        chunks = get_speech_timestamps(audio.samples, VadOptions())
        if not chunks:
            return LanguageIdOutput(languages=[], speech_seconds=0.0)
        speech = np.concatenate([audio.samples[c["start"] : c["end"]] for c in chunks])
        _, _, probs = backends.load("asr").detect_language(audio=speech)
    scores = [LanguageScore(code=c, name=LANGUAGES.get(c, c), probability=round(p, 3)) for c, p in probs[: args.top_k]]
    return LanguageIdOutput(languages=scores, speech_seconds=round(len(speech) / SAMPLE_RATE, 3))
