"""The agent's plumbing with a scripted LLM and toy tools: validation, repair rounds, caching, answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from copilot.agent import Copilot
from copilot.answering import prompts
from copilot.answering.compose import complete_fitted, link_options, whole_sentences
from copilot.answering.grounding import (
    for_the_speaker_asked,
    measured_open_answer,
    measured_yes_or_no,
    yes_no_option,
    yes_or_no_from_labels,
)
from copilot.answering.matching import match_option
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.errors import ContextOverflow, NothingToMeasure, ToolError
from copilot.evidence import Evidence
from copilot.llm import Completion
from copilot.planners.llm import LLMPlanner
from copilot.planners.prompts import program_schema
from copilot.program import Program, ProgramError, Step, parse, validate
from copilot.question.reading import asks_yes_or_no
from copilot.question.request import Request, split_options
from copilot.registry import Registry
from copilot.render import render_answer
from copilot.tool import Attribute, Findings, Quantity, SpanInput, ToolInput, ToolOutput, tool

CALLS: list[str] = []


class Peak(ToolOutput):
    peak: float

    def findings(self) -> Findings:
        return Findings(facts=f"Peak: {self.peak:.2f}")


class Kind(ToolOutput):
    kind: str

    def findings(self) -> Findings:
        attribute = Attribute(name="loudness", values=["loud", "quiet"])
        return Findings(facts=f"Kind: {self.kind}", labels=[self.kind], attribute=attribute)


@tool()
def peak(args: SpanInput, clips) -> Peak:
    """The largest absolute sample value."""
    CALLS.append("peak")
    return Peak(peak=float(np.abs(args.clip(clips).samples).max()))


@tool()
def kind(args: ToolInput, clips) -> Kind:
    """Says whether the clip is loud or quiet."""
    CALLS.append("kind")
    return Kind(kind="loud" if np.abs(args.clip(clips).samples).max() > 0.5 else "quiet")


@tool()
def broken(args: ToolInput, clips) -> Peak:
    """Always fails."""
    raise ToolError("this tool always fails")


@tool()
def voice(args: ToolInput, clips) -> Peak:
    """Measures a voice, when the clip has one."""
    raise NothingToMeasure("no speech detected in audio1: voice needs a voice")


REGISTRY = Registry([peak, kind, broken, voice])


class ScriptedLLM:
    """Replies with the given texts in order and records the prompts it saw."""

    name = "scripted"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.prompts: list[str] = []

    def complete(self, messages, schema, max_tokens) -> Completion:
        self.prompts.append(messages[-1]["content"])
        return Completion(text=self.replies.pop(0))


def program(*steps: dict) -> str:
    return json.dumps({"steps": list(steps)})


@pytest.fixture
def clips():
    samples = np.zeros(32000, np.float32)
    samples[20000] = 0.8
    return {"audio1": from_array(samples)}


@pytest.fixture
def agent_with(tmp_path):
    def make(*replies: str, max_rounds: int = 3) -> tuple[Copilot, ScriptedLLM]:
        llm = ScriptedLLM(*replies)
        return Copilot(LLMPlanner(llm), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite"), max_rounds=max_rounds), llm

    return make


def test_validation_lists_every_problem():
    bad = Program(steps=[
        Step(id="a", tool="nope"),
        Step(id="b", tool="peak", args={"start": -1}),
        Step(id="c", tool="peak", args={"loud": True}),
        Step(id="d", tool="peak", after=["zzz"]),
        Step(id="e", tool="kind", args={"audio": "audio2"}),
    ])
    with pytest.raises(ProgramError) as info:
        validate(bad, REGISTRY, ["audio1"])
    text = " | ".join(info.value.problems)
    assert "step 'a': unknown tool 'nope'; use one of: peak, kind, broken, voice" in text
    assert "step 'b': start: Input should be greater than or equal to 0" in text
    assert "step 'c': peak has no argument loud" in text
    assert "step 'd': waits for unknown step 'zzz'" in text
    assert "step 'e': audio='audio2' but this question's clips are audio1" in text


def test_cycles_and_oversized_programs_are_refused():
    cycle = Program(steps=[Step(id="a", tool="peak", after=["b"]), Step(id="b", tool="peak", after=["a"])])
    with pytest.raises(ProgramError, match="cycle"):
        validate(cycle, REGISTRY, ["audio1"])
    huge = Program(steps=[Step(id=f"s{i}", tool="peak") for i in range(13)])
    with pytest.raises(ProgramError, match="too many steps"):
        validate(huge, REGISTRY, ["audio1"])
    with pytest.raises(ProgramError, match="no steps"):
        validate(Program(), REGISTRY, ["audio1"])


def test_garbage_json_is_a_program_error():
    with pytest.raises(ProgramError, match="Invalid JSON"):
        parse("{steps: [oops")
    with pytest.raises(ProgramError):
        parse('{"steps": [{"id": "p", "args": {}}]}')  # no tool


def test_garbage_then_unknown_tool_then_a_good_program_is_repaired(agent_with, clips):
    agent, llm = agent_with(
        "this is not json",
        program({"id": "x", "tool": "transcribe", "args": {}}),
        program({"id": "p", "tool": "peak", "args": {}}),
        json.dumps({"answer": "The peak is 0.80."}),
    )
    answer = agent.ask(clips, "How loud is the loudest sample?")
    assert answer.text == "The peak is 0.80."
    assert len(answer.trace.rounds) == 3
    assert "unknown tool 'transcribe'" in llm.prompts[2]  # the planner saw what to fix
    assert [e.tool for e in answer.evidence] == ["peak"] and answer.evidence[0].output == {"peak": pytest.approx(0.8)}


def test_a_failing_step_goes_back_to_the_planner_and_then_the_answer_says_what_failed(agent_with, clips):
    agent, llm = agent_with(
        program({"id": "b", "tool": "broken", "args": {}}),
        program({"id": "b", "tool": "broken", "args": {}}),
        json.dumps({"answer": "The analysis cannot tell."}),
        max_rounds=2,
    )
    answer = agent.ask(clips, "Anything?")
    assert "this tool always fails" in llm.prompts[1]
    assert answer.evidence[0].error == "this tool always fails"
    assert any("failed: this tool always fails" in p for p in answer.trace.problems)
    assert "failed: this tool always fails" in llm.prompts[-1]  # the answer step is told


def test_a_step_that_finds_nothing_to_measure_is_answered_with_not_planned_again(agent_with, clips):
    agent, llm = agent_with(
        program({"tool": "voice", "args": {}}, {"tool": "peak", "args": {}}),
        json.dumps({"answer": "There is no voice in the clip."}),
    )
    answer = agent.ask(clips, "What kind of voice is it?")
    assert len(answer.trace.rounds) == 1 and len(llm.prompts) == 2  # one plan, one answer
    assert answer.trace.problems == ["step 's1' (voice) failed: no speech detected in audio1: voice needs a voice"]
    assert "[voice] failed: no speech detected in audio1" in llm.prompts[-1] and "[peak] Peak: 0.80" in llm.prompts[-1]
    assert answer.text == "There is no voice in the clip."


@pytest.mark.parametrize(
    ("question", "reply", "expected"),
    [
        ("Is it the same voice throughout? (a) yes (b) no", {"reasoning": "No voice, so it differs.", "answer": "(b) no"},
         "(b) no. A guess: no tool could measure this (no speech detected in audio1: voice needs a voice)."),
        ("Is it the same voice throughout?", {"reasoning": "No voice, so it differs.", "answer": "(b) no"},
         "No. A guess: no tool could measure this (no speech detected in audio1: voice needs a voice)."),
    ],
)
def test_a_pick_when_every_step_failed_is_called_a_guess_not_reasoned_from_the_failure(agent_with, clips, question, reply, expected):
    agent, _ = agent_with(program({"tool": "voice", "args": {}}), json.dumps(reply))
    answer = agent.ask(clips, question)
    assert answer.text == expected
    assert answer.trace.answered_by == "guess"


def test_a_fixable_failure_beside_a_finding_still_goes_back_to_the_planner(agent_with, clips):
    agent, llm = agent_with(
        program({"tool": "voice", "args": {}}, {"tool": "broken", "args": {}}),
        program({"tool": "peak", "args": {}}),
        json.dumps({"answer": "The peak is 0.80."}),
    )
    answer = agent.ask(clips, "How loud is it?")
    assert len(answer.trace.rounds) == 2
    assert "no speech detected in audio1" in llm.prompts[1] and "this tool always fails" in llm.prompts[1]


def test_references_pass_an_earlier_output_into_a_later_step(agent_with, clips):
    agent, _ = agent_with(
        program({"id": "p", "tool": "peak", "args": {}}, {"id": "q", "tool": "peak", "args": {"start": 0.5, "end": "$p.peak"}}),
        json.dumps({"answer": "ok"}),
    )
    answer = agent.ask(clips, "?")
    q = next(e for e in answer.evidence if e.step == "q")
    assert q.args == {"audio": "audio1", "start": 0.5, "end": pytest.approx(0.8)}
    assert q.output == {"peak": 0.0}  # the click at 1.25 s lies outside 0.5-0.8 s


def test_a_label_that_names_an_option_answers_without_the_llm(agent_with, clips):
    agent, llm = agent_with(program({"id": "k", "tool": "kind", "args": {}}))
    answer = agent.ask(clips, "Is the clip loud or quiet? (a) quiet (b) loud")
    assert answer.choice == "(b) loud" and answer.trace.answered_by == "label match"
    assert len(llm.prompts) == 1  # planning only


def test_multiple_choice_is_held_to_the_options(agent_with, clips):
    agent, _ = agent_with(
        program({"id": "p", "tool": "peak", "args": {}}),
        json.dumps({"reasoning": "A peak of 0.8 is loud.", "answer": "(a) a loud click"}),
    )
    answer = agent.ask(clips, "Which describes it? (a) a loud click (b) silence (c) music")
    assert answer.choice == "(a) a loud click"


def test_the_one_option_that_goes_with_the_measured_value_is_the_answer(agent_with, clips):
    agent, llm = agent_with(
        program({"id": "k", "tool": "kind", "args": {}}),
        json.dumps({"a library": "quiet", "a rock concert": "loud", "a forest": "quiet"}),
    )
    answer = agent.ask(clips, "Where could it be? (a) a library (b) a rock concert (c) a forest")
    assert answer.choice == "(b) a rock concert" and answer.trace.answered_by == "option links"
    assert "goes with the loudness loud" in answer.text and llm.prompts[-1].startswith("Question: Where could it be?")


def test_links_that_single_out_no_option_leave_the_choice_to_the_llm(agent_with, clips):
    agent, _ = agent_with(
        program({"id": "k", "tool": "kind", "args": {}}),
        json.dumps({"a drum": "loud", "a trumpet": "loud"}),
        json.dumps({"reasoning": "A click is a drum hit.", "answer": "(a) a drum"}),
    )
    answer = agent.ask(clips, "Which instrument? (a) a drum (b) a trumpet")
    assert answer.choice == "(a) a drum" and answer.trace.answered_by == "llm"


def test_a_question_about_the_measured_attribute_is_asked_about_its_value_alone(agent_with, clips):
    agent, llm = agent_with(
        program({"id": "p", "tool": "peak", "args": {}}, {"id": "k", "tool": "kind", "args": {}}),
        json.dumps({"a drum": "loud", "a trumpet": "loud"}),
        json.dumps({"reasoning": "A trumpet is the louder one.", "answer": "(b) a trumpet"}),
    )
    answer = agent.ask(clips, "Which instrument has this loudness? (a) a drum (b) a trumpet")
    assert answer.choice == "(b) a trumpet" and answer.trace.answered_by == "measured value"
    assert answer.text.startswith("(b) a trumpet. The tools measured the loudness loud.")
    assert llm.prompts[-1].startswith("Measured loudness: loud\nQuestion: Which instrument") and "Peak" not in llm.prompts[-1]


def test_the_llm_picks_an_option_by_its_letter_and_text():
    request = Request(question="What does it eat?", options=["Carnivore", "Omnivore", "Carnivore"])
    assert prompts.choice_schema(request)["properties"]["answer"]["enum"] == ["(a) Carnivore", "(b) Omnivore", "(c) Carnivore"]


def test_with_no_option_for_the_likeliest_value_the_next_likeliest_decides():
    language = Attribute(name="spoken language", values=["English", "German", "Hindi"])
    evidence = [Evidence(step="l", tool="language_id", findings=Findings(labels=["English", "Hindi"], attribute=language))]
    llm = ScriptedLLM(json.dumps({"Oktoberfest": "German", "Diwali": "Hindi"}))
    request = Request(question="Which festival is celebrated there?", options=["Oktoberfest", "Diwali"])
    draft = link_options(request, evidence, llm)
    assert draft.choice == 1 and "goes with the spoken language Hindi" in draft.text


def test_a_second_question_reuses_the_tool_cache(agent_with, clips):
    agent, _ = agent_with(
        program({"id": "p", "tool": "peak", "args": {}}), json.dumps({"answer": "0.8"}),
        program({"id": "p", "tool": "peak", "args": {}}), json.dumps({"answer": "0.8"}),
    )
    CALLS.clear()
    first = agent.ask(clips, "peak?")
    second = agent.ask(clips, "peak again?")
    assert CALLS == ["peak"]
    assert not first.evidence[0].cached and second.evidence[0].cached


def test_an_llm_that_answers_garbage_still_gets_a_reply_with_the_facts(agent_with, clips):
    agent, _ = agent_with(program({"id": "p", "tool": "peak", "args": {}}), "not json at all")
    answer = agent.ask(clips, "peak?")
    assert answer.trace.answered_by == "fallback" and "Peak: 0.80" in answer.text


def test_options_are_read_from_the_question():
    assert split_options("Identify the gender. (a) Male (b) Female") == ("Identify the gender.", ["Male", "Female"])
    assert split_options("No options here (really)") == ("No options here (really)", [])
    request = Request.from_text("Which? (a) Spinto soprano (b) Heldentenor", {"audio1": 1.0})
    assert request.options == ["Spinto soprano", "Heldentenor"] and request.letters == ["a", "b"]
    assert match_option(["Male", "Female"], ["female"]) == 1
    assert match_option(["dog", "cat"], ["Animal"]) is None
    assert match_option(["dog", "cat"], ["Cat", "Dog"]) == 1  # the likeliest label decides


def test_a_figure_no_tool_measured_brings_the_measured_facts_along(agent_with, clips):
    agent, _ = agent_with(program({"id": "p", "tool": "peak", "args": {}}), json.dumps({"answer": "The peak is 0.95."}))
    answer = agent.ask(clips, "What is the peak?")
    assert answer.text == "The peak is 0.95. (measured by the tools: Peak: 0.80)"


def test_a_yes_no_question_is_held_to_yes_or_no(agent_with, clips):
    agent, _ = agent_with(
        program({"id": "k", "tool": "kind", "args": {}}),
        json.dumps({"reasoning": "The clip is loud.", "answer": "(a) yes"}),
    )
    answer = agent.ask(clips, "Is there a click?")
    assert answer.text == "Yes. The clip is loud." and answer.choice is None


def test_a_yes_no_question_naming_the_measured_value_is_answered_by_the_label(agent_with, clips):
    agent, llm = agent_with(program({"tool": "kind", "args": {}}), program({"tool": "kind", "args": {}}))
    loud, quiet = agent.ask(clips, "Is the clip loud?"), agent.ask(clips, "Is the clip quiet, yes or no?")
    assert loud.text == "Yes. The kind tool measured loudness: loud." and loud.trace.answered_by == "label match"
    assert quiet.text == "No. The kind tool measured loudness: loud."
    assert len(llm.prompts) == 2  # the two plans: no answer prompt


@pytest.mark.parametrize(
    ("question", "verdict"),
    [
        ("Is it raining?", "Yes. The sound_events tool measured Rain."),
        ("Is there a dog barking?", "Yes. The sound_events tool measured animal: Dog."),
        ("Is there a cat?", "No. The sound_events tool measured animal: Dog."),
        ("Is the speaker speaking French?", "No. The language_id tool measured spoken language: English."),
        ("Is there no rain?", None),  # a negation is left to the LLM
        ("Is the recording free of noise?", None),
        ("Is there music?", "No. The sound_events tool did not detect Music; it detected Rain, Bark, Dog."),
        ("Is there a violin?", None),  # a sound the tool cannot name: the LLM reads the facts
        ("Is the rain heavy?", None),  # asks about the rain heard, not whether there is any
        ("Does the speaker sound like they are in a big hall with strong echo?",  # a value by another word
         "No. The reverberation tool measured reverberation: dry."),
        ("Is the speech dry?", "Yes. The reverberation tool measured reverberation: dry."),
        ("Does the clip contain background noise, or is it clean?", "Yes. The signal_quality tool measured noise level: noisy."),
        ("Is the clip clean, or does it contain background noise?", "No. The signal_quality tool measured noise level: noisy."),
    ],
)
def test_yes_or_no_from_the_labels(question, verdict):
    animal = Attribute(name="animal", values=["cat", "dog"])
    language = Attribute(name="spoken language", values=["English", "French"])
    room = Attribute(name="reverberation", values=["dry", "reverberant"], terms={"reverberant": ["echo"]})
    noise = Attribute(name="noise level", values=["clean", "noisy"], terms={"noisy": ["noise"]})
    evidence = [
        Evidence(step="s1", tool="sound_events", findings=Findings(labels=["Rain", "Bark", "Dog"], attribute=animal, vocabulary=["Rain", "Bark", "Dog", "Cat", "Music"])),
        Evidence(step="s2", tool="language_id", findings=Findings(labels=["English", "French"], attribute=language)),
        Evidence(step="s3", tool="reverberation", findings=Findings(labels=["dry"], attribute=room)),
        Evidence(step="s4", tool="signal_quality", findings=Findings(labels=["noisy"], attribute=noise)),
    ]
    found = yes_or_no_from_labels(question, evidence)
    assert (found.draft().text if found else None) == verdict


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Is there more than one speaker in this recording?",
         "(b) no. The diarization tool measured the number of speakers: 1, not more than one speaker."),
        ("Does the clip contain speech from two or more different people?",
         "(b) no. The diarization tool measured the number of speakers: 1, not two or more different people."),
        ("Is the recording longer than 5 seconds?", "(a) yes. The duration tool measured the duration: 6.79 s, longer than 5 seconds."),
        ("Is the reverberation time under 0.5 s?",
         "(a) yes. The reverberation tool measured the reverberation time RT60: 0.3 s, under 0.5 s."),
        ("Is the SNR at least 20 dB?", None),  # no SNR measured
        ("Is there no more than one speaker?", None),  # a negation is left to the LLM
        ("Are there more than two speakers, or fewer than four?", None),  # two bounds
        ("Is it over 5 seconds?", None),  # a duration or a reverberation time: neither is named
    ],
)
def test_a_yes_no_option_follows_a_bound_on_a_measured_number(question, reply):
    def measured(tool: str, name: str, value: float, unit: str, terms: list[str]) -> Evidence:
        return Evidence(step=tool, tool=tool, findings=Findings(quantities=[Quantity(name=name, value=value, unit=unit, terms=terms)]))

    evidence = [
        measured("diarization", "number of speakers", 1, "", ["speaker", "people", "voice"]),
        measured("duration", "duration", 6.79, "s", ["duration", "longer", "shorter"]),
        measured("reverberation", "reverberation time RT60", 0.3, "s", ["reverberation time", "RT60"]),
    ]
    draft = yes_no_option(Request(question=question, options=["yes", "no"]), evidence)
    assert (draft.text if draft else None) == reply


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("Is there a dog barking?", True),
        ("Is it the same speaker in both clips, or not?", True),
        ("Is there a dog? Answer yes or no.", True),
        ("Does the speaker sound calm, yes or no?", True),
        ("Is the speaker a man or a woman?", False),
        ("Is the recording in English or in French?", False),
        ("What is said, and is it loud?", False),
    ],
)
def test_only_a_question_of_whether_is_held_to_yes_or_no(question, yes_no):
    assert asks_yes_or_no(question) is yes_no


def test_a_question_between_alternatives_gets_an_open_answer(agent_with, clips):
    agent, _ = agent_with(program({"tool": "kind", "args": {}}), json.dumps({"answer": "It is a hum."}))
    answer = agent.ask(clips, "Is the clip a hum or a hiss?")
    assert answer.text == "It is a hum." and answer.choice is None


def test_a_question_between_measured_values_is_answered_by_the_label(agent_with, clips):
    agent, llm = agent_with(program({"tool": "kind", "args": {}}))
    answer = agent.ask(clips, "Is the clip loud or quiet?")
    assert answer.text == "Loud. The kind tool measured loudness: loud." and answer.trace.answered_by == "label match"
    assert len(llm.prompts) == 1  # the plan alone


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Is it a man or a woman speaking?", "Male. The gender tool measured gender: male."),
        ("Which animal do you hear?", "Cow. The sound_events tool measured the animal: cow."),
        ("What kind of animal is it?", "Cow. The sound_events tool measured the animal: cow."),
        ("What does the animal eat?", None),  # mentions the animal, asks something else: the LLM's
        ("How loud is the recording?",
         "The loudness tool measured the loudness: -35 LUFS, quiet, well below broadcast level (EBU R 128: -23 LUFS)."),
        ("Is it loud?", None),  # a yes/no question: not answered with a reading here
        ("How long is it?", None),  # a duration has no reading: the LLM words it
        # the kind of noise, not its level, though an SNR was measured
        ("What's that noise in the background?", "Applause. The sound_events tool measured the noise: Applause."),
        ("What is the noise level?", "Noisy. The signal_quality tool measured the noise level: noisy."),
        ("What is the sound quality like?", None),
        ("How many people talk?", "The diarization tool measured the number of speakers: 1."),
    ],
)
def test_an_open_question_about_a_measured_value_or_level_is_answered_from_it(question, reply):
    gender = Attribute(name="gender", values=["male", "female"], terms={"male": ["man"], "female": ["woman"]})
    animal = Attribute(name="animal", values=["cow", "sheep"])
    quiet = "quiet, well below broadcast level (EBU R 128: -23 LUFS)"
    evidence = [
        Evidence(step="s1", tool="gender", findings=Findings(labels=["male"], attribute=gender)),
        Evidence(step="s2", tool="sound_events", findings=Findings(labels=["Speech", "Cattle", "cow", "Moo"], attribute=animal)),
        Evidence(step="s3", tool="loudness", findings=Findings(quantities=[Quantity(name="loudness", value=-35.04, unit="LUFS", terms=["how loud"], reading=quiet)])),
        Evidence(step="s4", tool="duration", findings=Findings(quantities=[Quantity(name="duration", value=6.79, unit="s", terms=["long"])])),
        Evidence(step="s5", tool="signal_quality", findings=Findings(labels=["noisy"], attribute=Attribute(name="noise level", values=["clean", "noisy"]))),
        Evidence(step="s6", tool="sound_events", findings=Findings(named_values={"sound": "Applause", "noise": "Applause"})),
        Evidence(step="s7", tool="diarization", findings=Findings(quantities=[Quantity(name="number of speakers", value=1, unit="", terms=["people"])])),
    ]
    draft = None if asks_yes_or_no(question) else measured_open_answer(question, evidence)
    assert (draft.text if draft else None) == reply


def test_with_one_clip_the_program_schema_has_no_clip_argument_to_fill():
    def arguments(schema: dict) -> dict[str, set[str]]:
        variants = schema["properties"]["steps"]["items"]["anyOf"]
        return {v["properties"]["tool"]["const"]: set(v["properties"]["args"]["properties"]) for v in variants}

    assert arguments(program_schema(REGISTRY, clips=1)) == {"peak": {"start", "end"}, "kind": set(), "broken": set(), "voice": set()}
    assert arguments(program_schema(REGISTRY, clips=2))["kind"] == {"audio"}


def test_the_planner_writes_no_step_ids_and_the_program_names_its_steps():
    steps = program_schema(REGISTRY, clips=1)["properties"]["steps"]["items"]["anyOf"]
    assert all("id" not in v["properties"] for v in steps)
    program = parse('{"steps": [{"tool": "kind"}, {"tool": "peak", "args": {"start": 0.5}}, {"id": "k", "tool": "kind"}]}')
    assert [(s.id, s.tool, s.args) for s in program.steps] == [("s1", "kind", {}), ("s2", "peak", {"start": 0.5}), ("k", "kind", {})]
    assert validate(program, REGISTRY, ["audio1"]) is program


@pytest.mark.parametrize(
    ("question", "infers"),
    [
        ("What are the speakers possibly doing?", True),
        ("Guess what activity the speakers are engaged in.", True),
        ("Infer what specific scenario are the speakers in?", True),
        ("What does the speaker say?", False),
        ("How many people speak?", False),
    ],
)
def test_only_a_question_that_asks_for_a_guess_is_told_to_infer(question, infers):
    evidence = [Evidence(step="t", tool="asr", findings=Findings(facts='Transcript: "Play dead!"'))]
    text = prompts.answer_user(Request(question=question), evidence)
    assert (prompts.INFERENCE_HINT in text) is infers
    assert prompts.INFERENCE_HINT not in prompts.ANSWER_RULES


def test_labels_outside_the_attribute_neither_link_nor_show_as_measured():
    animal = Attribute(name="animal", values=["cat", "cow"])
    evidence = [Evidence(step="e", tool="sound_events", findings=Findings(labels=["Animal", "Silence", "Cat"], attribute=animal))]
    llm = ScriptedLLM(json.dumps({"Litter box": "cat", "Milking machine": "cow"}))
    request = Request(question="What does this animal need?", options=["Litter box", "Milking machine"])
    draft = link_options(request, evidence, llm)
    assert draft.choice == 0 and draft.text.endswith("the tools measured Cat.")


def test_evidence_whose_labels_hold_none_of_its_values_leaves_the_link_to_the_next():
    speech = Evidence(step="e", tool="sound_events", findings=Findings(labels=["Speech"], attribute=Attribute(name="animal", values=["cat"])))
    gender = Evidence(step="g", tool="gender", findings=Findings(labels=["female"], attribute=Attribute(name="gender", values=["male", "female"])))
    llm = ScriptedLLM(json.dumps({"Adele": "female", "Elvis Presley": "male"}))
    request = Request(question="Which singer shares the speaker's gender?", options=["Adele", "Elvis Presley"])
    draft = link_options(request, [speech, gender], llm)
    assert draft.choice == 0 and "gender female" in draft.text


def test_options_link_to_the_attribute_the_question_names_not_the_first_measured():
    gender = Evidence(step="g", tool="gender", findings=Findings(labels=["female"], attribute=Attribute(name="gender", values=["male", "female"])))
    emotion = Evidence(step="e", tool="emotion", findings=Findings(labels=["angry", "sad"], attribute=Attribute(name="emotion", values=["angry", "sad"])))
    llm = ScriptedLLM(json.dumps({"Throwing a plate": "angry", "Crying at a funeral": "sad"}))
    request = Request(question="Which scenario fits the speaker's emotion?", options=["Crying at a funeral", "Throwing a plate"])
    draft = link_options(request, [gender, emotion], llm)
    assert draft.choice == 1 and "goes with the emotion angry" in draft.text


class SmallContextLLM:
    """An LLM whose context holds ``context`` tokens of four characters each, refusing longer prompts as
    llama.cpp does (with the counts) or as a server that gives none; ``plan`` is its first reply."""

    name = "small"

    def __init__(self, context: int, counts: bool = True, plan: str | None = None):
        self.context, self.counts, self.plan, self.prompts = context, counts, plan, []

    def complete(self, messages, schema, max_tokens) -> Completion:
        if self.plan is not None:
            reply, self.plan = self.plan, None
            return Completion(text=reply)
        tokens = sum(len(m["content"]) for m in messages) // 4
        self.prompts.append(messages[-1]["content"])
        if tokens + max_tokens > self.context:
            raise ContextOverflow("too long", *((tokens, self.context) if self.counts else (None, None)))
        return Completion(text=json.dumps({"answer": "a talk about licences"}))


WORDS = " ".join(f"word{i}" for i in range(6000))  # 47,000 characters, an hour's talk is about 50,000


class Said(ToolOutput):
    text: str

    def findings(self) -> Findings:
        return Findings(facts=f"Transcript: {self.text}")


@tool()
def said(args: ToolInput, clips) -> Said:
    """A long transcript."""
    return Said(text=WORDS)


def test_the_longest_texts_are_cut_to_one_length_keeping_their_start_and_end():
    texts = ["Speech sounds: Speech (0.91)", f"Transcript: {WORDS}", "Spoken language: English " * 40]
    cut = prompts.cut_to_fit(texts, 3000)
    assert cut[0] == texts[0] and cut[2] == texts[2]  # short enough to stay whole
    assert sum(map(len, cut)) <= 3000 + 10
    assert cut[1].startswith("Transcript: word0 word1 ") and cut[1].endswith(" word5998 word5999")
    assert "characters left out to fit the LLM's context" in cut[1]
    assert prompts.cut_to_fit(texts, 10**6) == texts


@pytest.mark.parametrize("counts", [True, False], ids=["with token counts", "without"])
def test_measurements_over_the_context_are_cut_to_fit_and_the_answer_says_so(counts):
    llm = SmallContextLLM(context=2048, counts=counts)
    evidence = [Evidence(step="s1", tool="asr", findings=Findings(facts=f"Transcript: {WORDS}"))]
    reply, notes, _ = complete_fitted(llm, "Answer.", Request(question="What is it about?"), evidence, {}, 200)
    assert json.loads(reply.text)["answer"] == "a talk about licences"
    assert len(llm.prompts) >= 2 and len(llm.prompts[-1]) < 4 * 2048
    assert "word0 " in llm.prompts[-1] and "word5999" in llm.prompts[-1]
    assert notes and notes[0].startswith(f"the measurements were cut from {len('[asr] Transcript: ' + WORDS):,} to ")


def test_the_note_on_cut_measurements_reaches_the_answer(tmp_path, clips):
    llm = SmallContextLLM(context=2048, plan=program({"tool": "said", "args": {}}))
    agent = Copilot(LLMPlanner(llm), llm, Registry([said]), ToolCache(tmp_path / "cache.sqlite"))
    answer = agent.ask(clips, "What is said?")
    assert answer.text == "a talk about licences" and answer.evidence[0].output["text"] == WORDS
    assert "Notes: the measurements were cut from " in render_answer(answer)


def test_a_question_whose_measurements_cannot_fit_fails_with_a_clear_error():
    llm = SmallContextLLM(context=250)  # not even the question and the reply fit
    evidence = [Evidence(step="s1", tool="asr", findings=Findings(facts=f"Transcript: {WORDS}"))]
    with pytest.raises(ContextOverflow, match="even with the measurements cut down"):
        complete_fitted(llm, "Answer.", Request(question="What is it about?"), evidence, {}, 200)


def test_a_step_on_part_of_a_clip_says_which_part_in_the_answer_prompt():
    part = Evidence(step="s1", tool="asr", args={"audio": "audio1", "start": 849.6, "end": 939.6}, findings=Findings(facts="Transcript: x"))
    request = Request(question="What is said in the last minute?", clips={"audio1": 950.62})
    assert "[asr on 849.6-939.6 s of the 950.6 s clip] Transcript: x" in prompts.answer_user(request, [part])
    rest = Evidence(step="s2", tool="gender", args={"audio": "audio2", "start": 2.5}, findings=Findings(facts="Gender: male"))
    two = Request(question="Who speaks last?", clips={"audio1": 950.62, "audio2": 6.0})
    assert "[gender on 2.5 s to the end of audio2 (6.0 s)] Gender: male" in prompts.answer_user(two, [rest])
    whole = Evidence(step="s1", tool="asr", args={"audio": "audio1"}, findings=Findings(facts="Transcript: x"))
    assert "[asr] Transcript: x" in prompts.answer_user(request, [whole])


def test_an_answer_cut_off_by_its_length_cap_ends_at_its_last_whole_sentence(agent_with, clips):
    rambling = "The clip is loud. It has one peak. " + "It goes on and on " * 40
    agent, _ = agent_with(program({"tool": "peak", "args": {}}), json.dumps({"answer": rambling[: prompts.ANSWER_CHARS]}))
    answer = agent.ask(clips, "Describe the clip.")
    assert answer.text == "The clip is loud. It has one peak."
    short = "A peak, and no sentence end"
    assert whole_sentences(short, prompts.ANSWER_CHARS) == short
    assert whole_sentences("x" * 300, 300) == "x" * 300 + "..."


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Who speaks second, a man or a woman?", "Female. The gender tool measured gender: female."),
        ("Is the first speaker a man?", "Yes. The gender tool measured gender: male."),
        ("Is the second voice a man's?", "No. The gender tool measured gender: female."),
        ("Is the last voice a man's?", None),  # the last speaker's gender was not measured: the LLM reads the facts
        ("Who speaks fourth, a man or a woman?", None),  # no fourth speaker: nothing measured to answer from
        ("Does the second speaker sound like the first, a man or a woman?", None),  # two speakers named: not one
    ],
)
def test_a_question_about_one_speaker_by_order_is_answered_from_that_speakers_labels(question, reply):
    gender = Attribute(name="gender", values=["male", "female"], terms={"male": ["man"], "female": ["woman"]})
    evidence = [Evidence(step="s1", tool="gender", findings=Findings(attribute=gender, by_speaker=[["male"], ["female"], []]))]
    narrowed = for_the_speaker_asked(question, evidence)
    if asks_yes_or_no(question):
        verdict = measured_yes_or_no(question, narrowed)
        draft = verdict.draft() if verdict else None
    else:
        draft = measured_open_answer(question, narrowed)
    assert (draft.text if draft else None) == reply
