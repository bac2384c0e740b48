"""Sound events: which of the 521 AudioSet classes a clip holds, and when (YAMNet int8, ONNX)."""

from __future__ import annotations

import csv
import re
import shutil
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from copilot import backends, models
from copilot.audio import SAMPLE_RATE, Audio
from copilot.files import atomic_write
from copilot.progress import progress
from copilot.tool import Attribute, Clips, Findings, Segment, SpanInput, ToolOutput, tool

if TYPE_CHECKING:
    import onnxruntime as ort

# YAMNet's published front end (tensorflow/models, research/audioset/yamnet/params.py and features.py).
WINDOW, HOP, FFT = 400, 160, 512  # 25 ms periodic Hann window, 10 ms hop, FFT of the next power of two
MEL_BANDS, MEL_LOW, MEL_HIGH = 64, 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH, PATCH_HOP = 96, 48  # frames: 0.96 s patches every 0.48 s
BLOCK = 125  # patches scored at a time (60 s)
PATCH_SECONDS, PATCH_HOP_SECONDS = PATCH * HOP / SAMPLE_RATE, PATCH_HOP * HOP / SAMPLE_RATE
# The int8 model's own quantisation, read from its initializers audio_scale/audio_zero_point and
# class_scores_scale/class_scores_zero_point (the zip is sha256-pinned, so they cannot drift).
# The input range, 0.0479 * (0 - 144) = -6.90, is log(0.001): YAMNet's log offset, not torchaudio's 1e-6.
IN_SCALE, IN_ZERO = 0.04793788, 144
OUT_SCALE, OUT_ZERO = 0.7565417, 190  # the output is a quantised logit: sigmoid still to apply
# AudioSet's "Speech" branch: what `background` leaves out.
SPEECH = frozenset(
    {"Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue", "Babbling", "Speech synthesizer"}
)
MIN_SCORE = 0.1  # labels below this are noise, not evidence
LABEL_SCORE = 0.3  # a label this likely can name an answer option: the int8 model's steps are 0.32, 0.50, 0.68 ...
# AudioSet's broad parent classes, and Silence: listed, but not counted in top_k, so "the one top sound" is never
# just "Animal" or "Silence".
UNCOUNTED = frozenset({
    "Silence", "Animal", "Domestic animals, pets", "Livestock, farm animals, working animals", "Wild animals", "Fowl",
    "Music", "Musical instrument", "Vehicle", "Motor vehicle (road)", "Natural sounds", "Domestic sounds, home sounds",
})
# From the AudioSet ontology: the animal class a vocalisation sits under ("Meow" is a child of "Cat").
SOURCE = {
    **dict.fromkeys(["Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)"], ("Dog",)),
    **dict.fromkeys(["Purr", "Meow", "Hiss", "Caterwaul"], ("Cat",)),
    **dict.fromkeys(["Clip-clop", "Neigh, whinny"], ("Horse",)),
    **dict.fromkeys(["Cluck", "Crowing, cock-a-doodle-doo"], ("Chicken, rooster",)),
    **dict.fromkeys(["Chirp, tweet", "Squawk", "Bird vocalization, bird call, bird song"], ("Bird",)),
    **dict.fromkeys(["Cricket", "Mosquito", "Fly, housefly", "Bee, wasp, etc."], ("Insect",)),
    "Moo": ("Cattle, bovinae",), "Oink": ("Pig",), "Bleat": ("Goat", "Sheep"), "Gobble": ("Turkey",),
    "Quack": ("Duck",), "Honk": ("Goose",), "Roar": ("Roaring cats (lions, tigers)",), "Coo": ("Pigeon, dove",),
    "Caw": ("Crow",), "Hoot": ("Owl",), "Croak": ("Frog",), "Rattle": ("Snake",), "Mouse": ("Rodents, rats, mice",),
}
# Everyday names, used instead of AudioSet's own where those are scientific, plural or mixed: "Chicken, rooster"
# is any chicken, and only its calls tell a hen (Cluck) from a rooster (Crowing).
COMMON_NAMES = {
    "Cattle, bovinae": ("cattle", "cow"), "Chicken, rooster": ("chicken",), "Cluck": ("cluck", "hen"),
    "Crowing, cock-a-doodle-doo": ("crowing", "rooster"), "Roaring cats (lions, tigers)": ("lion", "tiger"),
    "Canidae, dogs, wolves": ("dog", "wolf"), "Rodents, rats, mice": ("rodent", "rat", "mouse"),
    "Fly, housefly": ("fly", "housefly"), "Bee, wasp, etc.": ("bee", "wasp"), "Whale vocalization": ("whale",),
}
# The animals that the labels can name in everyday words: the closed set an "animal" attribute links options to.
ANIMALS = (
    "dog", "cat", "horse", "cow", "pig", "goat", "sheep", "chicken", "hen", "rooster", "duck", "goose", "turkey",
    "bird", "crow", "owl", "pigeon", "frog", "snake", "insect", "cricket", "mosquito", "bee", "lion", "tiger", "whale",
    "rat", "mouse",
)
_lock = threading.Lock()


class SoundEventsInput(SpanInput):
    top_k: int = Field(5, ge=5, le=50, description="how many labels to list in `sounds` and `background`, 5 or more")
    threshold: float = Field(0.5, gt=0, lt=1, description="score above which a 0.96 s window counts as an event")


class Label(BaseModel):
    label: str = Field(description="AudioSet class name")
    score: float = Field(description="highest score over the analysed range, 0 to 1")


class SoundEvent(Segment):
    label: str = Field(description="AudioSet class name")
    score: float = Field(description="highest score inside the event, 0 to 1")


class SoundEventsOutput(ToolOutput):
    sounds: list[Label] = Field(description="the clip's top AudioSet labels, best first, speech included")
    background: list[Label] = Field(
        description="the top labels outside AudioSet's speech classes: sounds besides talking"
    )
    events: list[SoundEvent] = Field(description="when each listed label scores above the threshold, by start time")

    def findings(self) -> Findings:
        """Labels: the names of the sounds that may be present (score above `LABEL_SCORE`), likeliest first: each
        AudioSet synonym on its own ("Bird vocalization, bird call, bird song" gives three names), or the class's
        everyday names (`COMMON_NAMES`), then the animal a vocalisation comes from (Meow gives Cat).

        Named values: the likeliest sound besides speech, not a broad class (Animal, Vehicle) nor Silence: "what's that
        noise in the background?" is answered with it. Vocabulary: every sound the tagger can name, in the words of the
        labels: a sound named in a question and missing from the labels was not heard. Attribute: animals: "which item
        does this animal need?" links each option to an animal (litter box: cat), and the option linked to the
        likeliest animal heard is the answer."""
        scores = {x.label: x.score for x in self.sounds + self.background if x.score > LABEL_SCORE}
        likely = sorted(scores.items(), key=lambda x: -x[1])
        top = next((x.label for x in self.background if x.label not in UNCOUNTED and x.score > LABEL_SCORE), None)
        name = None if top is None else _names([top])[0]
        return Findings(
            facts=self._facts(),
            labels=_names([n for label, _ in likely for n in (label, *SOURCE.get(label, ()))]),
            attribute=Attribute(name="animal", values=list(ANIMALS)),
            vocabulary=list(_vocabulary()),
            named_values={} if name is None else {"sound": name, "noise": name},
        )

    def _facts(self) -> str:
        def listing(labels: list[Label]) -> str:
            return ", ".join(f"{x.label} ({x.score:.2f})" for x in labels) or "none"

        # every non-speech label of `sounds` is also in `background`: list each label once, the answer step reads less
        heard = {x.label for x in self.background}
        speech = [x for x in self.sounds if x.label not in heard]
        events = ", ".join(f"{e.label} {e.start:.2f}-{e.end:.2f}" for e in self.events[:8])
        more = f" (+{len(self.events) - 8} more)" if len(self.events) > 8 else ""
        return (
            f"Speech sounds: {listing(speech)}; background (non-speech): {listing(self.background)}; "
            f"events: {events or 'none'}{more}"
        )


@cache
def _model() -> tuple[ort.InferenceSession, tuple[str, ...]]:
    """The YAMNet ONNX session and its 521 class names."""
    import onnxruntime as ort

    folder = models.ensure("yamnet")
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    # No QDQ fusion: the fused int8 kernels saturate on CPUs without VNNI (AVX2 only: a bark scored 0.50, not 0.82),
    # while dequantise -> float conv -> quantise gives the model's reference scores on every CPU (2.5x slower).
    opts.add_session_config_entry("session.disable_quant_qdq", "1")
    session = ort.InferenceSession(str(_extract(folder / "YamNet_w8a8.onnx.zip", folder / "YamNet_w8a8")), opts)
    return session, class_names()


@cache
def _vocabulary() -> tuple[str, ...]:
    """Every class name in the words of the labels of `SoundEventsOutput.findings`, worked out once: each sound_events step lists it."""
    return tuple(_names(class_names()))


@cache
def class_names() -> tuple[str, ...]:
    """AudioSet's 521 class names as YAMNet orders them."""
    with (models.ensure("yamnet") / "yamnet_class_map.csv").open(newline="") as f:
        return tuple(row["display_name"] for row in csv.DictReader(f))


def _extract(zip_path: Path, dest: Path) -> Path:
    """The model inside the checksummed zip, extracted once (model.onnx and its external model.data)
    and re-extracted whenever a file's CRC differs from the zip's."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            out = dest / Path(info.filename).name
            if out.exists() and zlib.crc32(out.read_bytes()) == info.CRC:
                continue
            with zf.open(info) as src, atomic_write(out) as f:
                shutil.copyfileobj(src, f)
    return dest / "model.onnx"


@cache
def _mel_matrix() -> np.ndarray:
    """tf.signal.linear_to_mel_weight_matrix as YAMNet uses it: HTK-mel triangles, the DC bin left out."""

    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(hz) / 700.0)

    bins = mel(np.linspace(0, SAMPLE_RATE / 2, FFT // 2 + 1))[1:, None]
    edges = np.linspace(mel(MEL_LOW), mel(MEL_HIGH), MEL_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    return np.vstack([np.zeros((1, MEL_BANDS)), weights]).astype(np.float32)


def log_mel_patches(samples: np.ndarray) -> np.ndarray:
    """YAMNet's input, (patches, 96 frames, 64 bands); the clip is zero-padded to whole patches as YAMNet does,
    so a clip shorter than one patch still gives one. It holds the whole spectrogram: `patch_scores` gives it a
    minute at a time."""
    first = (PATCH - 1) * HOP + WINDOW  # samples one patch needs
    hop = PATCH_HOP * HOP
    hops = -(-max(len(samples) - first, 0) // hop)
    padded = np.zeros(first + hops * hop, np.float32)
    padded[: len(samples)] = samples
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)  # periodic Hann
    log_mel = np.log(np.abs(np.fft.rfft(frames * window, FFT)) @ _mel_matrix() + LOG_OFFSET)
    return np.lib.stride_tricks.sliding_window_view(log_mel, PATCH, axis=0)[::PATCH_HOP].transpose(0, 2, 1)


def patch_scores(samples: np.ndarray) -> np.ndarray:
    """YAMNet's 521 class scores (0 to 1) for every 0.96 s patch, one patch every 0.48 s.

    The clip is read `BLOCK` patches (60 s) at a time, each block's samples exactly those its patches cover, so the
    spectrogram of a long clip is never held whole and the patches are those of the whole clip."""
    session, names = _model()
    first, hop = (PATCH - 1) * HOP + WINDOW, PATCH_HOP * HOP  # samples of the first patch, and between patches
    count = 1 + -(-max(len(samples) - first, 0) // hop)  # as `log_mel_patches` pads: one patch at least
    out = np.empty((count, len(names)), np.uint8)
    with _lock, progress("sound events", len(samples) / SAMPLE_RATE) as advance:
        for k in range(0, count, BLOCK):
            stop = min(k + BLOCK, count)
            patches = log_mel_patches(samples[k * hop : (stop - 1) * hop + first])
            quantised = np.clip(np.round(patches / IN_SCALE + IN_ZERO), 0, 255).astype(np.uint8)
            for i, patch in enumerate(quantised):
                out[k + i] = session.run(None, {"audio": patch[None, None]})[0][0]
            advance((stop - k) * hop / SAMPLE_RATE)
    return 1 / (1 + np.exp(-OUT_SCALE * (out.astype(np.float64) - OUT_ZERO)))


@dataclass(frozen=True)
class Tagger:
    """A tags backend: class names, and a scorer giving every class's score (0 to 1) for windows of
    ``window`` seconds every ``hop`` seconds, shape (windows, classes)."""

    names: tuple[str, ...]
    window: float
    hop: float
    scores: Callable[[np.ndarray], np.ndarray]


def load_yamnet(path: None) -> Tagger:
    """The default tags backend: YAMNet int8 from the model store, 0.96 s patches every 0.48 s."""
    return Tagger(_model()[1], PATCH_SECONDS, PATCH_HOP_SECONDS, patch_scores)


def _names(classes: Iterable[str]) -> list[str]:
    """AudioSet class names as the labels give them: each synonym on its own, or the everyday names."""
    expanded = [part for name in classes for part in COMMON_NAMES.get(name, re.split(r", (?![^(]*\))", name))]
    return list(dict.fromkeys(expanded))


def _top(scores: np.ndarray, names: tuple[str, ...], k: int, skip: frozenset[str] = frozenset()) -> list[Label]:
    """The ``k`` best-scoring classes not in ``skip``, down to `MIN_SCORE`, with the `UNCOUNTED` ones scoring
    above the last of them listed as well."""
    order = [i for i in np.argsort(-scores, kind="stable") if names[i] not in skip and scores[i] >= MIN_SCORE]
    specific = [i for i in order if names[i] not in UNCOUNTED][:k]
    floor = scores[specific[-1]] if len(specific) == k else MIN_SCORE
    picked = [i for i in order if i in specific or (names[i] in UNCOUNTED and scores[i] >= floor)]
    return [Label(label=names[i], score=round(float(scores[i]), 3)) for i in picked]


def _events(scores: np.ndarray, tagger: Tagger, labels: set[str], threshold: float, audio: Audio) -> list[SoundEvent]:
    """Runs of consecutive windows above ``threshold`` for each of ``labels``, in seconds of the original clip.

    Runs whose windows touch (one window below threshold between them) are one event.
    """
    events: list[SoundEvent] = []
    for i in (i for i, name in enumerate(tagger.names) if name in labels):
        above = np.concatenate([[False], scores[:, i] > threshold, [False]])
        edges = np.flatnonzero(np.diff(above.astype(np.int8)))
        spans: list[list[float]] = []
        for first, stop in zip(edges[::2], edges[1::2], strict=True):  # the padding makes edges pair up
            start = first * tagger.hop
            end = min((stop - 1) * tagger.hop + tagger.window, audio.duration)
            score = float(scores[first:stop, i].max())
            if spans and start <= spans[-1][1]:
                spans[-1][1:] = [end, max(score, spans[-1][2])]
            else:
                spans.append([start, end, score])
        events += [
            SoundEvent(
                label=tagger.names[i],
                start=round(audio.offset + a, 2),
                end=round(audio.offset + b, 2),
                score=round(p, 3),
            )
            for a, b, p in spans
        ]
    return sorted(events, key=lambda e: (e.start, -e.score))


@tool(version="5", serves=("animal", "background sound", "sound behind"))
def sound_events(args: SoundEventsInput, clips: Clips) -> SoundEventsOutput:
    """Tag the sounds (animals, vehicles, music, weather, alarms, crowds, speech: 521 AudioSet classes) with times; `background` lists the sounds behind the speech.

    Tag the sounds in a clip with YAMNet, Google's AudioSet classifier of 521 classes: animals (dog, cat,
    birds, farm animals), vehicles, alarms and bells, music and instruments, water and weather (rain, wind,
    thunder), household and crowd sounds (applause, laughter), and speech itself. Returns `sounds`: the top_k
    classes, best first (broad parents such as Animal or Music, and Silence, come along without counting; the
    top class can be a near miss, so at least 5 are listed); `background`: the top classes outside AudioSet's
    speech classes (Speech, Conversation, Narration, Speech synthesizer, ...): use it for "what sound is behind
    the speaker";
    `events`: when each listed class scores above `threshold`, in seconds. A score (0 to 1) is the model's
    confidence that the sound is present, each class on its own: several can be high at once, and a class
    comes with its parents (Dog with Animal, Domestic animals). Above 0.5 means likely present; this int8
    model gives coarse steps (0.32, 0.50, 0.68, 0.82, 0.91, 0.95 ...). A label's score is its highest over time.
    Scores below 0.1 are left out. Limits: each score covers a 0.96 s window every 0.48 s and events span whole
    windows, so their edges can be up to 1 s off; a quiet sound under loud speech is often missed or mistaken
    for a similar one (background sounds are mostly caught in the pauses); it does not tell who speaks, what
    is said, or how many sources there are."""
    audio = args.clip(clips)
    tagger: Tagger = backends.load("tags")
    scores = tagger.scores(audio.samples)
    clip_scores = scores.max(axis=0)
    sounds = _top(clip_scores, tagger.names, args.top_k)
    background = _top(clip_scores, tagger.names, args.top_k, skip=SPEECH)
    listed = {x.label for x in sounds + background}
    events = _events(scores, tagger, listed, args.threshold, audio)
    return SoundEventsOutput(sounds=sounds, background=background, events=events)
