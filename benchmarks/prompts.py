"""Benchmark texts: JASCO's instructions and judge prompt (as published), our generic judge rubric, and the
prompt an end-to-end audio LLM receives."""

from __future__ import annotations

from copilot.question.request import Request

JASCO_QUESTION = "What are the speakers possibly doing?"
"""The question of the project's jasco-dev items.jsonl; JASCO's v0.csv has no question column, so it is assumed there."""

JASCO_INSTRUCTIONS = [
    "Based on both the audio sound and the spoken text, infer what the speakers are doing specifically?",
    "Based on both the spoken text and the audio sound, infer what the speakers are doing specifically?",
    ("What is the spoken text? What is the audio sound? Based on both the spoken text and the audio sound, "
     "infer what the speakers are doing specifically?"),
    ("What is the audio sound? What is the spoken text? Based on both the audio sound and the spoken text, "
     "infer what the speakers are doing specifically?"),
    ("What is the spoken text? What is the audio sound? Based on both the spoken text and the audio sound, "
     "infer what specific scenario are the speakers in?"),
    ("What is the audio sound? What is the spoken text? Based on both the audio sound and the spoken text, "
     "infer what specific scenario are the speakers in?"),
    ("What sound can you hear? What does the speaker say? Guess what activity the speakers are engaged in "
     "using both the audio sound and the spoken text."),
    ("What does the speaker say? What sound can you hear? Guess what activity the speakers are engaged in "
     "using both the spoken text and the audio sound."),
]
"""The 8 instructions each JASCO clip is asked with (README of BenoitWang/What_Are_They_Doing, "Inference with ALLMs")."""

JASCO_JUDGE_SYSTEM = "You are an NLP assistant"
JASCO_JUDGE_ITEM = """[Audio Sound]
{audio_sound}

[Spoken Text]
{spoken_text}

[Question]
{question}

[Audio-Oriented Prediction]
{audio_only_target}

[Speech-Oriented Prediction]
{speech_only_target}

[Reference Answer]
{reference}

[Reference Answer Key Words]
{keywords}

[Model Prediction]
{prediction}
"""
JASCO_JUDGE_RUBRIC = """[Task1]
I am using a model to predict what the speakers are possibly doing based on both the audio sound and the spoken text. I want you to help me rate a score for the model's prediction on the speaker's action given a list of information [Audio Sound, Spoken Text, Question, Reference Answer, Reference Answer Key Words, Model Prediction]
Criteria: Assess if the model’s prediction of the speaker's action mirrors the speaker's action in the reference answer in terms of content, logic, and relevance. Also assess if the model's prediction contains the Reference Answer Key Words or similar meanings. Do not care about the verb tense or other useless details in the model's response, focus only on the parts that speaker's actions are mentionned and the keywords. Very important: if the response mentions only the audio sound and the spoken text but not create a prediction of the speaker's specific action, rate it direcly 0, an exemple prediction like this can be 'The audio clip contains the sound of [some sounds]. The speaker says [some spoken texts]''.
Score0: The speaker's action predicted is completely misaligned, providing incorrect or irrelevant information compared to the speaker's action in the reference or the inference from audio sound and spoken text is not logical or based on only one modality (audio or speech), or the reponse is too general such as 'talking to someone' or 'having conversation'
Score1: The speaker's action predicted aligns with the speaker's action in the reference generally but lacks detailed keywords, the predicted action is based on both audio sound and spoken text and is logical enough but not the most possible.
Score2: The speaker's action predicted is highly accurate, and matches the speaker's action in the reference perfectly, capturing its essence and detailed keywords. The prediction is derived from both audio sound and spoken text and is very logical and the most probable.

[Task2]
Evaluate if the model's prediction of the speaker's action is inferred from audio sound or from spoken text or from both. You need to follow the below steps:
1. The model's response may contain multiple information, an example is 'The audio clip contains the sound of [detected audio sound], the speaker says [transcribed spoken text], this suggest that they are [predicted speaker's action]'. You need to first extract different components from the model's response: Part1-audio sound detected(may not exist), Part2-spoken text transcribed (may not exist), and Part3-speaker's action predicted(may not exist). If the predicted speaker's action does not exist, the result is directly 'Neither'.
2. If Part3 exists, align it with Part1 and Part2. Compare the alignments and choose an orientation of the prediction of the speaker's action:
Audio-Oriented: The predicted speaker's action is explicitly and strongly related to the audio sound.
Speech-Oriented: The predicted speaker's action is explicitly and strongly related to the spoken text or they have a significant overlap. 
Both: The predicted speaker's action is explicitly and strongly related to both the audio sound and the spoken text. Important: if Part3 contains general terms lile 'activity' or 'activity related to' or 'something' or 'somewhere', and you can't choose 'Both' and must choose between 'Audio-Oriented' and 'Speech-Oriented'.
Remember only to use the extracted predicted speaker's action for assessment make sure you see a STRONG correlation when you make decisions.

Your response should be formatted as follows:
Explanation1: (Provide a concise explanation of your rating, comparing the reference answer with the model’s response. 'The provided audio sound is [BBB], the provided spoken text is [CCC], the reference answer is [XXX], the reference keywords are [KKK], while the model’s answer is [YYY]. I think ...')
Rating: (int)
Explanation2: (Provide a concise explanation of your choice among Audio-Oriented/Speech-Oriented/Both/Neither, remember to focus on the texts you see and don't imagine too much. 'The provided audio sound is [BBB] and the provided spoken text is [CCC]. The detected audio sound in the model's reponse is [PPP]. The transcribed spoken text in the model's reponse is [QQQ]. The predicted speaker's action in the model's reponse is [YYY], I think ...')
Orientation: Audio-Oriented/Speech-Oriented/Both/Neither
"""
"""JASCO's judge prompt, verbatim from the README of BenoitWang/What_Are_They_Doing ("Evaluation"), in its two
parts: the item's fields, then the rubric. evaluation/eval.py sends both in one user message after the system
message above; our judge sends the fixed rubric with the system message, so a local LLM reads it once and keeps it
in its KV cache, and the fields in the user message, followed by `JSON_REPLY` (its output is held to a schema)."""

JSON_REPLY = (
    "\nReply with one JSON object holding those fields as explanation1, rating, explanation2 and orientation, "
    "and also refused: true only if the model prediction gives no answer at all (it declines, or says it cannot "
    "tell); a wrong, vague or partial answer is not a refusal (false)."
)

GENERIC_JUDGE_SYSTEM = "You grade answers to questions about audio recordings against a reference answer."
GENERIC_JUDGE_PROMPT = """[Question]
{question}

[Reference Answer]
{reference}

[Model Prediction]
{prediction}

Rate the model prediction against the reference answer:
Score0: wrong, irrelevant, or no answer at all.
Score1: partly right: it agrees with the reference only in part, or is too vague to be fully right.
Score2: right: it says what the reference says (different wording is fine).
Reply with one JSON object: reason (one sentence), rating (0, 1 or 2), and refused: true only if the model
prediction gives no answer at all (it declines, or says it cannot tell); a wrong or vague answer is not a refusal."""
"""Our own rubric for open items of benchmarks that publish none (generic JSONL); 0/1/2 like JASCO's."""


def audio_llm_prompt(question: str, options: list[str]) -> str:
    """The text an end-to-end audio LLM receives with the audio: the question, and its options when it has any."""
    if not options:
        return question
    listed = Request(question=question, options=options).option_text()
    return f"{question}\nOptions: {listed}\nAnswer with the letter and the text of the one correct option."
