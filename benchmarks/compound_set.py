"""The compound-question set (issue #22): several questions in one, each part's truth known by construction.

    copilot bench make compound DIR [--seed 0]          # this module: the clips and items.jsonl
    copilot bench run compound --data DIR --out DIR/after.jsonl
    copilot bench report DIR/after.jsonl

`make_set` writes 14 clips (16 kHz mono wav) into ``DIR/clips`` and 44 questions of two to four parts into
``DIR/items.jsonl`` (`Item`s of kind ``compound``, read by the ``compound`` adapter), and what each clip is made of
into ``DIR/clips.jsonl``. A clip is one to three espeak-ng talkers (clearly male or female voices, a different one
each) taking whole-sentence turns of 2-4 s with 0.6 s pauses, over one background recording of gcompris-qt-data
(rain, a dog barking, applause, a train, a piano, a cow, sheep) or over nothing, its whole brought to a loudness
band (quiet about -35 LUFS, about broadcast level -23 LUFS, loud about -12 LUFS) measured with pyloudnorm on the
written file. A part's truth is a speaker count, a background sound, the gender of one talker or of the first or
second to speak, content words of the sentences, the duration, the loudness band, or nothing at all: a part no tool
here can measure (the speaker's shirt colour). It only makes the set: `scorers.score_parts` scores the answers.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyloudnorm
import soundfile as sf

from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.items import Item, Part, PartKind
from copilot.benchmarks.scorers import Band, band
from copilot.espeak import speak

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
    questions of `QUESTIONS` with their truths into ``items.jsonl``; the items (their audio relative to ``folder``)."""
    rng = random.Random(seed)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    made: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in CLIPS:
            made[clip.name] = _build(clip, folder / "clips" / f"{clip.name}.wav", rng, Path(tmp))
    items = [_item(f"c{n:02d}", CLIPS_BY_NAME[name], made[name], question, asks)
             for n, (name, question, asks) in enumerate(QUESTIONS, 1)]
    (folder / "clips.jsonl").write_text("".join(json.dumps(c) + "\n" for c in made.values()))
    (folder / "items.jsonl").write_text("".join(i.model_dump_json(exclude_defaults=True) + "\n" for i in items))
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
    return Item(id=item_id, audio=[Path(made["audio"])], question=question, reference=_reference(parts),
                kind="compound", parts=parts)


def _reference(parts: list[Part]) -> str:
    """The parts' truths as one line, for reading a results file: "count: 2; sound: rain / raindrop"."""

    def said(truth: Any) -> str:
        if isinstance(truth, bool):
            return "yes" if truth else "no"
        return " / ".join(truth) if isinstance(truth, list) else "not measurable" if truth is None else str(truth)

    return "; ".join(f"{part.kind}: {said(part.truth)}" for part in parts)


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
    unit = background_unit(name, tmp)
    looped = np.resize(np.roll(unit, -rng.randrange(len(unit))), length)
    return _at_loudness(looped, SPEECH_LUFS - BACKGROUNDS[name].under)


def background_unit(name: str, tmp: Path) -> np.ndarray:
    """One repeat of the background ``name`` at 16 kHz, as read from gcompris-qt-data: the part looped and the
    silence after it, at the level it was recorded."""
    sound = BACKGROUNDS[name]
    ogg, wav = tmp / sound.member, tmp / "background.wav"
    ogg.write_bytes(rcc_file((GCOMPRIS_RCC / sound.rcc).read_bytes(), sound.member))
    subprocess.run(["sox", "-V1", "-D", str(ogg), "-r", str(SAMPLE_RATE), "-c", "1", str(wav)], check=True)
    samples, _ = sf.read(wav, dtype="float64")
    return np.concatenate([samples[: int((sound.until or len(samples)) * SAMPLE_RATE)],
                           np.zeros(int(sound.gap * SAMPLE_RATE))])


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
