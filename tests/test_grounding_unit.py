"""The answer step's grounding in code, with a scripted LLM and toy tools: a measured number picks the nearest
numeric option, a quoted word is looked up in the transcript, and a question about what is said always gets asr."""

from __future__ import annotations

import json

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.answering.grounding import measured_number, option_named, transcript_match
from copilot.answering.matching import nearest
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.evidence import Evidence
from copilot.planners.fixed import FixedPlanner
from copilot.planners.llm import LLMPlanner
from copilot.question.figures import NumberOption, read_option
from copilot.question.reading import asks_about_content, asks_what_is_said, quoted
from copilot.question.request import Request
from copilot.registry import Registry
from copilot.render import render_answer
from copilot.tool import Attribute, Findings, Quantity, ToolInput, ToolOutput, tool
from tests.test_agent_unit import ScriptedLLM, program

TRANSCRIPT = {"text": "I would like some tomatoes for the salad tonight."}


class Length(ToolOutput):
    seconds: float

    def findings(self) -> Findings:
        duration = Quantity(name="duration", value=self.seconds, unit="s", terms=["duration", "length", "long"])
        return Findings(facts=f"Duration: {self.seconds:.3f} s", quantities=[duration])


class Talkers(ToolOutput):
    count: int

    def findings(self) -> Findings:
        count = Quantity(name="number of speakers", value=self.count, unit="", terms=["speaker", "voice", "people"])
        return Findings(facts=f"Speakers: {self.count}", quantities=[count])


class Text(ToolOutput):
    text: str

    def findings(self) -> Findings:
        return Findings(facts=f'Transcript (en): "{self.text}"')


class Tags(ToolOutput):
    def findings(self) -> Findings:
        return Findings(facts="Speech sounds: Speech (0.99)", labels=["Speech"])


@tool()
def length(args: ToolInput, clips) -> Length:
    """The clip's length in seconds."""
    return Length(seconds=round(args.clip(clips).duration, 3))


@tool()
def talkers(args: ToolInput, clips) -> Talkers:
    """How many people speak."""
    return Talkers(count=1)


@tool()
def asr(args: ToolInput, clips) -> Text:
    """What is said."""
    return Text(text=TRANSCRIPT["text"])


@tool()
def sound_events(args: ToolInput, clips) -> Tags:
    """Which sounds are heard."""
    return Tags()


class Noises(ToolOutput):
    def findings(self) -> Findings:
        return Findings(facts="{}", labels=["Silence", "Typing", "Computer keyboard"])


@tool()
def noises(args: ToolInput, clips) -> Noises:
    """Which noises are heard."""
    return Noises()


class Mood(ToolOutput):
    mood: str

    def findings(self) -> Findings:
        return Findings(facts=f"Emotion: {self.mood}", labels=[self.mood])


@tool(serves=("emotion", "mood"))
def feelings(args: ToolInput, clips) -> Mood:
    """The emotion in the voice."""
    return Mood(mood="happy")


@tool(serves=("emotion",))
def other_feelings(args: ToolInput, clips) -> Mood:
    """The emotion in the voice, another way."""
    return Mood(mood="sad")


REGISTRY = Registry([length, talkers, asr, sound_events])


@pytest.fixture
def clips():
    return {"audio1": from_array(np.zeros(int(6.79 * 16000), np.float32))}


@pytest.fixture
def agent_with(tmp_path):
    def make(*replies: str, registry: Registry = REGISTRY) -> tuple[Copilot, ScriptedLLM]:
        llm = ScriptedLLM(*replies)
        return Copilot(LLMPlanner(llm), llm, registry, ToolCache(tmp_path / "cache.sqlite")), llm

    return make


def evidence(tool: str, output: ToolOutput, audio: str = "audio1") -> Evidence:
    return Evidence(step=tool, tool=tool, args={"audio": audio}, output=output.model_dump(), findings=output.findings())


def duration(seconds: float, audio: str = "audio1") -> Evidence:
    return evidence("length", Length(seconds=seconds), audio)


def choose_number(question: str, *found: Evidence) -> str | None:
    draft = measured_number(Request.from_text(question, {"audio1": 1.0}), list(found))
    return None if draft is None else Request.from_text(question, {}).lettered[draft.choice]


# a. a measured number chooses the nearest option


def test_the_option_nearest_the_measured_duration_is_chosen_without_the_llm(agent_with, clips):
    agent, llm = agent_with(program({"tool": "length", "args": {}}))
    answer = agent.ask(clips, "How long is this recording? (a) about 4 seconds (b) about 7 seconds "
                              "(c) about 12 seconds (d) about 20 seconds")
    assert answer.choice == "(b) about 7 seconds" and answer.trace.answered_by == "measured number"
    assert answer.text == ("(b) about 7 seconds. The length tool measured the duration: 6.79 s; the nearest option is "
                           "about 7 seconds.")
    assert len(llm.prompts) == 1  # the plan only


@pytest.mark.parametrize(("text", "read"), [
    ("about 12 seconds", NumberOption(value=12, unit="s")),
    ("3", NumberOption(value=3)),
    ("10 dB", NumberOption(value=10, unit="dB")),
    ("-5 dB", NumberOption(value=-5, unit="dB")),
    ("1.5 s long", NumberOption(value=1.5, unit="s")),
    ("approximately 2 minutes", NumberOption(value=120, unit="s")),
    ("500 ms", NumberOption(value=0.5, unit="s")),
    ("two speakers", NumberOption(value=2, noun="speakers")),
    ("seventeen", NumberOption(value=17)),
    ("5 to 10 seconds", None),  # a range
    ("more than 3", None),  # a comparison
    ("4 different people", None),
    ("yes", None),
])
def test_options_read_as_numbers(text, read):
    assert read_option(text) == read


def test_durations_are_compared_by_ratio_and_decibels_and_counts_by_difference():
    seconds = Quantity(name="duration", value=14.5, unit="s", terms=["duration"])
    # 20/14.5 = 1.38 is nearer 1 than 14.5/10 = 1.45, though 14.5 is 4.5 s from 10 and 5.5 s from 20
    assert nearest([NumberOption(value=10, unit="s"), NumberOption(value=20, unit="s")], seconds) == 1
    snr = Quantity(name="SNR", value=14.5, unit="dB", terms=["SNR"])
    assert nearest([NumberOption(value=10, unit="dB"), NumberOption(value=20, unit="dB")], snr) == 0
    count = Quantity(name="number of speakers", value=3, unit="", terms=["speaker"])
    assert nearest([NumberOption(value=2), NumberOption(value=4)], count) is None  # equally near: the LLM's call


def test_the_question_must_name_the_quantity_so_a_count_is_not_answered_by_a_duration():
    both = [duration(3.2), evidence("talkers", Talkers(count=2))]
    assert choose_number("How many different people speak? (a) 1 (b) 2 (c) 3 (d) 4", *both) == "(b) 2"
    assert choose_number("How many voices are there? (a) one (b) two (c) three", *both) == "(b) two"
    assert choose_number("How many seconds long is it? (a) 1 (b) 3 (c) 6", *both) == "(b) 3"
    assert choose_number("About how many seconds does it last? (a) 2 s (b) 3 s", *both) == "(b) 3 s"  # its unit
    assert choose_number("About how many seconds does it last? (a) 2 (b) 3", *both) == "(b) 3"
    assert choose_number("What is the length of the clip? (a) 2 s (b) 4 s", *both) == "(b) 4 s"
    assert choose_number("Which is the speaker's favourite number? (a) 1 (b) 2", *both) is None  # no count asked
    assert choose_number("Which number is said first? (a) 1 (b) 2", *both) is None  # names nothing measured
    assert choose_number("How many speakers? (a) 2 (b) about 3 seconds", *both) is None  # not one kind of number


def test_a_number_without_one_measured_quantity_to_go_by_is_left_to_the_llm():
    question = "How long is it? (a) about 4 seconds (b) about 8 seconds"
    assert choose_number(question) is None  # nothing measured
    assert choose_number(question, duration(4.1), duration(7.9, "audio2")) is None  # two clips, two durations
    assert choose_number(question, duration(4.1), duration(4.1)) == "(a) about 4 seconds"  # one value, twice
    assert choose_number("How long is it? (a) 10 dB (b) 20 dB", duration(4.1)) is None  # not a duration's unit
    assert choose_number("How long is it? (a) short (b) 8 seconds", duration(4.1)) is None  # not all numbers
    failed = duration(4.1).model_copy(update={"error": "boom"})
    assert choose_number(question, failed) is None


def test_the_closer_name_wins_when_two_quantities_are_named():
    rt60 = Quantity(name="reverberation time RT60", value=0.7, unit="s", terms=["RT60", "reverberation time"])
    reverb = Evidence(step="r", tool="reverberation", findings=Findings(quantities=[rt60]))
    question = "How long is the reverberation time? (a) 0.3 s (b) 0.8 s (c) 2 s"
    assert choose_number(question, duration(6.79), reverb) == "(b) 0.8 s"  # "reverberation time" over "how long"
    assert choose_number("How many seconds? (a) 0.3 s (b) 7 s", duration(6.79), reverb) is None  # both in seconds


def test_the_tools_declare_what_they_measure():
    from tools.diarization import DiarizationOutput
    from tools.measures import Duration, Loudness, Pitch
    from tools.reverberation import Reverberation
    from tools.signal_quality import SignalQuality

    outputs = [
        Duration(duration=6.79, source_sample_rate=16000, channels=1),
        DiarizationOutput(num_speakers=2, turns=[], speaking_time=[]),
        SignalQuality(snr_db=8.2, noise="noisy", noise_dbfs=-40, noise_measured_in="pauses", pause_seconds=2.0,
                      full_scale_ratio=0.0, flat_runs=0, clipped=False),
        Reverberation(rt60_s=0.7, reverberation="reverberant", decays=80, bands=8),
        Loudness(lufs=-23.4, peak_dbfs=-3, rms_dbfs=-25, noise_floor_dbfs=-60, silence_ratio=0.1, silence_threshold=-50),
        Pitch(median_hz=120.0, low_hz=90.0, high_hz=180.0, range_semitones=12.0, voiced_ratio=0.5),
    ]
    measured = [(q.name, q.value, q.unit) for o in outputs for q in o.findings().quantities]
    assert measured == [("duration", 6.79, "s"), ("number of speakers", 2, ""),
                        ("speech-to-noise ratio (SNR)", 8.2, "dB"), ("reverberation time RT60", 0.7, "s"),
                        ("loudness", -23.4, "LUFS"), ("median pitch", 120.0, "Hz")]
    found = [Evidence(step="x", tool=type(o).__name__, findings=Findings(quantities=o.findings().quantities)) for o in outputs]
    assert choose_number("Which SNR level matches the clip? (a) 0 dB (b) 10 dB (c) 20 dB", *found) == "(b) 10 dB"
    assert choose_number("Predict the signal-to-noise ratio. (a) 5 dB (b) 15 dB", *found) == "(a) 5 dB"
    assert choose_number("What is the RT60? (a) 0.2 s (b) 0.6 s (c) 1.5 s", *found) == "(b) 0.6 s"
    assert choose_number("Determine the total number of different talkers. (a) 1 (b) 2", *found) == "(b) 2"
    assert choose_number("How many speakers are there? (a) 1 (b) 2 (c) 3", *found) == "(b) 2"
    assert choose_number("What is the median pitch? (a) 100 Hz (b) 200 Hz", *found) == "(a) 100 Hz"
    assert choose_number("How loud is it? (a) -23 LUFS (b) -14 LUFS", *found) == "(a) -23 LUFS"
    silent = SignalQuality(snr_db=None, noise=None, noise_dbfs=-90, noise_measured_in="quietest frames",
                           pause_seconds=0, full_scale_ratio=0, flat_runs=0, clipped=False)
    assert silent.findings().quantities == [] and Pitch(median_hz=None, low_hz=None, high_hz=None, range_semitones=None,
                                                        voiced_ratio=0).findings().quantities == []


# b. a quoted word is looked up in the transcript


def said(question: str, *found: Evidence) -> str | None:
    request = Request.from_text(question, {"audio1": 1.0})
    draft = transcript_match(request, list(found))
    if draft is None:
        return None
    assert draft.answered_by == "transcript match"
    return request.lettered[draft.choice] if draft.choice is not None else draft.text


def transcript(text: str = TRANSCRIPT["text"], audio: str = "audio1") -> Evidence:
    return evidence("asr", Text(text=text), audio)


def test_a_quoted_word_is_looked_up_in_the_transcript_in_any_inflection():
    heard = transcript("I would like some tomatoes for the salad tonight.")
    assert said('Does the speaker say the word "tomato"? (a) no (b) yes', heard) == "(b) yes"
    assert said("Does the speaker say the word 'potato'? (a) yes (b) no", heard) == "(b) no"
    assert said('Is the phrase “salad tonight” spoken? (a) yes (b) no', heard) == "(a) yes"
    assert said('Does the speaker mention "salads"?', heard) == (
        'Yes. The transcript says "salads": "I would like some tomatoes for the salad tonight."')
    assert said('Is the word "cat" uttered in this clip?', heard).startswith('No. The transcript does not say "cat"')
    assert said('Does the speaker say "tea"?', transcript("The team won.")).startswith("No.")  # not a word's prefix
    assert said('Does the speaker say "hello"? (a) yes (b) no', transcript("")) == "(b) no"  # no speech recognised


def test_a_transcript_match_needs_a_yes_no_question_about_what_is_said_one_quote_and_one_transcript():
    heard = transcript()
    assert said('Is the word "tomato" not said? (a) yes (b) no', heard) is None  # negated: the LLM reads it
    assert said('Is the word "tomato" absent from the speech? (a) yes (b) no', heard) is None
    assert said('Is the "beep" sound heard? (a) yes (b) no', heard) is None  # not about what is said
    assert said('Which word is said, "tomato" or "potato"? (a) tomato (b) potato', heard) is None  # not yes/no
    assert said('Does the speaker say the word "tomato"? (a) yes (b) no') is None  # no transcript
    two = [transcript(audio="audio1"), transcript("potatoes", audio="audio2")]
    assert said('Does the speaker say "tomato"? (a) yes (b) no', *two) is None  # which clip: the LLM's to read
    failed = transcript().model_copy(update={"error": "boom", "output": None})
    assert said('Does the speaker say "tomato"? (a) yes (b) no', failed) is None


def test_the_agent_answers_a_quoted_word_from_the_transcript_without_the_llm(agent_with, clips):
    agent, llm = agent_with(program({"tool": "asr", "args": {}}))
    answer = agent.ask(clips, 'Can you hear the speaker pronounce the word "tomatoes"? (a) no (b) yes')
    assert answer.choice == "(b) yes" and answer.trace.answered_by == "transcript match"
    assert len(llm.prompts) == 1


@pytest.mark.parametrize(("question", "about_speech", "quotes"), [
    ('Does the speaker say the word "tomato"?', True, ["tomato"]),
    ("Is the term 'ice cream' in the speaker's sentence?", True, ["ice cream"]),
    ("Is the phrase “good morning” spoken?", True, ["good morning"]),
    ("Is a number mentioned?", True, []),
    ("What do the two people talk about?", True, []),
    ("What is the first word?", True, []),
    ('Is the "beep" sound heard?', False, ["beep"]),
    ("Would you say the speaker is happy?", False, []),
    ("How many people speak in the recording?", False, []),
    ("Which language is spoken?", False, []),
    ("Is the speaker's voice 'calm'?", False, ["calm"]),
])
def test_questions_about_what_is_said(question, about_speech, quotes):
    assert asks_what_is_said(question) is about_speech and quoted(question) == quotes


@pytest.mark.parametrize(("question", "about_content"), [
    ("When is the vet appointment?", True),
    ("Where are the children going?", True),
    ("What will she bring?", True),
    ("Which city is this in?", True),
    ("What is the sound behind them?", False),
    ("Who speaks first?", False),
    ("Which animal can be heard?", False),
    ("What colour is the speaker's shirt?", False),
    ("How long is the recording?", False),  # not a question of what, who, when, where or why
    ("Is the meeting on Monday?", False),
])
def test_questions_about_what_happens_in_the_speech(question, about_content):
    assert asks_about_content(question) is about_content


# c. a question about what is said always runs asr


def test_a_question_about_what_happens_planned_without_asr_gets_an_asr_step(agent_with, clips):
    agent, _ = agent_with(program({"tool": "talkers", "args": {}}), json.dumps({"answer": "On Monday."}))
    answer = agent.ask(clips, "When is the vet appointment?")
    assert [s.tool for s in answer.program.steps] == ["talkers", "asr"]
    why = "the question asks what happens in what is said and the planner planned no step for it"
    assert answer.trace.amendments == [f"round 1: added step 'asr1', asr: {why}"]


def test_a_spoken_word_planned_with_sound_events_gets_an_asr_step_and_the_trace_says_so(agent_with, clips):
    agent, llm = agent_with(program({"tool": "sound_events", "args": {}}))
    answer = agent.ask(clips, 'Does the speaker say the word "salad"? (a) no (b) yes')
    assert [s.tool for s in answer.program.steps] == ["sound_events", "asr"]
    assert answer.trace.amendments == [
        "round 1: added step 'asr1', asr: the question asks what is said and the planner planned no step for it"]
    assert {e.tool for e in answer.evidence} == {"sound_events", "asr"}
    assert answer.choice == "(b) yes" and answer.trace.answered_by == "transcript match"
    assert "amended: round 1: added step 'asr1'" in render_answer(answer, trace=True)
    assert len(llm.prompts) == 1


def test_asr_is_added_once_per_clip_and_only_when_missing_and_the_question_is_about_speech(agent_with, clips):
    two = {**clips, "audio2": clips["audio1"]}
    agent, _ = agent_with(program({"tool": "sound_events", "args": {}}),
                          json.dumps({"reasoning": "Both say it.", "answer": "(a) yes"}))
    answer = agent.ask(two, 'Do both speakers say "salad"? (a) yes (b) no')
    assert [(s.id, s.tool, s.args) for s in answer.program.steps[1:]] == [
        ("asr1", "asr", {"audio": "audio1"}), ("asr2", "asr", {"audio": "audio2"})]
    assert answer.trace.answered_by == "llm"  # two transcripts: which clip is meant is read by the LLM
    agent, _ = agent_with(program({"tool": "asr", "args": {}}))
    assert agent.ask(clips, 'Does the speaker say "salad"? (a) no (b) yes').trace.amendments == []
    agent, _ = agent_with(program({"tool": "talkers", "args": {}}))
    answer = agent.ask(clips, "How many people speak? (a) 1 (b) 2")
    assert answer.trace.amendments == [] and [s.tool for s in answer.program.steps] == ["talkers"]
    assert answer.choice == "(a) 1" and answer.trace.answered_by == "measured number"
    agent, _ = agent_with(program({"tool": "sound_events", "args": {}}),
                          json.dumps({"reasoning": "No transcript.", "answer": "(b) no"}),
                          registry=Registry([sound_events]))
    assert agent.ask(clips, 'Does the speaker say "salad"? (a) yes (b) no').trace.amendments == []  # no asr to add


# d. a question that names what a tool serves always runs a tool that serves it


def test_a_question_naming_what_a_tool_serves_gets_that_tool_once_and_the_trace_says_so(agent_with, clips):
    registry = Registry([asr, feelings, other_feelings])
    agent, _ = agent_with(program({"tool": "asr", "args": {}}), json.dumps({"reasoning": "r", "answer": "(a) smile"}),
                          registry=registry)
    answer = agent.ask(clips, "Which face goes with the speaker's emotional state? (a) smile (b) frown")
    assert [s.tool for s in answer.program.steps] == ["asr", "feelings"]  # the first tool serving it, not both
    assert answer.trace.amendments == [
        "round 1: added step 'feelings1', feelings: the question names \"emotion\" and the planner planned no step for it"]
    assert {e.tool for e in answer.evidence} == {"asr", "feelings"}


@pytest.mark.parametrize(("planned", "question"), [
    ("other_feelings", "What is the speaker's emotion?"),  # another tool serving the word is planned
    ("asr", "What does the speaker say about motion?"),  # "motion" is not "emotion"
])
def test_no_tool_is_added_when_the_need_is_served_or_not_named(agent_with, clips, planned, question):
    agent, _ = agent_with(program({"tool": planned, "args": {}}), json.dumps({"answer": "It is."}),
                          registry=Registry([asr, feelings, other_feelings]))
    assert agent.ask(clips, question).trace.amendments == []


def test_a_fixed_cascade_runs_its_own_tools_and_nothing_the_question_names(clips):
    llm = ScriptedLLM(json.dumps({"reasoning": "No transcript says it.", "answer": "(b) no"}))
    agent = Copilot(FixedPlanner(["talkers"]), llm, REGISTRY, amend=False)
    answer = agent.ask(clips, 'Does the speaker say "salad"? (a) yes (b) no')
    assert [s.tool for s in answer.program.steps] == ["talkers"] and answer.trace.amendments == []


# e. an option that names a finding in its own words is the answer


@pytest.mark.parametrize(("labels", "options", "picked"), [
    (["Silence", "Typing", "Computer keyboard"], ["crying baby", "keyboard typing", "mouse click"], "Typing"),
    (["Silence", "Laughter", "chicken"], ["church bells", "laughing", "crow"], "Laughter"),  # laughter: laugh
    (["Animal", "Bark", "Dog"], ["Meowing", "Barking", "Mooing"], "Bark"),
    (["Korean"], ["Japan", "South Korea"], "Korean"),
    (["Water"], ["water drops", "pouring water", "rain"], None),  # names two options: not decided
    (["Crow"], ["a crowd cheering", "church bells"], None),  # a short stem derives nothing: crow is not crowd
])
def test_an_option_naming_a_finding_in_its_own_words_is_the_answer(labels, options, picked):
    evidence = [Evidence(step="s", tool="sound_events", findings=Findings(labels=labels))]
    draft = option_named(Request(question="Which sound is this?", options=options), evidence)
    if picked is None:
        assert draft is None
    else:
        assert draft.answered_by == "label match" and draft.text.endswith(f"The sound_events tool measured {picked}.")
        assert picked.lower()[:4] in options[draft.choice].lower()


def test_only_the_likeliest_value_of_a_closed_set_names_an_option():
    emotion = Attribute(name="emotion", values=["angry", "happy", "sad"])
    evidence = [Evidence(step="e", tool="emotion", findings=Findings(labels=["angry", "happy", "sad"], attribute=emotion))]
    request = Request(question="What might they say next?", options=["I can't contain my happiness", "Leave me alone"])
    assert option_named(request, evidence) is None  # happy is what the tool judged less likely than angry
    evidence[0].findings.labels = ["happy", "angry", "sad"]
    assert option_named(request, evidence).choice == 0


def test_the_agent_answers_an_option_named_in_its_own_words_without_the_llm(agent_with, clips):
    agent, llm = agent_with(program({"tool": "noises", "args": {}}), registry=Registry([noises]))
    answer = agent.ask(clips, "Which sound is this? (a) crying baby (b) keyboard typing")
    assert answer.choice == "(b) keyboard typing" and answer.trace.answered_by == "label match"
    assert len(llm.prompts) == 1  # the plan alone
