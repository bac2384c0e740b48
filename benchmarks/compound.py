"""Compound questions (issue #22): several questions in one, each part's truth known by construction.

    python -m copilot.benchmarks.compound make /tmp/compound [--seed 0]
    python -m copilot.benchmarks.compound run /tmp/compound --out /tmp/compound/after.jsonl [--planner embedded] [--limit N]
    python -m copilot.benchmarks.compound report /tmp/compound /tmp/compound/after.jsonl [--compare before.jsonl]

``make`` writes 14 clips (16 kHz mono wav) into ``DIR/clips`` and 44 questions of two to four parts into
``DIR/items.jsonl``, and what each clip is made of into ``DIR/clips.jsonl``. A clip is one to three espeak-ng
talkers (clearly male or female voices, a different one each) taking whole-sentence turns of 2-4 s with 0.6 s
pauses, over one background recording of gcompris-qt-data (rain, a dog barking, applause, a train, a piano, a cow,
sheep) or over nothing, its whole brought to a loudness band (quiet about -35 LUFS, about broadcast level -23 LUFS,
loud about -12 LUFS) measured with pyloudnorm on the written file. A part's truth is a speaker count, a background
sound, the gender of one talker or of the first or second to speak, content words of the sentences, the duration,
the loudness band, or nothing at all: a part no tool here can measure (the speaker's shirt colour).

``run`` asks the copilot each question (resumable: an item already in ``--out`` is not asked again) and ``report``
scores each part from its own text when the answer has one per part (``answer.parts``), else from the whole answer.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pyloudnorm
import soundfile as sf
from pydantic import BaseModel, Field, model_validator

from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.scorers import keyword_hit
from copilot.espeak import speak
from copilot.question.figures import WORDS

PartKind = Literal[
    "count", "sound", "sound_yes", "gender", "gender_first", "gender_second", "words", "duration", "loudness",
    "unmeasurable",
]
Band = Literal["quiet", "moderate", "loud"]


class Kind(NamedTuple):
    """What a part of one kind asks, the type of its truth, and the tools that can measure it."""

    truth: type
    tools: tuple[str, ...]
    about: str


KINDS: dict[PartKind, Kind] = {
    "count": Kind(int, ("diarization",), "how many people speak"),
    "sound": Kind(list, ("sound_events",), "the background sound: any of the words names it"),
    "sound_yes": Kind(bool, ("sound_events",), "whether a named sound is in the clip: yes or no"),
    "gender": Kind(str, ("gender",), "male or female, of a clip's one talker"),
    "gender_first": Kind(str, ("gender",), "male or female, of the first to speak (gender with by_speaker)"),
    "gender_second": Kind(str, ("gender",), "male or female, of the second to speak (gender with by_speaker)"),
    "words": Kind(list, ("asr",), "what is said: any of the content words"),
    "duration": Kind(float, ("duration",), "seconds, right within 5% or 0.3 s"),
    "loudness": Kind(str, ("loudness",), "quiet (about -35 LUFS), moderate (-23) or loud (-12)"),
    "unmeasurable": Kind(type(None), (), "nothing a tool here measures: right when the answer says so"),
}
"""Every part kind: its truth's type, the tools that serve it, and what it asks."""

BY_SPEAKER: set[PartKind] = {"gender_first", "gender_second"}
"""Kinds whose gender step serves them only with ``by_speaker`` true."""


class Part(BaseModel):
    """One question of a compound question, asked on its own, with its truth."""

    kind: PartKind
    question: str
    truth: bool | int | float | str | list[str] | None

    @model_validator(mode="after")
    def _truth_fits(self) -> Part:
        if type(self.truth) is not KINDS[self.kind].truth:
            raise ValueError(f"a {self.kind} part's truth is a {KINDS[self.kind].truth.__name__}, not {self.truth!r}")
        return self


class Item(BaseModel):
    """A compound question about one clip (``audio``, relative to the set's folder) and its parts, in order."""

    id: str
    audio: str
    question: str
    parts: list[Part] = Field(min_length=2, max_length=4)


class Answered(BaseModel):
    """One line of a results file: the copilot's answer to an item, or the error that stopped it."""

    id: str
    answer: dict[str, Any] | None = None
    error: str | None = None


# --- the clips --------------------------------------------------------------------------------------------------

MALE = [("en-us+m3", 35), ("en-gb-x-rp+m4", 20), ("en+m7", 50), ("en-gb-scotland+m2", 45)]
FEMALE = [("en-us+f2", 80), ("en+f3", 85), ("en-gb-x-rp+f1", 78), ("en+f5", 80)]
"""(espeak-ng voice, pitch): clearly male and clearly female talkers, a clip's drawn without repeats. Their median
F0 (pYIN): men 73-107 Hz, women 243-291 Hz; not en-gb+f4 at 75 (the bundled example's second voice), which reads
132 Hz, where the gender tool calls it male."""

SPEED = 150  # espeak-ng words per minute, changed for a sentence only to bring its turn into TURN
TURN = (2.0, 4.0)  # seconds a turn lasts
PAUSE = 0.6  # seconds after every turn
LEAD = 1.5  # seconds of the background alone (or silence) before the first turn
SPEECH_LUFS = -23.0  # the speech's level in the mix, before the mix is brought to its band
TARGETS: dict[Band, float] = {"quiet": -35.0, "moderate": -23.0, "loud": -12.0}
CEILING = 0.89  # about -1 dBFS: a limiter holds the peaks of a loud mix under it, and its level is made up again
LIMITER = 160  # samples (10 ms): the limiter's look-ahead, and its gain's ramps are as long
GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")


class Background(NamedTuple):
    """A gcompris-qt-data recording looped under the speech, the words that name it, its level under the speech
    in LU, the silence after each repeat (a bark is a bark, not a growl), and where the part looped ends."""

    rcc: str
    member: str
    words: list[str]
    under: float
    gap: float
    until: float | None = None


BACKGROUNDS = {
    "rain": Background("memory-sound.rcc", "LRRain_in_garden_01_LA_cut.ogg", ["rain", "raindrop"], 10, 0),
    "dog": Background("memory-sound.rcc", "LRBark_1_LA_cut.ogg", ["dog", "bark", "bow-wow"], 8, 0.8),
    "applause": Background("memory-sound.rcc", "LRApplauses_1_LA_cut.ogg", ["applause", "clapping", "applaud"], 8, 0),
    "train": Background(  # its brakes squeal after 2.4 s, which the sound tagger takes for birds
        "memory-sound.rcc", "LRTrain_slowing_down_01_LA_cut.ogg", ["train", "rail", "railway", "railroad"], 6, 0, 2.4
    ),
    "piano": Background("instruments.rcc", "piano.ogg", ["piano"], 8, 0),
    "cow": Background("explore_farm_animals.rcc", "cow.ogg", ["cow", "moo", "cattle"], 12, 0.8),
    "sheep": Background("explore_farm_animals.rcc", "sheep.ogg", ["sheep", "bleat", "lamb"], 14, 1.0),
}


class Clip(NamedTuple):
    """A clip to build: its talkers' genders ("MF": a man, then a woman), its background, its loudness band and
    its turns (talker index, sentence). No sentence names a person or a city: parts ask for those as unmeasurable."""

    name: str
    talkers: str
    background: str | None
    band: Band
    turns: list[tuple[int, str]]


CLIPS = [
    Clip("picnic", "MF", "rain", "moderate", [
        (0, "Shall we plan the team picnic for Saturday?"),
        (1, "Yes, and I can bring sandwiches and some fruit."),
        (0, "I will book a table at the park by the river."),
        (1, "Good, see you at the park before lunch."),
    ]),
    Clip("dentist", "F", None, "quiet", [
        (0, "The dentist moved my appointment to Thursday morning."),
        (0, "I must bring the blue folder with my papers."),
        (0, "Afterwards I will buy fresh bread at the bakery."),
    ]),
    Clip("ceremony", "MFM", "applause", "loud", [
        (0, "Welcome, everyone, to the museum on this Friday evening."),
        (1, "Tonight we present the prize for the finest garden."),
        (2, "The winner receives a silver trophy and a basket."),
        (0, "Please stay for coffee in the main hall."),
        (1, "Thank you all, and enjoy the evening."),
    ]),
    Clip("vet", "FM", "dog", "moderate", [
        (0, "The dog needs to see the vet on Monday."),
        (1, "I will take him there after lunch in the car."),
        (0, "Bring the red leash, the old one is broken."),
        (1, "Fine, and I will buy more food on the way back."),
    ]),
    Clip("station", "M", "train", "moderate", [
        (0, "I am waiting at the station for the night train."),
        (0, "My sister gave me a small camera for the journey."),
        (0, "I hope to reach the harbour before midnight."),
    ]),
    Clip("rehearsal", "MM", "piano", "quiet", [
        (0, "The rehearsal starts on Wednesday in the old church."),
        (1, "Then I will bring my violin and the music stand."),
        (0, "Remember that the concert is in the evening."),
        (1, "I will print the programmes tonight."),
    ]),
    Clip("moving", "FF", None, "loud", [
        (0, "The moving van arrives early on Tuesday."),
        (1, "Then we should pack the kitchen boxes tonight."),
        (0, "I will wrap the mirror in a thick blanket."),
        (1, "And the plants can travel in my car."),
    ]),
    Clip("farm", "F", "cow", "moderate", [
        (0, "The cows go back to the barn every evening."),
        (0, "Tomorrow the farmer will repair the wooden gate."),
        (0, "We sell fresh milk at the market in the village."),
    ]),
    Clip("trip", "FMF", None, "moderate", [
        (0, "The school trip to the zoo is in June."),
        (1, "The bus leaves from the main gate after breakfast."),
        (2, "Every child should bring a hat and a bottle of water."),
        (0, "We will eat our lunch near the penguins."),
        (1, "And we come back before dinner."),
    ]),
    Clip("shearing", "MF", "sheep", "loud", [
        (0, "We shear the sheep in April, before the heat."),
        (1, "I will bring the big scissors and the gloves."),
        (0, "The wool goes to the mill beside the lake."),
        (1, "Then we can knit warm jumpers for the winter."),
    ]),
    Clip("walk", "M", "rain", "quiet", [
        (0, "I forgot my umbrella at the office again."),
        (0, "I hope the rain stops before the football match."),
        (0, "I will walk home across the old bridge."),
    ]),
    Clip("airport", "FM", "train", "loud", [
        (0, "Our train to the airport is running late."),
        (1, "Then let us buy coffee and a newspaper."),
        (0, "The flight leaves on Sunday afternoon."),
        (1, "We still have plenty of time, do not worry."),
    ]),
    Clip("party", "MFM", "dog", "quiet", [
        (0, "The garden party at the cottage is in October."),
        (1, "I can bake a chocolate cake for everyone."),
        (2, "Keep the dog away from the cake this time."),
        (0, "I will hang lanterns in the apple tree."),
        (1, "That sounds lovely, see you there."),
    ]),
    Clip("award", "F", "applause", "loud", [
        (0, "Thank you for this wonderful award tonight."),
        (0, "I share it with my whole team at the library."),
        (0, "We will open the new reading room in autumn."),
    ]),
]


CLIPS_BY_NAME = {clip.name: clip for clip in CLIPS}


class Ask(NamedTuple):
    """A part to ask: its kind, its question, and for ``words`` the right words, for ``sound_yes`` the backgrounds
    that make the answer yes. The other kinds' truths come from the clip."""

    kind: PartKind
    question: str
    given: tuple[str, ...] = ()


QUESTIONS: list[tuple[str, str, list[Ask]]] = [
    ("picnic", "How many people speak, and what is the sound behind them?", [
        Ask("count", "How many people speak?"),
        Ask("sound", "What is the sound behind them?")]),
    ("picnic", "Who speaks first, a man or a woman, and which day are they planning for?", [
        Ask("gender_first", "Who speaks first, a man or a woman?"),
        Ask("words", "Which day are they planning for?", ("saturday",))]),
    ("picnic", "How loud is this recording, and what is the woman's name?", [
        Ask("loudness", "How loud is this recording?"),
        Ask("unmeasurable", "What is the woman's name?")]),
    ("dentist", "Is the speaker male or female, and how loud is the clip?", [
        Ask("gender", "Is the speaker male or female?"),
        Ask("loudness", "How loud is the clip?")]),
    ("dentist", "How long is the recording, what day is the appointment, and is there any music in the background?", [
        Ask("duration", "How long is the recording?"),
        Ask("words", "What day is the appointment?", ("thursday",)),
        Ask("sound_yes", "Is there any music in the background?", ("piano",))]),
    ("dentist", "How many speakers are there, and what does she have to bring?", [
        Ask("count", "How many speakers are there?"),
        Ask("words", "What does she have to bring?", ("folder", "papers"))]),
    ("ceremony", "How many people are talking, and what's that noise in the background?", [
        Ask("count", "How many people are talking?"),
        Ask("sound", "What is the noise in the background?")]),
    ("ceremony", "Is the first voice a man's or a woman's, and what about the second one?", [
        Ask("gender_first", "Is the first voice a man's or a woman's?"),
        Ask("gender_second", "Is the second voice a man's or a woman's?")]),
    ("ceremony", "Where does the event take place, how loud is it, and how long does the recording last?", [
        Ask("words", "Where does the event take place?", ("museum", "hall")),
        Ask("loudness", "How loud is the recording?"),
        Ask("duration", "How long does the recording last?")]),
    ("ceremony", "What prize does the winner get, and which city is this in?", [
        Ask("words", "What prize does the winner get?", ("trophy", "basket")),
        Ask("unmeasurable", "Which city is this in?")]),
    ("vet", "How many people are talking and is there a dog?", [
        Ask("count", "How many people are talking?"),
        Ask("sound_yes", "Is there a dog?", ("dog",))]),
    ("vet", "When is the vet appointment, and is the second person to speak a man or a woman?", [
        Ask("words", "When is the vet appointment?", ("monday",)),
        Ask("gender_second", "Is the second person to speak a man or a woman?")]),
    ("vet", "What animal can be heard, how loud is the recording overall, and what is the first speaker's gender?", [
        Ask("sound", "What animal can be heard?"),
        Ask("loudness", "How loud is the recording overall?"),
        Ask("gender_first", "What is the first speaker's gender?")]),
    ("station", "What's the sound in the background, and is it a man or a woman speaking?", [
        Ask("sound", "What is the sound in the background?"),
        Ask("gender", "Is it a man or a woman speaking?")]),
    ("station", "How long is this clip, and by when does he hope to reach the harbour?", [
        Ask("duration", "How long is this clip?"),
        Ask("words", "By when does he hope to reach the harbour?", ("midnight",))]),
    ("station", ("How many voices are there, how loud is the audio, what did his sister give him, and what colour is "
                "his coat?"), [
        Ask("count", "How many voices are there?"),
        Ask("loudness", "How loud is the audio?"),
        Ask("words", "What did his sister give him?", ("camera",)),
        Ask("unmeasurable", "What colour is his coat?")]),
    ("rehearsal", "How many people speak, and which instrument is playing?", [
        Ask("count", "How many people speak?"),
        Ask("sound", "Which instrument is playing?")]),
    ("rehearsal", "Where is the rehearsal, and is the recording loud or quiet?", [
        Ask("words", "Where is the rehearsal?", ("church",)),
        Ask("loudness", "Is the recording loud or quiet?")]),
    ("rehearsal", "Who speaks first, a man or a woman? And can you hear rain?", [
        Ask("gender_first", "Who speaks first, a man or a woman?"),
        Ask("sound_yes", "Can you hear rain?", ("rain",))]),
    ("rehearsal", "How long is the clip, and on which day does the rehearsal start?", [
        Ask("duration", "How long is the clip?"),
        Ask("words", "On which day does the rehearsal start?", ("wednesday",))]),
    ("moving", "How many people are in this conversation, and how loud is it?", [
        Ask("count", "How many people are in this conversation?"),
        Ask("loudness", "How loud is the conversation?")]),
    ("moving", "Is the first speaker male or female, is the second male or female, and when does the van come?", [
        Ask("gender_first", "Is the first speaker male or female?"),
        Ask("gender_second", "Is the second speaker male or female?"),
        Ask("words", "When does the van come?", ("tuesday",))]),
    ("moving", "Is there a dog barking anywhere, and what will they wrap in a blanket?", [
        Ask("sound_yes", "Is there a dog barking anywhere?", ("dog",)),
        Ask("words", "What will they wrap in a blanket?", ("mirror",))]),
    ("farm", "Which animal do you hear, and what does the speaker say they sell?", [
        Ask("sound", "Which animal do you hear?"),
        Ask("words", "What does the speaker say they sell?", ("milk",))]),
    ("farm", "How long is it, and how loud?", [
        Ask("duration", "How long is it?"),
        Ask("loudness", "How loud is it?")]),
    ("farm", "What is the speaker's gender, how many people talk, and how old is the barn?", [
        Ask("gender", "What is the speaker's gender?"),
        Ask("count", "How many people talk?"),
        Ask("unmeasurable", "How old is the barn?")]),
    ("trip", "How many people speak, and in which month is the trip?", [
        Ask("count", "How many people speak?"),
        Ask("words", "In which month is the trip?", ("june",))]),
    ("trip", "Who speaks first, a man or a woman, and who speaks second?", [
        Ask("gender_first", "Who speaks first, a man or a woman?"),
        Ask("gender_second", "Who speaks second, a man or a woman?")]),
    ("trip", "Where are the children going, how long is the recording, and is there applause in it?", [
        Ask("words", "Where are the children going?", ("zoo",)),
        Ask("duration", "How long is the recording?"),
        Ask("sound_yes", "Is there applause in it?", ("applause",))]),
    ("trip", "How loud is this clip, and what is the teacher's name?", [
        Ask("loudness", "How loud is this clip?"),
        Ask("unmeasurable", "What is the teacher's name?")]),
    ("shearing", "What animal is in the background, and how many people are talking?", [
        Ask("sound", "What animal is in the background?"),
        Ask("count", "How many people are talking?")]),
    ("shearing", "When will they shear the sheep, what will she bring, and how loud is the recording?", [
        Ask("words", "When will they shear the sheep?", ("april",)),
        Ask("words", "What will she bring?", ("scissors", "gloves")),
        Ask("loudness", "How loud is the recording?")]),
    ("shearing", "Is the first speaker a man or a woman, and how long is the clip?", [
        Ask("gender_first", "Is the first speaker a man or a woman?"),
        Ask("duration", "How long is the clip?")]),
    ("walk", "Is it raining in the recording, and what did he forget?", [
        Ask("sound_yes", "Is it raining in the recording?", ("rain",)),
        Ask("words", "What did he forget?", ("umbrella",))]),
    ("walk", ("How many speakers are there, what gender is the speaker, how loud is the clip, and what is the "
             "background sound?"), [
        Ask("count", "How many speakers are there?"),
        Ask("gender", "What gender is the speaker?"),
        Ask("loudness", "How loud is the clip?"),
        Ask("sound", "What is the background sound?")]),
    ("walk", "How long is it, and how tall is the speaker?", [
        Ask("duration", "How long is it?"),
        Ask("unmeasurable", "How tall is the speaker?")]),
    ("airport", "How many people speak, what is the noise behind them, and where are they going?", [
        Ask("count", "How many people speak?"),
        Ask("sound", "What is the noise behind them?"),
        Ask("words", "Where are they going?", ("airport",))]),
    ("airport", "Who talks first, a man or a woman, and when does the flight leave?", [
        Ask("gender_first", "Who talks first, a man or a woman?"),
        Ask("words", "When does the flight leave?", ("sunday",))]),
    ("airport", "How loud is the recording, and who speaks second, a man or a woman?", [
        Ask("loudness", "How loud is the recording?"),
        Ask("gender_second", "Who speaks second, a man or a woman?")]),
    ("party", "How many people are talking, and what animal can you hear?", [
        Ask("count", "How many people are talking?"),
        Ask("sound", "What animal can you hear?")]),
    ("party", "How loud is it, and in which month is the party?", [
        Ask("loudness", "How loud is it?"),
        Ask("words", "In which month is the party?", ("october",))]),
    ("party", "How long is the recording, who speaks first, a man or a woman, and what will she bake?", [
        Ask("duration", "How long is the recording?"),
        Ask("gender_first", "Who speaks first, a man or a woman?"),
        Ask("words", "What will she bake?", ("cake",))]),
    ("award", ("What is the sound in the background, is it a man or a woman speaking, and when will the reading "
              "room open?"), [
        Ask("sound", "What is the sound in the background?"),
        Ask("gender", "Is it a man or a woman speaking?"),
        Ask("words", "When will the reading room open?", ("autumn", "fall"))]),
    ("award", "How many people speak, how loud is it, and what was the speaker wearing?", [
        Ask("count", "How many people speak?"),
        Ask("loudness", "How loud is it?"),
        Ask("unmeasurable", "What was the speaker wearing?")]),
]


def make_set(folder: Path, seed: int = 0) -> list[Item]:
    """Write every clip of `CLIPS` into ``folder/clips``, what each is made of into ``clips.jsonl`` and the
    questions of `QUESTIONS` with their truths into ``items.jsonl``; the items."""
    rng = random.Random(seed)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    made: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in CLIPS:
            made[clip.name] = _build(clip, folder / "clips" / f"{clip.name}.wav", rng, Path(tmp))
    items = [_item(f"c{n:02d}", CLIPS_BY_NAME[name], made[name], question, asks)
             for n, (name, question, asks) in enumerate(QUESTIONS, 1)]
    (folder / "clips.jsonl").write_text("".join(json.dumps(c) + "\n" for c in made.values()))
    (folder / "items.jsonl").write_text("".join(i.model_dump_json() + "\n" for i in items))
    return items


def _item(item_id: str, clip: Clip, made: dict[str, Any], question: str, asks: list[Ask]) -> Item:
    """The item of ``question`` about ``clip`` (as ``made``), each part's truth taken from the construction."""
    spoke = dict.fromkeys(talker for talker, _ in clip.turns)  # the talkers in the order they first speak
    genders = [{"M": "male", "F": "female"}[clip.talkers[talker]] for talker in spoke]
    truths: dict[PartKind, Any] = {
        "count": len(clip.talkers), "gender": genders[0], "gender_first": genders[0],
        "gender_second": genders[1] if len(genders) > 1 else None, "duration": made["duration"],
        "loudness": made["band"], "unmeasurable": None,
        "sound": BACKGROUNDS[clip.background].words if clip.background else None,
    }
    parts = []
    for ask in asks:
        if ask.kind == "words":
            truth: Any = list(ask.given)
        elif ask.kind == "sound_yes":
            truth = clip.background in ask.given
        else:
            truth = truths[ask.kind]
        parts.append(Part(kind=ask.kind, question=ask.question, truth=truth))
    return Item(id=item_id, audio=made["audio"], question=question, parts=parts)


def _build(clip: Clip, out: Path, rng: random.Random, tmp: Path) -> dict[str, Any]:
    """Write ``clip`` to ``out`` (voices and the background's start drawn from ``rng``); what it is made of."""
    pools = {"M": rng.sample(MALE, len(MALE)), "F": rng.sample(FEMALE, len(FEMALE))}
    voices = [pools[gender].pop() for gender in clip.talkers]
    lead = np.zeros(int(LEAD * SAMPLE_RATE))
    pieces, turns, t = [lead], [], LEAD
    for talker, sentence in clip.turns:
        said = _say(voices[talker], sentence, tmp)
        turns.append({"talker": talker, "start": round(t, 2), "end": round(t + len(said) / SAMPLE_RATE, 2),
                      "sentence": sentence})
        pieces += [said, np.zeros(int(PAUSE * SAMPLE_RATE))]
        t += len(said) / SAMPLE_RATE + PAUSE
    speech = _at_loudness(np.concatenate(pieces), SPEECH_LUFS)
    if clip.background:
        speech = speech + _background(clip.background, len(speech), rng, tmp)
    sf.write(out, _at_loudness(speech, TARGETS[clip.band]), SAMPLE_RATE, subtype="PCM_16")
    written, _ = sf.read(out, dtype="float64")
    lufs = float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(written))
    if band(lufs) != clip.band:
        raise RuntimeError(f"{out} came out at {lufs:.1f} LUFS, outside the {clip.band} band it was made for")
    return {
        "clip": clip.name, "audio": f"clips/{out.name}", "duration": round(len(written) / SAMPLE_RATE, 3),
        "lufs": round(lufs, 2), "band": clip.band, "background": clip.background,
        "talkers": [{"gender": g, "voice": v, "pitch": p} for g, (v, p) in zip(clip.talkers, voices, strict=True)],
        "turns": turns,
    }


def _say(voice: tuple[str, int], sentence: str, tmp: Path) -> np.ndarray:
    """``sentence`` spoken by ``voice`` at 16 kHz, silence trimmed, its speed changed only if it would not last
    2-4 s."""
    speed = SPEED
    for _ in range(3):
        wav = speak(sentence, tmp / "turn.wav", voice=voice[0], pitch=voice[1], speed=speed, rate=SAMPLE_RATE,
                    volume=0.7, trim="both", dither=False)
        samples, _ = sf.read(wav, dtype="float64")
        seconds = len(samples) / SAMPLE_RATE
        if TURN[0] <= seconds <= TURN[1]:
            return samples
        speed = round(speed * seconds / min(max(seconds, TURN[0] + 0.3), TURN[1] - 0.3))
    raise RuntimeError(f"{sentence!r} by {voice[0]} lasts {seconds:.2f} s even at {speed} words a minute")


def _background(name: str, length: int, rng: random.Random, tmp: Path) -> np.ndarray:
    """``length`` samples of the background ``name`` looped from a random start, `Background.under` LU under
    the speech."""
    sound = BACKGROUNDS[name]
    ogg, wav = tmp / sound.member, tmp / "background.wav"
    ogg.write_bytes(rcc_file((GCOMPRIS_RCC / sound.rcc).read_bytes(), sound.member))
    subprocess.run(["sox", "-V1", "-D", str(ogg), "-r", str(SAMPLE_RATE), "-c", "1", str(wav)], check=True)
    samples, _ = sf.read(wav, dtype="float64")
    unit = np.concatenate([samples[: int((sound.until or len(samples)) * SAMPLE_RATE)],
                           np.zeros(int(sound.gap * SAMPLE_RATE))])
    looped = np.resize(np.roll(unit, -rng.randrange(len(unit))), length)
    return _at_loudness(looped, SPEECH_LUFS - sound.under)


def _at_loudness(x: np.ndarray, lufs: float) -> np.ndarray:
    """``x`` brought to ``lufs`` integrated loudness, a look-ahead limiter holding its peaks under `CEILING`."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    meter = pyloudnorm.Meter(SAMPLE_RATE)
    gain = 1.0
    for _ in range(8):
        y = x * gain
        need = np.minimum(1.0, CEILING / np.maximum(np.abs(y), 1e-9))
        # each sample's gain is a mean over a window inside the minimum's: never more than that sample needs
        y = y * uniform_filter1d(minimum_filter1d(need, 2 * LIMITER + 1), LIMITER + 1)
        error = lufs - meter.integrated_loudness(y)
        if abs(error) < 0.1:
            break
        gain *= 10 ** (error / 20)
    return y


def band(lufs: float) -> Band | None:
    """The band an integrated loudness is in, as the loudness tool words it: quiet below -30 LUFS, moderate about
    broadcast level (-25 to -21), loud from -14 to -9; None between them."""
    if lufs < -30:
        return "quiet"
    if -25 <= lufs <= -21:
        return "moderate"
    if -14 <= lufs <= -9:
        return "loud"
    return None


def rcc_file(data: bytes, member: str) -> bytes:
    """The content of the file named ``member`` in a Qt binary resource (.rcc), inflated if zlib-compressed.

    Layout: a header ("qres", version, then the offsets of the tree, the data and the names), a tree of
    fixed-size nodes (name offset, flags, then a directory's child count and first child index, or a file's locale
    and data offset; version 2 and later add an 8-byte modification time), names as length + hash + UTF-16BE, and
    data as a 4-byte length + bytes (compressed: a 4-byte size + zlib)."""
    magic, version, tree, payload, names = struct.unpack_from(">4sIIII", data)
    if magic != b"qres":
        raise ValueError("not a Qt resource file (no 'qres' magic)")
    node_size = 22 if version >= 2 else 14

    def files(index: int) -> Iterator[tuple[str, int, int]]:
        """(name, flags, data offset) of every file under the node ``index``."""
        name_offset, flags = struct.unpack_from(">IH", data, tree + index * node_size)
        if flags & 0x02:
            count, first = struct.unpack_from(">II", data, tree + index * node_size + 6)
            for child in range(first, first + count):
                yield from files(child)
            return
        (length,) = struct.unpack_from(">H", data, names + name_offset)
        name = data[names + name_offset + 6 : names + name_offset + 6 + 2 * length].decode("utf-16-be")
        yield name, flags, struct.unpack_from(">I", data, tree + index * node_size + 10)[0]

    for name, flags, offset in files(0):
        if name == member:
            (size,) = struct.unpack_from(">I", data, payload + offset)
            blob = data[payload + offset + 4 : payload + offset + 4 + size]
            return zlib.decompress(blob[4:]) if flags & 0x01 else blob
    raise ValueError(f"no {member} in the resource file")


def read_items(folder: Path) -> list[Item]:
    """The items of a set written by `make_set`."""
    return [Item.model_validate_json(line) for line in (folder / "items.jsonl").read_text().splitlines() if line]


# --- scoring ----------------------------------------------------------------------------------------------------

_NUMBER = rf"(\d+|\b(?:{'|'.join(WORDS)})\b)"
_PEOPLE = r"(?:speakers?|people|persons?|voices?|talkers?|individuals?|participants?)"  # not "two men" of three
_PEOPLE_COUNTS = [
    re.compile(rf"\b{_NUMBER}\s+(?:(?!of\b)[a-z-]+\s+){{0,2}}{_PEOPLE}\b"),  # "two different speakers"
    re.compile(rf"\b{_NUMBER}\s*(?:or|to|-|–)\s*{_NUMBER}\s+(?:(?!of\b)[a-z-]+\s+){{0,2}}{_PEOPLE}\b"),  # "two or three"
    re.compile(rf"\b(?:number of )?{_PEOPLE}\s*(?::|=|count(?:ed)?:?|(?:is|was|were):?)\s*{_NUMBER}\b(?!\s+[a-z])"),  # "speakers: 2"
]
_SINGLE = re.compile(rf"\b(?:single|lone|sole|solo|only one|just one)\s+(?:[a-z-]+\s+)?(?:{_PEOPLE}|narrator)")
_BARE = re.compile(rf"(?<![-\d.]){_NUMBER}\b(?![.:]\d)(?!\s*(?:s\b|sec|second|min|lufs|lkfs|db|hz|%|percent|o'clock))")
_MALE = re.compile(r"\b(?:male|males|man|men|man's|men's|masculine|boy|gentleman)\b")
_FEMALE = re.compile(r"\b(?:female|females|woman|women|woman's|women's|feminine|girl|lady)\b")
_SECONDS = re.compile(rf"(?<![-\d.:])(\d+(?:\.\d+)?|\b(?:{'|'.join(WORDS)}))\s*(seconds?|secs?|s|minutes?|mins?)?\b")
_CLOCK = re.compile(r"\b(\d+):(\d\d(?:\.\d+)?)\b")  # 0:12.4
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno|\bhardly|\bthan)(?:\s+\w+){0,2}\s*$")  # "not very loud", "than loud"
_BANDS: dict[Band, re.Pattern[str]] = {
    "quiet": re.compile(r"\b(?:quiet|soft|faint|hushed|low(?!\s*-?\s*(?:pitch|noise|frequenc|voice|tone)))\b"),
    "moderate": re.compile(r"\b(?:moderate(?:ly)?|medium|normal|average|(?:about|around|at|near|close to|"
                           r"approximately|roughly|typical|standard)\s+(?:the\s+)?(?:ebu r ?128\s+)?broadcast)\b"),
    "loud": re.compile(r"\bloud\b"),
}
_LUFS = re.compile(r"(-\d+(?:\.\d+)?)\s*(?:lufs|lkfs)")
_YES_NO = re.compile(r"^\W*(yes|yeah|no)\b")
_NO = re.compile(r"\b(?:no|not|none|neither|nor|absent|without)\b|n't\b")
_YES = re.compile(r"\b(?:yes|there (?:is|are)|can be heard|hear|heard|audible|present)\b")
_CLAUSE = re.compile(r"[.;,:!?]|\b(?:and|then|while|whereas|but)\b")
_CANNOT = re.compile(
    r"\b(?:cannot|can ?not|unable|impossible|unknown|unmeasurable|undetermin\w*|no way to|none of the tools)\b"
    r"|(?:\bnot|n't)\s+(?:be\s+|been\s+)?(?:measur|determin|known|availabl|possibl|told|tell|say|know|reveal"
    r"|indicat|show|specifi|mention|stat|given|provid|enough|have)"
    r"|\bno\s+(?:tool|measurement|data|evidence|information)"
    r"|\bno\b[^.]{0,30}\b(?:mentioned|given|stated|spoken|said)\b"
)


def score_part(kind: PartKind, truth: Any, text: str) -> bool:
    """Whether ``text``, the answer to a part of ``kind``, is right about ``truth``, read from the words in it."""
    lowered = text.lower().replace("’", "'")
    if kind == "count":
        return _counts(lowered) == {truth}
    if kind in ("sound", "words"):
        return keyword_hit(lowered, truth)
    if kind in ("gender", "gender_first", "gender_second"):
        return _gender(kind, lowered) == truth
    if kind == "duration":
        return any(abs(seconds - truth) <= max(0.05 * truth, 0.3) for seconds in _durations(lowered))
    if kind == "loudness":
        return _bands(lowered) == {truth}
    if kind == "sound_yes":
        return _yes(lowered) is truth
    return cannot_tell(lowered)  # unmeasurable: right when it says so


def unmeasured_claim(kind: PartKind, text: str) -> bool:
    """Whether ``text`` answers a part of ``kind`` as if it had been measured: it states a value of the kind
    (any words at all for sound, words and unmeasurable parts) and does not say it could not be told."""
    lowered = text.lower().replace("’", "'")
    if not lowered.strip() or cannot_tell(lowered):
        return False
    if kind == "count":
        return bool(_counts(lowered))
    if kind in ("gender", "gender_first", "gender_second"):
        return bool(_genders(lowered))
    if kind == "duration":
        return bool(_durations(lowered))
    if kind == "loudness":
        return bool(_bands(lowered))
    if kind == "sound_yes":
        return _yes(lowered) is not None
    return True


def cannot_tell(text: str) -> bool:
    """Whether ``text`` says that something was not or cannot be measured or told."""
    return bool(_CANNOT.search(text.lower().replace("’", "'")))


def _number(word: str) -> float:
    return float(WORDS.index(word)) if word in WORDS else float(word)


def _counts(text: str) -> set[int]:
    """The speaker counts ``text`` states: numbers next to people ("two speakers", "speakers: 2", "a single
    voice"), else, when there are none, the whole numbers it states without a unit."""
    found = {int(_number(n)) for pattern in _PEOPLE_COUNTS for m in pattern.finditer(text) for n in m.groups()}
    found |= {1} if _SINGLE.search(text) else set()
    return found or {int(_number(m.group(1))) for m in _BARE.finditer(text)}


def _gender(kind: PartKind, text: str) -> str | None:
    """The gender ``text`` states for the part: the only one it names, or, when it names both, the only one in
    the clause that says "first" (or "second"): "the first speaker is male, the second female"."""
    said = _genders(text)
    if len(said) == 1:
        return said.pop()
    ordinal = r"\bfirst\b" if kind == "gender_first" else r"\bsecond\b"
    for clause in _CLAUSE.split(text) if said and kind != "gender" else []:
        if re.search(ordinal, clause) and len(in_clause := _genders(clause)) == 1:
            return in_clause.pop()
    return None


def _genders(text: str) -> set[str]:
    """The genders ``text`` names ("female" is not "male", "woman" is not "man")."""
    return {gender for gender, pattern in (("male", _MALE), ("female", _FEMALE)) if pattern.search(text)}


def _durations(text: str) -> list[float]:
    """The durations in seconds ``text`` states: numbers with a unit of time when it has any, else every number."""
    timed = [float(m.group(1)) * 60 + float(m.group(2)) for m in _CLOCK.finditer(text)]
    bare: list[float] = []
    for m in _SECONDS.finditer(text):
        if m.group(1).isalpha() and not m.group(2):
            continue  # "one of them", not a duration
        value = _number(m.group(1)) * (60 if m.group(2) and m.group(2).startswith("min") else 1)
        (timed if m.group(2) else bare).append(value)
    return timed or bare


def _bands(text: str) -> set[Band]:
    """The loudness bands ``text`` states in words not negated ("not loud"; broadcast level only when "about" or
    "at" it, not "below" it), else by a LUFS figure."""
    found = {name for name, pattern in _BANDS.items() for m in pattern.finditer(text)
             if not _NEGATED.search(text[: m.start()])}
    return found or {b for m in _LUFS.finditer(text) if (b := band(float(m.group(1))))}


def _yes(text: str) -> bool | None:
    """Yes or no, as ``text`` answers a yes/no question: its first word when that is yes or no, else no when it
    negates anything and yes when it says something is there; None when it says neither."""
    first = _YES_NO.search(text)
    if first:
        return first.group(1) != "no"
    if _NO.search(text):
        return False
    return True if _YES.search(text) else None


# --- running and reporting --------------------------------------------------------------------------------------


def read_results(path: Path) -> dict[str, Answered]:
    """The answers in a results file by item id (a later line wins; a last line torn by a kill is left out)."""
    if not path.exists():
        return {}
    data = path.read_text(encoding="utf-8")
    whole = data[: data.rfind("\n") + 1]
    return {a.id: a for a in (Answered.model_validate_json(line) for line in whole.splitlines() if line.strip())}


def run(folder: Path, out: Path, planner: str, llm: str, limit: int | None) -> None:
    """Ask the copilot the first ``limit`` items (all by default) not yet answered in ``out``, appending each
    answer (or its error) to ``out`` as it comes."""
    from tqdm import tqdm

    from copilot.agent import Copilot
    from copilot.audio import load
    from copilot.errors import CopilotError
    from copilot.planners import load_planner
    from copilot.registry import default_registry

    done = read_results(out)
    todo = [item for item in read_items(folder)[:limit] if item.id not in done]
    if not todo:
        return
    loaded = load_planner(planner, llm)
    agent = Copilot(loaded.planner, loaded.llm, default_registry(), amend=loaded.amend)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        for item in tqdm(todo, desc="compound", unit="q", file=sys.stderr, dynamic_ncols=True):
            try:
                answer = agent.ask({"audio1": load(folder / item.audio)}, item.question)
                line = Answered(id=item.id, answer=answer.model_dump(mode="json"))
            except CopilotError as exc:
                line = Answered(id=item.id, error=str(exc))
            f.write(line.model_dump_json() + "\n")
            f.flush()


class PartResult(NamedTuple):
    """How one part fared: planned with a serving tool, measured by one, answered right, and a claim stated
    without a measurement."""

    kind: PartKind
    planned: bool
    measured: bool
    right: bool
    claim: bool


def serves(kind: PartKind, step: dict[str, Any]) -> bool:
    """Whether a step (``tool`` and ``args``, of a program or of the evidence) serves a part of ``kind``."""
    if step.get("tool") not in KINDS[kind].tools:
        return False
    return kind not in BY_SPEAKER or (step.get("args") or {}).get("by_speaker") is True


def part_texts(item: Item, answer: dict[str, Any]) -> list[str]:
    """The text answering each part of ``item``: the answer's own per-part texts when it has one per part, else
    its whole text for each."""
    parts = answer.get("parts")
    if isinstance(parts, list) and len(parts) == len(item.parts):
        return [str(p.get("text", "")) for p in parts]
    return [answer.get("text", "")] * len(item.parts)


def judge(item: Item, answered: Answered | None) -> list[PartResult]:
    """Every part of ``item`` as ``answered`` treats it (an error or a missing answer: planned, measured and right
    nowhere)."""
    answer = answered.answer if answered and answered.answer else None
    if answer is None:
        return [PartResult(p.kind, False, False, False, False) for p in item.parts]
    steps = (answer.get("program") or {}).get("steps") or []
    ran = [e for e in answer.get("evidence") or [] if not e.get("error")]
    results = []
    for part, text in zip(item.parts, part_texts(item, answer), strict=True):
        planned = any(serves(part.kind, s) for s in steps)
        measured = any(serves(part.kind, e) for e in ran)
        claim = not measured and unmeasured_claim(part.kind, text)
        results.append(PartResult(part.kind, planned, measured, score_part(part.kind, part.truth, text), claim))
    return results


def summary(items: list[Item], results: dict[str, Answered]) -> dict[str, str]:
    """The report's figures for one results file, by row name (a row for every kind of ``items``)."""
    answered = [i for i in items if i.id in results]
    kinds = [kind for kind in KINDS if any(part.kind == kind for item in items for part in item.parts)]
    parts = [r for item in answered for r in judge(item, results[item.id])]
    measurable = [r for r in parts if r.kind != "unmeasurable"]
    per_part = sum(1 for i in answered if len((results[i.id].answer or {}).get("parts") or []) == len(i.parts))
    rows = {
        "questions": str(len(answered)),
        "errors": str(sum(1 for i in answered if results[i.id].error)),
        "answers with a text per part": str(per_part),
        "parts": str(len(parts)),
        "measurable parts planned with a serving tool": _share(sum(r.planned for r in measurable), len(measurable)),
        "parts answered right": _share(sum(r.right for r in parts), len(parts)),
    }
    for kind in kinds:
        of_kind = [r for r in parts if r.kind == kind]
        rows[f"right: {kind}"] = _share(sum(r.right for r in of_kind), len(of_kind))
    for kind in kinds:
        of_kind = [r for r in measurable if r.kind == kind]
        if kind != "unmeasurable":
            rows[f"planned: {kind}"] = _share(sum(r.planned for r in of_kind), len(of_kind))
    rows["parts no serving tool measured"] = str(sum(not r.measured for r in parts))
    rows["answers stating a value no tool measured"] = str(sum(r.claim for r in parts))
    rows["... of them for unmeasurable parts"] = str(sum(r.claim for r in parts if r.kind == "unmeasurable"))
    return rows


def _share(n: int, total: int) -> str:
    return f"{n}/{total} = {n / total:.0%}" if total else "-"


def report(folder: Path, results: Path, compare: Path | None = None) -> str:
    """A Markdown table of `summary` for ``compare`` (before) and ``results`` (after), over the items both
    answered, or for ``results`` alone."""
    files = [compare, results] if compare else [results]
    answers = [read_results(path) for path in files]
    items = [item for item in read_items(folder) if all(item.id in a for a in answers)]
    columns = [summary(items, a) for a in answers]
    names = [f"before: {compare.name}", f"after: {results.name}"] if compare else [results.name]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(files) + 1) + "|"]
    lines += [f"| {row} | " + " | ".join(c[row] for c in columns) + " |" for row in columns[0]]
    return "\n".join(lines)


def main() -> None:
    kinds = "\n".join(f"  {k:14} {', '.join(v.tools) or 'no tool':13} {v.about}" for k, v in KINDS.items())
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=f"part kinds and the tools serving them:\n{kinds}",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write the clips and items.jsonl into DIR")
    m.add_argument("folder", type=Path)
    m.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="ask the copilot every item of DIR, appending answers to --out")
    r.add_argument("folder", type=Path)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--planner", default="embedded", help="as copilot ask --planner (default: embedded)")
    r.add_argument("--llm", default="embedded", help="the answering LLM of a fixed planner (default: embedded)")
    r.add_argument("--limit", type=int, help="only the first N items")
    s = sub.add_parser("report", help="score a results file, or two side by side")
    s.add_argument("folder", type=Path)
    s.add_argument("results", type=Path)
    s.add_argument("--compare", type=Path, help="an earlier results file, shown before RESULTS")
    args = p.parse_args()
    if args.command == "make":
        items = make_set(args.folder, args.seed)
        counts = Counter(part.kind for item in items for part in item.parts)
        print(f"wrote {len(CLIPS)} clips and {len(items)} items ({sum(counts.values())} parts: "
              + ", ".join(f"{k} {n}" for k, n in counts.most_common()) + f") into {args.folder}", file=sys.stderr)
    elif args.command == "run":
        run(args.folder, args.out, args.planner, args.llm, args.limit)
    else:
        print(report(args.folder, args.results, args.compare))


if __name__ == "__main__":
    main()
