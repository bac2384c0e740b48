"""Speech recognition and spoken-language identification (Whisper base through faster-whisper, or a backend)."""

from __future__ import annotations

import itertools
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from copilot import backends, models
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import ToolError
from copilot.progress import progress
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
WINDOW = 600.0  # seconds: a longer clip is transcribed a window at a time...
SEARCH = 30.0  # ...each cut at the quietest moment of the last this many seconds of the window
BATCH = 4  # 30 s pieces of speech decoded at once: on 2 cores as fast as 8 and 220 MB lighter (docs/benchmarks.md)


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
    speech_seconds: float = Field(
        description="seconds of speech found in the range (past 10 minutes, in its first 10-minute windows that hold "
        "30 s of it), padded a little at each end"
    )

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


def quiet_cuts(samples: np.ndarray) -> list[int]:
    """Sample indices cutting ``samples`` into windows of at most `WINDOW` seconds, each cut at the quietest 0.2 s of
    the last `SEARCH` seconds before the window's longest end (a pause, in speech); the first index is 0, the last the
    length."""
    cuts, frame = [0], SAMPLE_RATE // 5
    while len(samples) - cuts[-1] > WINDOW * SAMPLE_RATE:
        end = cuts[-1] + round(WINDOW * SAMPLE_RATE)
        lo = end - round(SEARCH * SAMPLE_RATE) // frame * frame
        energy = np.square(samples[lo:end], dtype=np.float32).reshape(-1, frame).mean(axis=1)
        cuts.append(lo + int(energy.argmin()) * frame + frame // 2)
    return [*cuts, len(samples)]


def _transcribe(
    audio: Audio, language: str | None, word_timestamps: bool
) -> tuple[list[tuple[float, Any]], str | None, float | None]:
    """Whisper's segments of ``audio``, each with the offset (seconds) its times count from, the language and that
    language's probability (None when no speech was heard).

    A clip of at most `WINDOW` seconds is transcribed in one call. A longer one is cut at quiet moments
    (`quiet_cuts`) into windows transcribed one after another by faster-whisper's batched pipeline (a batch of 30 s
    pieces of speech at a time), in the language of the first window that holds speech, so its audio features are
    never held whole.
    """
    model = backends.load("asr")
    options = {"condition_on_previous_text": False, "vad_filter": True, "word_timestamps": word_timestamps}
    cuts = quiet_cuts(audio.samples)
    segments: list[tuple[float, Any]] = []
    if len(cuts) == 2:
        with progress("asr", audio.duration) as advance:
            raw, info = model.transcribe(audio.samples, language=language, **options)
            done = 0.0
            for s in raw:  # decoding happens while the generator is consumed
                segments.append((0.0, s))
                advance(s.end - done)
                done = s.end
        spoke = info.duration_after_vad > 0
        return segments, info.language if spoke else None, info.language_probability if spoke else None
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    batched = BatchedInferencePipeline(model) if isinstance(model, WhisperModel) else None
    detected, probability, spoke = language, None, False
    with progress("asr", audio.duration) as advance:
        for a, b in itertools.pairwise(cuts):
            window = audio.samples[a:b]
            if batched is not None:
                # without timestamp tokens (its default): one segment a piece of speech, timed by its words when asked;
                # with them, the pipeline dropped the ends of pieces (twice the deleted words, docs/benchmarks.md)
                raw, info = batched.transcribe(window, language=detected, batch_size=BATCH, **options)
            else:
                raw, info = model.transcribe(window, language=detected, **options)
            segments += [(a / SAMPLE_RATE, s) for s in raw]
            if info.duration_after_vad > 0 and not spoke:
                detected, probability, spoke = info.language, info.language_probability, True
            advance((b - a) / SAMPLE_RATE)
    return segments, detected if spoke else None, probability


def _time(audio: Audio, t: float) -> float:
    # Whisper's timestamps can overshoot the end of the audio by a frame or two.
    return round(audio.offset + min(max(t, 0.0), audio.duration), 3)


@tool(version="2")
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
        raw, detected, probability = _transcribe(audio, language, args.word_timestamps)
    pieces: list[str] = []
    segments: list[TextSegment] = []
    words: list[Word] = []
    for offset, s in raw:
        text = s.text.strip()
        previous = segments[-1].text if segments else ""
        if not text or looks_like_loop(text, len(s.tokens), s.end - s.start, previous):
            continue
        pieces.append(s.text)
        segments.append(TextSegment(start=_time(audio, offset + s.start), end=_time(audio, offset + s.end), text=text))
        words += [
            Word(
                start=_time(audio, offset + w.start),
                end=_time(audio, offset + w.end),
                word=w.word.strip(),
                probability=round(w.probability, 3),
            )
            for w in s.words or []
        ]
    return AsrOutput(
        text="".join(pieces).strip(),
        language=detected,
        language_probability=round(probability, 3) if probability is not None and not language else None,
        segments=segments,
        words=words if args.word_timestamps else None,
    )


def _first_speech(samples: np.ndarray) -> np.ndarray:
    """The speech faster-whisper's VAD finds in ``samples``, joined: in the whole of a clip of at most `WINDOW`
    seconds; in a longer one, a window (`quiet_cuts`) at a time until 30 s of speech are found, so neither the VAD nor
    Whisper's features run over hours of audio to judge the first 30 s."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    parts: list[np.ndarray] = []
    for a, b in itertools.pairwise(quiet_cuts(samples)):
        window = samples[a:b]
        parts += [window[c["start"] : c["end"]] for c in get_speech_timestamps(window, VadOptions())]
        if sum(len(p) for p in parts) >= 30 * SAMPLE_RATE:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


@tool(version="2", serves=("language",))
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
    audio = args.clip(clips)
    with whisper_lock:
        speech = _first_speech(audio.samples)
        if not len(speech):
            return LanguageIdOutput(languages=[], speech_seconds=0.0)
        _, _, probs = backends.load("asr").detect_language(audio=speech)
    scores = [LanguageScore(code=c, name=LANGUAGES.get(c, c), probability=round(p, 3)) for c, p in probs[: args.top_k]]
    return LanguageIdOutput(languages=scores, speech_seconds=round(len(speech) / SAMPLE_RATE, 3))
