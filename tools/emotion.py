"""Emotion in the voice: the project's learned emotion head, a user-supplied model, or a weak prosody rule.

The default backend (``head``) is the shipped `emotion` head (`copilot.heads`, trained by `make heads`): a
logistic regression over Whisper base's encoder pooled over the speech, learned from CREMA-D's 51 training
actors (acted English studio speech, 6 emotions; none of them speaks in a SAKURA dev or held-out clip). It is
reliable on acted speech; TV dialogue, with laughter, music and natural rather than acted emotion, is out of its
domain (near chance). Speech shorter than `HEAD_MIN_SPEECH` gets the prosody rule below. Its measurements, and
why this head ships rather than one trained on more corpora: docs/heads.md ("emotion").

The prosody rule (``--emotion prosody``, and the fallback for short speech) is a rule, not a model: it
measures five prosodic cues (`CUES`) on the clip's speech (Silero VAD), as z-scores against typical values of
calm speech (`NEUTRAL`, chosen before any emotional speech was looked at), and compares them with textbook cue
profiles of each emotion (`PROFILES`: Juslin & Laukka 2003, Banse & Scherer 1996); nothing was fitted to labelled
data. Prosody carries arousal (calm vs agitated) far better than valence, so angry/happy/fear and
sad/disgust/neutral are confused within each group, and a naturally loud or fast talker reads as agitated: its
top label is at chance level (measured in docs/heads.md). It is a placeholder until a real model is configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from copilot import backends
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import NothingToMeasure
from copilot.manifest import HEADS
from copilot.tool import Attribute, Clips, Findings, SpanInput, ToolOutput, tool

MIN_SPEECH = 0.5  # seconds of speech needed for any guess
HEAD_MIN_SPEECH = 1.0  # seconds of speech the learned head needs; shorter speech gets the prosody rule
LABELS = ("neutral", "happy", "sad", "angry", "fear", "disgust")
CUES = ("pitch_level", "pitch_range", "loudness", "effort", "rate")
PROFILES = {  # z-scores of each cue against neutral speech, from the literature (module docstring)
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0),
    "happy": (1.0, 1.0, 0.7, 0.7, 0.5),
    "sad": (-0.7, -1.0, -1.0, -1.0, -1.0),
    "angry": (1.0, 1.0, 1.5, 1.5, 0.5),
    "fear": (1.5, -0.5, 0.3, 0.7, 1.0),
    "disgust": (-0.5, 0.0, -0.3, -0.3, -1.0),
}
# Neutral speech: (mean, spread) of each cue, textbook values checked on the neutral read speech the tests
# use (LibriVox, ALSA and pyannote sample clips: rate 3.8-4.8 syllables/s, alpha ratio -9 to -20 dB, range
# 5-11 semitones). Pitch level is in semitones from the speaker's sex norm (120 Hz for voices with a median
# under 165 Hz, else 210 Hz); range is the 5th-95th percentile span in semitones; loudness the RMS of the
# speech in dBFS (broadcast-normalised speech sits near -26); effort the alpha ratio (energy 1-5 kHz over
# 50 Hz-1 kHz) in dB; rate in syllable nuclei per second of speech.
NEUTRAL = {
    "pitch_level": (0.0, 2.5),
    "pitch_range": (9.0, 3.0),
    "loudness": (-26.0, 6.0),
    "effort": (-14.0, 5.0),
    "rate": (4.5, 1.0),
}
SPREAD = 1.5  # how far (in z) a clip's cues typically sit from its emotion's profile: flattens the scores
SEX_SPLIT, MALE_NORM, FEMALE_NORM = 165.0, 120.0, 210.0  # Hz
PROSODY_ACCURACY = "15% right on 40 acted/TV clips, about chance"
HEAD_NOTE = "learned from acted English speech: reliable on acted speech, near chance on TV dialogue"


class EmotionScore(BaseModel):
    label: str
    probability: float = Field(description="0 to 1")


class Prosody(BaseModel):
    """The cues the prosody backend reads, measured on the speech of the range."""

    median_f0_hz: float | None = Field(description="median pitch of the voiced speech")
    pitch_range_semitones: float | None = Field(description="5th to 95th percentile pitch span")
    loudness_dbfs: float = Field(description="RMS level of the speech")
    alpha_ratio_db: float = Field(
        description="energy 1-5 kHz over 50 Hz-1 kHz of voiced speech (all speech when none is voiced): "
        "higher = more vocal effort"
    )
    syllables_per_second: float = Field(description="syllable nuclei (intensity peaks) per second of speech")
    speech_seconds: float


class EmotionOutput(ToolOutput):
    label: str = Field(description="the likeliest emotion")
    confidence: float = Field(description="the likeliest emotion's probability")
    scores: list[EmotionScore] = Field(description="every label the backend knows, likeliest first")
    backend: str = Field(description="what produced the scores: prosody (a weak rule) or a model")
    prosody: Prosody | None = Field(None, description="the measured cues, for the prosody backend")

    def findings(self) -> Findings:
        rest = ", ".join(f"{s.label} ({s.probability:.2f})" for s in self.scores[1:4])
        text = f"Emotion: {self.label} (p={self.confidence:.2f}); then {rest}"
        if self.backend.startswith("head"):
            text = f"{text} [{HEAD_NOTE}]"
        elif self.prosody is None:
            text = f"{text} [{self.backend}]"
        else:
            text = f"{text} [weak guess from prosody alone, {PROSODY_ACCURACY}; arousal only, valence is not measured]"
        return Findings(
            facts=text,
            # prosody is too weak to rank the rest; a model's ranking is kept whole: the best-scored option is its pick
            labels=[self.label] if self.prosody is not None else [s.label for s in self.scores],
            attribute=Attribute(name="emotion", values=[s.label for s in self.scores]),
        )


class EmotionModel(Protocol):
    """An emotion backend: the scores of one stretch of audio."""

    def __call__(self, audio: Audio) -> EmotionOutput: ...


def _speech(audio: Audio) -> np.ndarray:
    from copilot.tools.speaker import speech_of

    speech = speech_of(audio)
    if len(speech) < MIN_SPEECH * SAMPLE_RATE:
        raise NothingToMeasure(
            f"only {len(speech) / SAMPLE_RATE:.1f} s of speech in the range: at least {MIN_SPEECH} s is needed"
        )
    return speech


def measure(speech: np.ndarray) -> Prosody:
    """The prosodic cues of a stretch of speech (16 kHz, silence already removed)."""
    import librosa
    from scipy.signal import find_peaks

    from copilot.tools.measures import PITCH_FRAME, PITCH_HOP, PITCH_MAX, PITCH_MIN, PITCH_RESOLUTION

    f0, voiced, _ = librosa.pyin(
        speech, fmin=PITCH_MIN, fmax=PITCH_MAX, sr=SAMPLE_RATE, frame_length=PITCH_FRAME, hop_length=PITCH_HOP,
        resolution=PITCH_RESOLUTION,
    )  # fmt: skip
    hz = f0[voiced]
    # 25 ms frames every 10 ms, aligned with pYIN's (centred) frames
    frames = librosa.util.frame(np.pad(speech, 200), frame_length=400, hop_length=PITCH_HOP)[:, : len(voiced)]
    power = np.abs(np.fft.rfft(frames * np.hanning(400)[:, None], axis=0)) ** 2
    freqs = np.fft.rfftfreq(400, 1 / SAMPLE_RATE)
    vowels = voiced if voiced.any() else np.ones_like(voiced)
    low = power[(freqs >= 50) & (freqs < 1000)][:, vowels].sum()
    high = power[(freqs >= 1000) & (freqs < 5000)][:, vowels].sum()
    intensity = 10 * np.log10(np.mean(frames**2, axis=0) + 1e-10)
    intensity = np.convolve(intensity, np.hanning(5) / np.hanning(5).sum(), mode="same")
    peaks, _ = find_peaks(intensity, prominence=2.0, distance=5)  # dips of 2 dB, at most 20 syllables/s
    nuclei = [p for p in peaks if intensity[p] > intensity.max() - 25]
    seconds = len(speech) / SAMPLE_RATE
    spread = float(12 * np.log2(np.percentile(hz, 95) / np.percentile(hz, 5))) if hz.size > 10 else None
    return Prosody(
        median_f0_hz=round(float(np.median(hz)), 1) if hz.size else None,
        pitch_range_semitones=round(spread, 2) if spread is not None else None,
        loudness_dbfs=round(float(10 * np.log10(np.mean(speech.astype(np.float64) ** 2) + 1e-12)), 2),
        alpha_ratio_db=round(float(10 * np.log10((high + 1e-12) / (low + 1e-12))), 2),
        syllables_per_second=round(len(nuclei) / seconds, 2),
        speech_seconds=round(seconds, 2),
    )


def cue_z(p: Prosody) -> np.ndarray:
    """The cues as z-scores against neutral speech, in `CUES` order (0 for a cue that could not be measured)."""
    level = None
    if p.median_f0_hz is not None:
        level = 12 * np.log2(p.median_f0_hz / (MALE_NORM if p.median_f0_hz < SEX_SPLIT else FEMALE_NORM))
    values = (level, p.pitch_range_semitones, p.loudness_dbfs, p.alpha_ratio_db, p.syllables_per_second)
    z = [0.0 if v is None else (v - NEUTRAL[c][0]) / NEUTRAL[c][1] for c, v in zip(CUES, values, strict=True)]
    return np.clip(z, -3, 3)


def prosody_scores(p: Prosody) -> list[EmotionScore]:
    """Each label's probability: a Gaussian around its cue profile, normalised over the labels."""
    z = cue_z(p)
    logits = np.array([-np.sum((z - np.array(PROFILES[label])) ** 2) / (2 * SPREAD**2) for label in LABELS])
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    ranked = sorted(zip(LABELS, probs, strict=True), key=lambda x: -x[1])
    return [EmotionScore(label=label, probability=round(float(q), 3)) for label, q in ranked]


def classify_prosody(audio: Audio) -> EmotionOutput:
    """The prosody backend's guess for a stretch of audio."""
    p = measure(_speech(audio))
    scores = prosody_scores(p)
    return EmotionOutput(
        label=scores[0].label, confidence=scores[0].probability, scores=scores, backend="prosody", prosody=p
    )


def load_prosody(path: None) -> EmotionModel:
    """The prosody backend: the rule above (no model file)."""
    return classify_prosody


def load_head(path: Path | None) -> EmotionModel:
    """The default emotion backend: the project's emotion head (or the head file at ``path``), and the prosody
    rule for ranges with less speech than the head was trained on."""
    from copilot.heads.as_tools import classify
    from copilot.heads.features import encoder_for
    from copilot.heads.head import load, recorded_sha256
    from copilot.heads.store import shipped_head
    from copilot.tools.vad import speech_segments

    head = shipped_head("emotion") if path is None else load(path, recorded_sha256(path))
    enc = encoder_for(head)

    def run(audio: Audio) -> EmotionOutput:
        if sum(s.duration for s in speech_segments(audio)) < HEAD_MIN_SPEECH:
            return classify_prosody(audio)
        found = classify(head, enc.extract(audio))
        scores = [EmotionScore(label=s.label, probability=s.probability) for s in found]
        return EmotionOutput(
            label=scores[0].label, confidence=scores[0].probability, scores=scores, backend=f"head:{head.name}"
        )

    return run


# the shipped head's hash in the version: outputs cached before a retraining are not read after it
@tool(version=f"3-{HEADS['emotion'][:12]}", serves=("emotion", "feel", "mood"))
def emotion(args: SpanInput, clips: Clips) -> EmotionOutput:
    """Recognise the emotion in the speaker's voice (neutral, happy, sad, angry, fear, disgust), with a probability for each.

    The emotion the voice expresses, every label with its probability, likeliest first. By default a
    classifier learned from acted English studio speech (CREMA-D): on actors it had not heard it named the
    right one of six emotions 62% of the time (chance 17%), and on 21 such clips it ranked the right one of
    four options first 81% of the time; on TV dialogue (natural emotion, laughter, music) it was near chance
    (32% for four options). So trust it on clear, acted-sounding speech and much less on conversation;
    `backend` says which method answered. It hears how things are said, not the words. With under 1 s
    of speech it falls back to a weak prosody guess (near chance), and it needs at least 0.5 s. When a
    speech-emotion model is configured (backend transformers), its labels are whatever that model was
    trained on. Use start/end to judge one speaker's turn."""
    audio = args.clip(clips)
    model: EmotionModel = backends.load("emotion")
    return model(audio)
