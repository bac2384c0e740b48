"""Speech recognition and language identification with the real Whisper base model on real and espeak-ng speech."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import pytest

from copilot.answering.grounding import Verdict, yes_or_no_from_labels
from copilot.audio import Audio, load
from copilot.errors import ToolError
from copilot.evidence import Evidence
from copilot.tools.asr import AsrOutput, asr, language_id, looks_like_loop
from tests import corpora

pytestmark = pytest.mark.slow

# Whisper writes titles as abbreviations and joins compounds with hyphens, where the LibriVox
# references spell words out ("mister", "cold hearted"). The clips hold no numbers, so digits
# need no expansion.
ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}

# Sentences on which Whisper base names espeak-ng's voice (at its default 175 words a minute)
# right with a margin. Robotic voices are harder than real speech: the result depends on the
# sentence and the speed, and Portuguese, Dutch, Swedish and Russian were taken for Latin,
# English, Finnish or Polish on every sentence tried.
SENTENCES = {
    "en": "The children walked to school in the morning and talked about their weekend.",
    "fr": "Il était une fois une petite fille qui habitait dans un village près de la forêt. "
    "Sa grand-mère lui avait offert un joli chaperon rouge.",
    "de": "Die Kinder sind heute Morgen zur Schule gegangen und haben über ihr Wochenende gesprochen.",
    "es": "Los niños caminaron a la escuela por la mañana y hablaron de su fin de semana.",
    "it": "I bambini sono andati a scuola stamattina e hanno parlato del loro fine settimana.",
    "pl": "Dzieci poszły rano do szkoły i rozmawiały o swoim weekendzie.",
    "cs": "Dobré ráno všem. Dnes je v Praze velmi hezké počasí, a tak se půjdeme projít podél řeky "
    "před obědem.",
    "ro": "Bună dimineața tuturor. Astăzi vremea este foarte frumoasă în București, "
    "așa că mergem la o plimbare în parc înainte de prânz.",
}


def normalise(text: str) -> str:
    """Lower case, hyphens as spaces, punctuation dropped, abbreviations spelt out."""
    words = re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def transcribe(audio: Audio, **args: object) -> AsrOutput:
    return asr(args, {"audio1": audio})


@pytest.fixture(scope="session")
def librivox() -> list[tuple[str, str, Audio, AsrOutput]]:
    """(clip name, reference, audio, transcript with word times) for the five LibriVox clips."""
    rows = []
    for path, reference in corpora.librivox():
        audio = load(path)
        rows.append((path.stem, reference, audio, transcribe(audio, word_timestamps=True)))
    return rows


@pytest.fixture(scope="session")
def two_sentences(tmp_path_factory: pytest.TempPathFactory) -> tuple[Audio, float]:
    """Two English sentences with a second of silence between them, and when the second one starts."""
    folder = tmp_path_factory.mktemp("two-sentences")
    first = corpora.speak("The weather is nice today.", folder / "first.wav")
    second = corpora.speak("My cat likes to sleep on the sofa.", folder / "second.wav")
    gap = folder / "gap.wav"
    corpora.sox("-n", "-r", "22050", "-b", "16", "-c", "1", gap, "trim", "0", "1")
    joined = folder / "joined.wav"
    corpora.sox(first, gap, second, joined)
    return load(joined), load(first).duration + 1.0


def test_librivox_word_error_rate(librivox: list[tuple[str, str, Audio, AsrOutput]]) -> None:
    references = [normalise(ref) for _, ref, _, _ in librivox]
    hypotheses = [normalise(out.text) for *_, out in librivox]
    for (name, *_), ref, hyp in zip(librivox, references, hypotheses, strict=True):
        print(f"{name}: WER {jiwer.wer(ref, hyp):.3f}  {hyp!r}")
    overall = jiwer.wer(references, hypotheses)
    print(f"overall WER {overall:.3f}")
    assert overall <= 0.10
    assert all(out.language == "en" and out.language_probability > 0.9 for *_, out in librivox)
    assert all(out.findings().labels == ["English", "Speech"] for *_, out in librivox)


def _speech_verdict(out: AsrOutput) -> Verdict | None:
    evidence = Evidence(step="s", tool="asr", findings=out.findings())
    return yes_or_no_from_labels("Is there human speech in this recording?", [evidence])


def test_a_transcript_is_speech_heard(librivox: list[tuple[str, str, Audio, AsrOutput]]) -> None:
    for name, *_, out in librivox:
        assert _speech_verdict(out).draft().text == "Yes. The asr tool measured Speech.", name


def test_word_timestamps_inside_clip_and_ordered(librivox: list[tuple[str, str, Audio, AsrOutput]]) -> None:
    for name, _, audio, out in librivox:
        assert out.words, name
        assert normalise(" ".join(w.word for w in out.words)) == normalise(out.text)
        starts = [w.start for w in out.words]
        assert starts == sorted(starts), name
        assert all(0 <= w.start <= w.end <= audio.duration and 0 <= w.probability <= 1 for w in out.words), name
        assert all(s.start <= s.end <= audio.duration for s in out.segments), name


def test_time_range_transcribes_only_that_part(two_sentences: tuple[Audio, float]) -> None:
    audio, second_starts = two_sentences
    out = transcribe(audio, start=second_starts - 0.5, language="English", word_timestamps=True)
    text = normalise(out.text)
    assert "cat" in text and "sofa" in text and "weather" not in text
    assert out.language == "en" and out.language_probability is None  # given, not detected
    assert out.words and all(second_starts - 0.5 <= w.start <= w.end <= audio.duration for w in out.words)
    assert abs(out.words[0].start - second_starts) < 0.5  # times count from the clip's start, not the range's


SOX_NO_SPEECH = {"silence": ["trim", "0", "3"], "noise": ["synth", "3", "whitenoise", "vol", "0.1"]}


@pytest.mark.parametrize("kind", ["silence", "noise", "violin"])
def test_no_speech_gives_empty_transcript(tmp_path: Path, kind: str) -> None:
    if kind == "violin":
        path = corpora.gcompris_sound("instruments.rcc", "violin.ogg")
    else:
        path = tmp_path / f"{kind}.wav"
        corpora.sox("-n", "-r", "16000", "-c", "1", path, *SOX_NO_SPEECH[kind])
    audio = load(path)
    out = transcribe(audio)
    assert (out.text, out.segments, out.language, out.findings().labels) == ("", [], None, [])
    assert out.findings().facts == "Transcript: no speech recognised"
    assert _speech_verdict(out).draft().text == "No. The asr tool did not detect Speech; it detected nothing."
    lid = language_id({}, {"audio1": audio})
    assert (lid.languages, lid.speech_seconds, lid.findings().labels) == ([], 0.0, [])
    assert lid.findings().facts == "Spoken language: none (no speech detected)"


def test_loop_guard_drops_repeated_and_crammed_text() -> None:
    sentence = "He might even have been made amiable himself."
    assert not looks_like_loop(sentence, tokens=12, seconds=3.3, previous="He was not an ill-disposed young man.")
    assert looks_like_loop(sentence, tokens=12, seconds=3.3, previous=sentence)  # the same segment again
    assert looks_like_loop("Thank you. " * 20, tokens=60, seconds=25.0, previous="")  # a loop inside one segment
    assert looks_like_loop(sentence, tokens=120, seconds=2.0, previous="")  # far more tokens than anyone speaks


def test_unknown_language_is_a_tool_error(two_sentences: tuple[Audio, float]) -> None:
    with pytest.raises(ToolError, match="unknown language 'klingon'"):
        transcribe(two_sentences[0], language="klingon")


@pytest.mark.parametrize("code", list(SENTENCES))
def test_language_id_on_espeak_speech(tmp_path: Path, code: str) -> None:
    audio = load(corpora.speak(SENTENCES[code], tmp_path / f"{code}.wav", voice=code, speed=175))
    out = language_id({}, {"audio1": audio})
    print(out.findings().facts)
    assert out.languages[0].code == code
    assert out.findings().labels[0] == out.languages[0].name
    assert out.speech_seconds > 2


def test_language_id_names_every_language(two_sentences: tuple[Audio, float]) -> None:
    out = language_id({"top_k": 99}, {"audio1": two_sentences[0]})
    assert len(out.languages) == 99
    assert all(s.name != s.code for s in out.languages)  # every code Whisper returns has a name
    probabilities = [s.probability for s in out.languages]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1, abs=0.01)
    assert out.findings().facts.startswith("Spoken language: English (p=")
