"""The long-form set (issue #33): meetings, interviews and lectures of 10 minutes to 2 hours, their facts, times and
speakers known by construction.

    copilot bench make longform DIR [--minutes 10,30,60,120] [--seed 0]     # this module
    copilot bench run longform --data DIR --out DIR/after.jsonl
    copilot bench report DIR/after.jsonl

For each length `make_set` writes three recordings (16 kHz mono wav) into ``DIR/recordings``: a meeting of three or
four espeak-ng voices (they introduce themselves by name, then take up three agenda topics at known times: who
proposes what, a budget in a currency for two of them, a date, a street, an action item and a decision each), an
interview of two voices (a host and a named guest: where she works, the year her project began, the sum it costs)
and a lecture of one voice (three topics at known times, an exam date and room). Between the scripted blocks the
talkers fill the time with sentences composed from word lists by a seeded RNG, none naming a topic, a sum, a date
or a street; each talker's filler is a pool synthesised once and drawn from again, so two hours take minutes to
make. Under it all, a gcompris-qt-data recording (rain, a train, a piano) is looped 20 LU under the speech.

What each recording is made of (every turn's talker, time and text) goes to ``DIR/recordings/<name>.json``, the
questions to ``DIR/items.jsonl`` (`Item`s of kind ``longform`` with a `LongformTruth`, read by the ``longform``
adapter): factual (the value, no other candidate), time (when a topic starts, within `scorers.TIME_SLACK`), speaker
(who proposed something, who talks the most), absent (a budget for something never discussed: right only when the
answer says so and states no value) and summary (the decisions taken: the share named). A recording is as long as
asked, or as its script when that is longer (about a minute). It only makes the set: `scorers.score_longform` scores.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyloudnorm
import soundfile as sf

from copilot.audio import SAMPLE_RATE
from copilot.benchmarks.compound_set import FEMALE, MALE, SPEECH_LUFS, background_unit
from copilot.benchmarks.items import Item, LongformAsk, LongformTruth
from copilot.espeak import speak

MINUTES = (10, 30, 60, 120)
PAUSE = 0.5  # seconds after every turn
LEAD = 1.0  # seconds of the background alone before the first turn
UNDER = 20.0  # LU the background sits under the speech
BACKGROUNDS = ("rain", "train", "piano")
FILLER_POOL = (30, 120)  # filler sentences synthesised per talker: 30, plus one per minute, up to 120

MEN = ["Bruno", "David", "Felix", "Hugo", "Oscar"]
WOMEN = ["Anna", "Clara", "Elena", "Greta", "Nora"]
STREETS = ["Linden", "Harbour", "Willow", "Chestnut", "Foundry", "Orchard", "Main", "Market", "Church", "High"]
CURRENCIES = [("euros", "euro|eur"), ("pounds", "pound|gbp"), ("Swiss francs", "franc|chf"), ("dollars", "dollar|usd")]
"""(as spoken, the key): `scorers.score_longform` reads a currency's sign as its word."""
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
            "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
            "twentieth"]
UNITS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


class Topic(NamedTuple):
    """An agenda topic of a meeting: how it is named, what is proposed, the decision taken, and the word that names
    the decision (not the topic's own word: a summary listing topics names no decision)."""

    name: str
    proposal: str
    decision: str
    key: str


TOPICS = [
    Topic("the library roof", "I propose that we hire a local roofer for the library roof.",
          "So we agree to hire the roofer.", "roofer"),
    Topic("the summer festival", "I propose that the summer festival gets a second stage for the children.",
          "So we agree on a second stage.", "stage"),
    Topic("the bicycle sheds", "I propose that we build the bicycle sheds from recycled timber.",
          "So we agree on recycled timber.", "timber"),
    Topic("the solar panels", "I propose that we lease the solar panels instead of buying them.",
          "So we agree to lease the panels.", "lease"),
    Topic("the museum exhibition", "I propose that the museum exhibition travels to three schools.",
          "So we agree that the exhibition tours the schools.", "school"),
    Topic("the choir concert", "I propose that the choir concert moves to the cathedral.",
          "So we agree to use the cathedral.", "cathedral"),
]
LECTURES = [("volcanoes", "volcano"), ("glaciers", "glacier"), ("coral reefs", "coral|reef"), ("deserts", "desert"),
            ("river deltas", "delta"), ("tides", "tide")]

FILLER_OPENERS = ["Honestly", "To be fair", "As I said", "In my view", "Well", "You know", "Frankly", "By the way",
                  "For what it is worth", "Just a thought"]
FILLER_NOUNS = ["the printer", "the coffee machine", "the parking", "the newsletter", "the website", "the heating",
                "the spreadsheet", "the training", "the calendar", "the survey", "the kitchen", "the wifi",
                "the notice board", "the mailing list", "the lift", "the filing cabinet", "the old laptop",
                "the lunch break", "the phone line", "the meeting room"]
FILLER_STATES = ["works better than it did", "needs a little attention", "is still a bit slow", "has been fine lately",
                 "keeps surprising me", "is easy to forget about", "could be tidier", "was mentioned last time",
                 "is not my favourite thing", "seems quieter these days"]
FILLER_TAILS = ["at least most of the time", "if you ask me", "as far as I can tell", "more or less",
                "from what I have seen", "now and then", "to some extent", "on a good day", "", ""]
FILLER_SHAPES = ["{o}, {n} {s}, {t}.", "{o}, I think {n} {s}.", "I noticed that {n} {s}, {t}.",
                 "Do you not feel that {n} {s}?", "{o}, somebody told me {n} {s}.", "Yes, and {n} {s} {t}."]


def number_words(n: int) -> str:
    """``n`` (1-99) in words, as espeak-ng reads it and a listener writes it: 42 is "forty two"."""
    return UNITS[n] if n < 10 else ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                    "seventeen", "eighteen", "nineteen"][n - 10] if n < 20 else \
        f"{TENS[n // 10]} {UNITS[n % 10]}".strip()


def _filler(rng: random.Random) -> str:
    sentence = rng.choice(FILLER_SHAPES).format(o=rng.choice(FILLER_OPENERS), n=rng.choice(FILLER_NOUNS),
                                                s=rng.choice(FILLER_STATES), t=rng.choice(FILLER_TAILS))
    return sentence.replace(", .", ".").replace(" .", ".").replace(" ?", "?")


class Line(NamedTuple):
    """A scripted turn: its talker, its text, and the fact it states (a key of the recording's facts), if any."""

    talker: int
    text: str
    fact: str | None = None


class Script(NamedTuple):
    """A recording to build: its genre, its talkers ((name, gender)), its blocks of lines (the first at the start,
    the last at the end, the others spread over the length with filler between), how often each talker fills, and
    its questions: (ask, question, truth fields, the fact whose time is the truth or the fact's time)."""

    genre: str
    talkers: list[tuple[str, str]]
    blocks: list[list[Line]]
    weights: list[int]
    questions: list[tuple[LongformAsk, str, dict[str, Any], str | None]]


def _money(rng: random.Random) -> tuple[str, str]:
    """A sum in thousands, as spoken and as a key: ("forty two thousand", "42000|forty two thousand")."""
    n = rng.randrange(12, 96)
    return f"{number_words(n)} thousand", f"{n}000|{n} thousand|{number_words(n)} thousand"


def meeting(rng: random.Random) -> Script:
    """A meeting of three or four people: introductions, three topics (a proposal, a budget for the first two, a
    date, a street, an action item, a decision), and a close."""
    size = rng.choice([3, 4])
    genders = rng.sample(["male", "female", "male", "female"], size)
    men, women = rng.sample(MEN, 2), rng.sample(WOMEN, 2)
    talkers = [(men.pop() if g == "male" else women.pop(), g) for g in genders]
    names = [name for name, _ in talkers]
    topics = rng.sample(TOPICS, 4)
    absent = topics.pop()
    currency, currency_key = rng.choice(CURRENCIES)
    others_currencies = [key for _, key in CURRENCIES if key != currency_key]
    sums = [_money(rng) for _ in range(2)]
    while sums[0][1] == sums[1][1]:
        sums[1] = _money(rng)
    street = rng.choice(STREETS[:6])
    day, month = rng.randrange(1, 21), rng.choice(MONTHS)
    proposers = [rng.randrange(1, size) for _ in topics]  # the chair (talker 0) proposes nothing
    doer = rng.randrange(size)
    blocks = [[Line(0, f"Good morning everyone, I am {names[0]} and I will chair this meeting."),
               *[Line(i, f"Hello, {names[i]} here.") for i in range(1, size)],
               Line(0, "We have three topics today, so let us begin.")]]
    for k, topic in enumerate(topics):
        block = [Line(0, f"Next, let us talk about {topic.name}.", f"topic{k}"),
                 Line(proposers[k], topic.proposal, f"proposal{k}")]
        if k < 2:
            block.append(Line((proposers[k] + 1) % size,
                              f"The budget for {topic.name} is {sums[k][0]} {currency}.", f"budget{k}"))
        if k == 0:
            block.append(Line(doer, f"I will send the plans to the council by the {ORDINALS[day - 1]} of {month}.",
                              "date"))
        if k == 1:
            block.append(Line(0, f"The work will be done from our office on {street} Street.", "street"))
        block.append(Line(0, topic.decision, f"decision{k}"))
        blocks.append(block)
    blocks.append([Line(0, "Thank you all, that is everything for today."), Line(1, "Thanks, goodbye.")])

    def who(i: int) -> str:
        return f"{names[i]}|S{i + 1}|speaker {i + 1}|{ORDINALS[i]} speaker"

    people = {"others": [who(i) for i in range(size)]}
    questions: list[tuple[LongformAsk, str, dict[str, Any], str | None]] = [
        ("factual", f"What is the budget for {topics[0].name}?",
         {"keys": [sums[0][1], currency_key], "others": [sums[1][1], *others_currencies]}, "budget0"),
        ("factual", f"How much money is set aside for {topics[1].name}?",
         {"keys": [sums[1][1], currency_key], "others": [sums[0][1], *others_currencies]}, "budget1"),
        ("factual", "On which street is the office where the work will be done?",
         {"keys": [street.lower()], "others": [s.lower() for s in STREETS if s != street]}, "street"),
        ("factual", "By what date will the plans be sent to the council?",
         {"keys": [month.lower(), f"{day}|{ORDINALS[day - 1]}"], "others": [m.lower() for m in MONTHS if m != month]},
         "date"),
        ("speaker", "Who will send the plans to the council?", {"keys": [who(doer)], **people}, "date"),
        *[("time", f"When do they start talking about {topic.name}?", {}, f"topic{k}")
          for k, topic in enumerate(topics)],
        *[("speaker", f"Who proposed {topic.proposal.removeprefix('I propose ').rstrip('.')}?",
           {"keys": [who(proposers[k])], **people}, f"proposal{k}") for k, topic in enumerate(topics)],
        ("speaker", "Who talks the most in this meeting?", {"keys": ["most"], **people}, None),
        ("absent", f"What is the budget for {absent.name}?", {}, None),
        ("summary", "What decisions were made in this meeting?", {"keys": [t.key for t in topics]}, None),
    ]
    weights = [1] * size
    weights[rng.randrange(size)] = 3
    return Script("meeting", talkers, blocks, weights, questions)


def interview(rng: random.Random) -> Script:
    """A host and a guest: she works on a street, began her project in a year, and it costs a sum."""
    host, guest = rng.choice(MEN), rng.choice(WOMEN)
    street = rng.choice(STREETS[:6])
    year = rng.randrange(1961, 2000)  # "nineteen sixty one" to "nineteen ninety nine"
    spoken_year = f"nineteen {number_words(year % 100)}"
    money, money_key = _money(rng)
    topics = rng.sample(LECTURES, 3)
    blocks = [[Line(0, f"Welcome to the programme. My guest today is {guest}, a marine biologist."),
               Line(1, f"Thank you, {host}, it is a pleasure to be here.")],
              [Line(0, f"Let us talk about {topics[0][0]} first.", "topic0"),
               Line(1, f"Our laboratory on {street} Street studies {topics[0][0]} every day.", "street")],
              [Line(0, f"Now tell me about {topics[1][0]}.", "topic1"),
               Line(1, f"We began that project in {spoken_year}.", "year"),
               Line(1, f"Each expedition costs {money} euros.", "money")],
              [Line(0, f"Finally, what about {topics[2][0]}?", "topic2"),
               Line(1, f"{topics[2][0].capitalize()} are what I will study next.")],
              [Line(0, f"Thank you, {guest}."), Line(1, "Thank you for having me.")]]
    people = {"others": [f"{host}|S1|host|first speaker", f"{guest}|S2|guest|second speaker"]}
    questions: list[tuple[LongformAsk, str, dict[str, Any], str | None]] = [
        ("factual", "On which street is the guest's laboratory?",
         {"keys": [street.lower()], "others": [s.lower() for s in STREETS if s != street]}, "street"),
        ("factual", "In which year did the guest's project begin?", {"keys": [f"{year}|{spoken_year}"]}, "year"),
        ("factual", "How much does each expedition cost?",
         {"keys": [money_key, "euro|eur"], "others": [k for _, k in CURRENCIES[1:]]}, "money"),
        *[("time", f"When do they start talking about {name}?", {}, f"topic{k}") for k, (name, _) in enumerate(topics)],
        ("speaker", "Who talks the most, the host or the guest?", {"keys": ["most"], **people}, None),
        ("absent", "What is the guest's salary?", {}, None),
    ]
    return Script("interview", [(host, "male"), (guest, "female")], blocks, [1, 3], questions)


def lecture(rng: random.Random) -> Script:
    """One lecturer: three topics at known times, an exam date and room."""
    name, gender = rng.choice([(rng.choice(MEN), "male"), (rng.choice(WOMEN), "female")])
    topics = rng.sample(LECTURES, 3)
    day, month = rng.randrange(1, 21), rng.choice(MONTHS)
    room = rng.randrange(20, 99)
    blocks = [[Line(0, f"Good afternoon, I am professor {name}, and today we cover three subjects.")],
              *[[Line(0, f"Our {ORDINALS[k]} subject is {topic}.", f"topic{k}")] for k, (topic, _) in enumerate(topics)],
              [Line(0, f"The exam is on the {ORDINALS[day - 1]} of {month}.", "date"),
               Line(0, f"It takes place in room {number_words(room)}.", "room"),
               Line(0, "Thank you for listening.")]]
    questions: list[tuple[LongformAsk, str, dict[str, Any], str | None]] = [
        ("factual", "When is the exam?",
         {"keys": [month.lower(), f"{day}|{ORDINALS[day - 1]}"], "others": [m.lower() for m in MONTHS if m != month]},
         "date"),
        ("factual", "In which room is the exam?", {"keys": [f"{room}|{number_words(room)}"]}, "room"),
        *[("time", f"When does the lecture start talking about {topic}?", {}, f"topic{k}")
          for k, (topic, _) in enumerate(topics)],
        ("summary", "Which subjects does the lecture cover?", {"keys": [key for _, key in topics]}, None),
        ("absent", "How much does the field trip cost?", {}, None),
    ]
    return Script("lecture", [(name, gender)], blocks, [1], questions)


GENRES = {"meeting": meeting, "interview": interview, "lecture": lecture}


class Voices:
    """espeak-ng speech, each (voice, text) synthesised once: a talker's filler pool is drawn from again and again."""

    def __init__(self, tmp: Path):
        self.tmp, self.said = tmp, dict[tuple[tuple[str, int], str], np.ndarray]()

    def __call__(self, voice: tuple[str, int], text: str) -> np.ndarray:
        if (voice, text) not in self.said:
            wav = speak(text, self.tmp / "turn.wav", voice=voice[0], pitch=voice[1], rate=SAMPLE_RATE, volume=0.7,
                        trim="both", dither=False)
            self.said[(voice, text)] = sf.read(wav, dtype="float32")[0]
        return self.said[(voice, text)]


def make_set(folder: Path, minutes: tuple[int, ...] = MINUTES, seed: int = 0) -> list[Item]:
    """Write a meeting, an interview and a lecture of each length in ``minutes`` into ``folder/recordings`` (and
    what each is made of beside it), and their questions into ``folder/items.jsonl``; the items."""
    rng = random.Random(seed)
    (folder / "recordings").mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    with tempfile.TemporaryDirectory() as tmp:
        voices = Voices(Path(tmp))
        units = {name: background_unit(name, Path(tmp)) for name in BACKGROUNDS}
        for length in minutes:
            for genre, write in GENRES.items():
                name = f"{genre}-{length}min"
                script = write(rng)
                made = _build(script, length * 60.0, folder / "recordings" / f"{name}.wav", voices,
                              units[rng.choice(BACKGROUNDS)], rng)
                (folder / "recordings" / f"{name}.json").write_text(json.dumps(made))
                items += _items(name, length, script, made)
    (folder / "items.jsonl").write_text("".join(i.model_dump_json(exclude_defaults=True) + "\n" for i in items))
    return items


def _build(script: Script, seconds: float, out: Path, voices: Voices, unit: np.ndarray,
           rng: random.Random) -> dict[str, Any]:
    """Write ``script`` over ``seconds`` to ``out`` (voices and filler drawn from ``rng``); what it is made of."""
    pools = {"male": rng.sample(MALE, len(MALE)), "female": rng.sample(FEMALE, len(FEMALE))}
    talker_voices = [pools[gender].pop() for _, gender in script.talkers]
    pool_size = min(FILLER_POOL[0] + int(seconds / 60), FILLER_POOL[1])
    filler = [[_filler(rng) for _ in range(pool_size)] for _ in script.talkers]
    turns: list[dict[str, Any]] = []
    pieces: list[np.ndarray] = []
    t = LEAD

    def say(line: Line) -> None:
        nonlocal t
        audio = voices(talker_voices[line.talker], line.text)
        turns.append({"talker": line.talker, "start": round(t, 3), "end": round(t + len(audio) / SAMPLE_RATE, 3),
                      "text": line.text, "fact": line.fact})
        pieces.append(audio)
        t += len(audio) / SAMPLE_RATE + PAUSE

    speakers = list(range(len(script.talkers)))
    for k, block in enumerate(script.blocks):
        target = seconds * k / (len(script.blocks) - 1) - sum(_guess(line) for line in block) * (k == len(script.blocks) - 1)
        while t < target:
            talker = rng.choices(speakers, script.weights)[0]
            say(Line(talker, rng.choice(filler[talker])))
        for line in block:
            say(line)
    length = int((t - PAUSE + LEAD) * SAMPLE_RATE)
    speech = np.zeros(length, dtype="float32")
    for turn, audio in zip(turns, pieces, strict=True):
        start = int(turn["start"] * SAMPLE_RATE)
        speech[start : start + len(audio)] = audio
    meter = pyloudnorm.Meter(SAMPLE_RATE)
    sample = speech[: 120 * SAMPLE_RATE].astype("float64")
    speech *= np.float32(10 ** ((SPEECH_LUFS - meter.integrated_loudness(sample)) / 20))
    under = unit * 10 ** ((SPEECH_LUFS - UNDER - meter.integrated_loudness(unit)) / 20)
    offset = rng.randrange(len(under))
    under = np.roll(under, -offset).astype("float32")
    for start in range(0, length, len(under)):
        speech[start : start + len(under)] += under[: length - start]
    np.clip(speech, -1.0, 1.0, out=speech)
    sf.write(out, speech, SAMPLE_RATE, subtype="PCM_16")
    return {"recording": out.name, "genre": script.genre, "duration": round(length / SAMPLE_RATE, 3),
            "talkers": [{"name": n, "gender": g, "voice": v, "pitch": p}
                        for (n, g), (v, p) in zip(script.talkers, talker_voices, strict=True)],
            "turns": turns}


def _guess(line: Line) -> float:
    """About how long ``line`` takes to say, with its pause: espeak-ng at 150 words a minute."""
    return len(line.text.split()) * 0.4 + PAUSE


def speaking_time(made: dict[str, Any]) -> list[float]:
    """Seconds each talker of a made recording speaks."""
    totals = [0.0] * len(made["talkers"])
    for turn in made["turns"]:
        totals[turn["talker"]] += turn["end"] - turn["start"]
    return totals


def _items(name: str, minutes: int, script: Script, made: dict[str, Any]) -> list[Item]:
    """The questions of ``script`` about the recording ``made``, their times taken from its turns."""
    at = {turn["fact"]: turn["start"] for turn in made["turns"] if turn["fact"]}
    talk = speaking_time(made)
    most = talk.index(max(talk))
    items = []
    for n, (ask, question, given, fact) in enumerate(script.questions, 1):
        fields = {**given, "keys": [given["others"][most]]} if given.get("keys") == ["most"] else given
        truth = LongformTruth(ask=ask, seconds=at[fact] if fact else None, **fields)
        items.append(Item(id=f"{name}/q{n:02d}", audio=[Path(f"recordings/{name}.wav")], question=question,
                          reference=_reference(truth), kind="longform", category=f"{minutes} min/{ask}",
                          truth=truth, metadata={"recording": name, "genre": script.genre, "minutes": minutes}))
    return items


def _reference(truth: LongformTruth) -> str:
    """The truth as one line, for reading a results file."""
    if truth.ask == "time":
        assert truth.seconds is not None
        return f"at {int(truth.seconds // 60)}:{truth.seconds % 60:04.1f}"
    if truth.ask == "absent":
        return "not in the recording"
    return "; ".join(key.split("|")[0] for key in truth.keys)
