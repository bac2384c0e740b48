"""Benchmark scorers on known cases: option parsing, MMAU's string match and its corner cases, macro-F1, WER/CER,
keyword hits, refusals, and the judge's rubric rules with a scripted LLM."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jiwer
import pytest
from sklearn.metrics import f1_score

from copilot.benchmarks.items import Item, Prediction
from copilot.benchmarks.judge import Judge
from copilot.benchmarks.prompts import JASCO_INSTRUCTIONS
from copilot.benchmarks.scorers import (
    first_number,
    keyword_hit,
    macro_f1,
    match_label,
    mmau_string_match,
    parse_choice,
    refused,
    score,
    transcript_errors,
)
from copilot.errors import CopilotError
from copilot.llm import Completion

OPTIONS = ["Male", "Female"]


@pytest.mark.parametrize(("text", "expected"), [
    ("(b) Female", 1),
    ("(B)", 1),
    ("b", 1),
    ("a.", 0),
    ("b) Female, clearly.", 1),
    ("The answer is (a).", 0),
    ("Answer: b", 1),
    ("The speaker is female.", 1),
    ("FEMALE", 1),
    ("The speaker sounds male.", 0),
    ("It could be (a) or (b).", None),
    ("Male or female, hard to say.", None),
    ("a woman speaks", None),  # "a" is an article here, and "woman" names no option
    ("", None),
])
def test_parse_choice_by_letter_then_by_text(text, expected):
    assert parse_choice(text, OPTIONS) == expected


def test_parse_choice_prefers_the_longer_option_that_contains_a_shorter_one():
    options = ["A man", "A man and a child", "Two women"]
    assert parse_choice("I hear a man and a child talking", options) == 1
    assert parse_choice("Just a man.", options) == 0


@pytest.mark.parametrize(("answer", "prediction", "choices", "expected"), [
    ("Man", "Man", ["Man", "Woman", "Child", "Robot"], True),
    ("Man", "The voice belongs to a man.", ["Man", "Woman", "Child", "Robot"], True),
    ("Man", "(A) Man", ["Man", "Woman", "Child", "Robot"], True),  # the letter is no word of a wrong choice
    ("Man", "Not a woman but a man", ["Man", "Woman", "Child", "Robot"], False),  # names a wrong choice
    ("Man", "MAN!", ["Man", "Woman", "Child", "Robot"], True),  # case and punctuation do not matter
    ("Man", "", ["Man", "Woman", "Child", "Robot"], False),  # an empty prediction never matches
    ("Man", "...", ["Man", "Woman", "Child", "Robot"], False),  # nor does one with no word
    ("A child", "child", ["A child", "A woman", "An adult man", "A teenager"], False),  # every answer word is needed
    ("A child", "a child", ["A child", "A woman", "An adult man", "A teenager"], True),  # "a" is shared, not wrong
    ("An adult man", "an adult man", ["A child", "A woman", "An adult man", "A teenager"], True),
    ("An adult man", "It is an adult man, a father.", ["A child", "A woman", "An adult man", "A teenager"], False),  # "a"!
    ("Train", "train", ["Train", "Train horn", "Bicycle"], True),
    ("Train", "a train horn", ["Train", "Train horn", "Bicycle"], False),  # "horn" belongs to a wrong choice only
    ("Radio", "Radio", ["Radio", "radio"], True),  # a duplicate of the answer adds no wrong words
    ("Power windows", "windows", ["Power windows", "Sunroof", "Sliding doors", "Rearview mirrors"], False),
])
def test_mmau_string_match_corner_cases(answer, prediction, choices, expected):
    assert mmau_string_match(answer, prediction, choices) is expected


def test_macro_f1_agrees_with_sklearn_over_the_reference_classes():
    golds = ["dog", "dog", "cat", "cat", "cow", "cow", "cow"]
    preds = ["dog", "cat", "cat", "", "cow", "dog", "cow"]
    expected = f1_score(golds, preds, labels=sorted(set(golds)), average="macro")
    assert macro_f1(golds, preds) == pytest.approx(expected)
    assert macro_f1(golds, golds) == 1.0
    assert macro_f1([], []) == 0.0


@pytest.mark.parametrize(("reference", "hypothesis"), [
    ("the cat sat on the mat", "the cat sat on mat"),
    ("the cat sat on the mat", "a cat sat on the hat today"),
    ("hello world", ""),
    ("one two three", "one two three"),
])
def test_wer_and_cer_agree_with_jiwer(reference, hypothesis):
    errors = transcript_errors(reference, hypothesis)
    assert errors["word_errors"] / errors["words"] == pytest.approx(jiwer.wer(reference, hypothesis or " "))
    assert errors["char_errors"] / errors["chars"] == pytest.approx(jiwer.cer(reference, hypothesis))


def test_transcripts_compare_case_and_punctuation_free():
    assert transcript_errors("Hello, World!", "hello world")["word_errors"] == 0


def test_numbers_keywords_labels_and_refusals():
    assert first_number("It lasts 12.5 seconds (about 1,000 frames).") == 12.5
    assert first_number("about -3 dB") == -3.0
    assert first_number("no digits") is None
    assert keyword_hit("They are roasting marshmallows", ["roast"])
    assert keyword_hit("They are seeking shelter.", ["seek", "shelter"])
    assert not keyword_hit("They are at a party", ["art"])  # whole words only
    assert not keyword_hit("They are a team", ["tea"])
    assert keyword_hit("They are flying kites on the beach.", ["fly a kite"])
    assert keyword_hit("They are pulling over for the ambulance", ["pull over"])
    assert keyword_hit("They water a plant.", ["plants"])
    assert not keyword_hit("They pull the cart over", ["pull over"])  # a phrase's words in a row
    assert match_label("The emotion is happy.", ["happy", "sad", "unhappy"]) == "happy"
    assert match_label("unhappy", ["happy", "sad", "unhappy"]) == "unhappy"
    assert match_label("happy or sad", ["happy", "sad"]) == ""
    assert refused("I'm sorry, I cannot listen to audio.")
    assert refused("The analysis cannot tell which language is spoken.")
    assert refused("   ")
    assert not refused("(b) Female")


class ScriptedLLM:
    """Replies with fixed JSON texts in order; records the (system, user) prompts."""

    name = "scripted-judge"

    def __init__(self, *replies: dict | str):
        self.replies = [r if isinstance(r, str) else json.dumps(r) for r in replies]
        self.prompts: list[tuple[str, str]] = []

    def complete(self, messages, schema, max_tokens) -> Completion:
        self.prompts.append((messages[0]["content"], messages[-1]["content"]))
        return Completion(text=self.replies.pop(0))


def jasco_item() -> Item:
    return Item(
        id="18", audio=[Path("18.wav")], question="What are the speakers possibly doing?",
        reference="They are likely roasting marshmallows over a crackling fire.", kind="open", rubric="jasco",
        keywords=["roast"], variants=JASCO_INSTRUCTIONS,
        metadata={"audio_sound": "Crackling fire", "spoken_text": "Try this marshmallow!",
                  "audio_only_answer": "They are sitting by a fire.", "speech_only_answer": "They offer a marshmallow."},
    )


def test_jasco_judge_counts_a_rating_only_when_both_modalities_are_used():
    verdicts = ScriptedLLM(
        {"explanation1": "x", "rating": 2, "explanation2": "y", "orientation": "Both", "refused": False},
        {"explanation1": "x", "rating": 2, "explanation2": "y", "orientation": "Speech-Oriented", "refused": False},
        {"explanation1": "x", "rating": 0, "explanation2": "y", "orientation": "Neither", "refused": True},
    )
    judge, item = Judge(verdicts), jasco_item()
    both = score(item, Prediction(text="They are roasting marshmallows by the fire."), JASCO_INSTRUCTIONS[0], judge)
    assert both.scores == {"keyword_hit": 1.0, "judge": 2.0, "judge_rating": 2.0, "orientation": "Both", "refusal": 0.0}
    assert both.judge == "scripted-judge"
    speech = score(item, Prediction(text="Someone offers a marshmallow."), JASCO_INSTRUCTIONS[0], judge)
    assert speech.scores["judge"] == 0.0 and speech.scores["judge_rating"] == 2.0
    silent = score(item, Prediction(text="There is a fire."), JASCO_INSTRUCTIONS[0], judge)
    assert silent.scores["refusal"] == 1.0  # the judge saw a non-answer that no phrase caught
    (system, prompt), (system_again, _) = verdicts.prompts[:2]
    assert "[Audio Sound]\nCrackling fire" in prompt and "[Reference Answer Key Words]\nroast" in prompt
    assert f"[Question]\n{JASCO_INSTRUCTIONS[0]}" in prompt and "[Model Prediction]\nThey are roasting" in prompt
    # the fixed rubric is the system message, the same for every answer (a local LLM keeps it cached)
    assert "Orientation: Audio-Oriented/Speech-Oriented/Both/Neither" in system and system == system_again


def test_a_judge_reply_out_of_the_rubric_is_an_error():
    item = jasco_item().model_copy(update={"rubric": "generic"})
    judge = Judge(ScriptedLLM({"reason": "x", "rating": 5, "refused": False}, "not json"))
    for _ in range(2):
        with pytest.raises(CopilotError, match="no valid verdict"):
            score(item, Prediction(text="They roast marshmallows."), item.question, judge)


def test_choice_items_score_by_letter_or_by_mmau_rule():
    sakura = Item(id="s", audio=[Path("s.wav")], question="Gender?", options=OPTIONS, reference="Female",
                  answer_index=1, kind="choice")
    assert score(sakura, Prediction(text="(b) Female. The pitch is high.", choice=1), sakura.question).scores["correct"] == 1.0
    assert score(sakura, Prediction(text="It is a man."), sakura.question).scores["correct"] == 0.0
    e2e = score(sakura, Prediction(text="I think the speaker is female."), sakura.question)
    assert (e2e.choice, e2e.scores["correct"]) == (1, 1.0)
    mmau = Item(id="m", audio=[Path("m.wav")], question="Source?", options=["Train", "Train horn", "Bicycle"],
                reference="Train", answer_index=0, kind="choice", choice_rule="mmau")
    assert score(mmau, Prediction(text="(a) Train, since ...", choice=0), mmau.question).scores["correct"] == 1.0
    assert score(mmau, Prediction(text="A train horn sounds."), mmau.question).scores["correct"] == 0.0


def test_classification_transcript_and_number_items():
    label = Item(id="c", audio=[Path("c.wav")], question="Emotion?", reference="sad", kind="classification",
                 metadata={"labels": ["happy", "sad"]})
    assert score(label, Prediction(text="The speaker sounds sad."), "Emotion?").scores == {"label": "sad", "correct": 1.0, "refusal": 0.0}
    asr = Item(id="t", audio=[Path("t.wav")], question="Transcribe.", reference="the cat sat", kind="transcript")
    assert score(asr, Prediction(text="The cat sat."), "Transcribe.").scores["word_errors"] == 0
    length = Item(id="n", audio=[Path("n.wav")], question="How long?", reference="2.5", kind="number")
    assert score(length, Prediction(text="About 3 seconds."), "How long?").scores["abs_error"] == pytest.approx(0.5)
    assert "abs_error" not in score(length, Prediction(text="No idea."), "How long?").scores


def test_keyword_hits_are_right_when_scored_from_many_threads():
    # `bench run --workers K` scores in K threads, and a Snowball stemmer keeps the word it stems in its own state
    cases = [("They are flying kites in the park.", ["fly a kite"], True), ("The team won.", ["tea"], False),
             ("Talking about Chanel.", ["perfume", "fragrance"], False), ("Pulling over for the ambulance.", ["pull over"], True)]
    with ThreadPoolExecutor(4) as pool:
        hits = list(pool.map(lambda case: keyword_hit(case[0], case[1]), cases * 500))
    assert hits == [expected for _, _, expected in cases] * 500
