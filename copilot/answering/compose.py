"""The answer to a request from its evidence, in a fixed order: what a tool's label, a transcript or a measured number
decides is decided in code (`copilot.answering.grounding`); the LLM links options to a measured value, picks an
option or writes the answer only when none of these decides."""

from __future__ import annotations

import json
from typing import Any

from copilot.answering import passages, prompts
from copilot.answering.grounding import (
    attribute_named,
    for_the_speaker_asked,
    ground_numbers,
    measured_attributes,
    measured_number,
    measured_open_answer,
    measured_yes_or_no,
    option_named,
    speaking_times,
    transcript_match,
    yes_no_option,
)
from copilot.answering.matching import match_option, normalise
from copilot.answering.models import Draft
from copilot.errors import ContextOverflow
from copilot.evidence import Evidence
from copilot.llm import LLM, Completion
from copilot.question.reading import asks_about_content, asks_what_is_said, asks_yes_or_no
from copilot.question.request import Request

FIT_ATTEMPTS = 4  # answer prompts tried, each with the measurements cut shorter, before the question fails
MIN_FACTS = 400  # characters of measurements below which an answer is not worth composing


def answer(request: Request, evidence: list[Evidence], llm: LLM, part: bool = False) -> Draft:
    """The answer to ``request``: an option a tool's label names, outright or in the option's own words, or that a
    transcript or measured number decides, else the LLM's constrained pick, called a guess when every step failed
    (told "only 0.0 s of speech in audio2", a small model reasoned "so the speakers differ"). For a ``part`` of a
    compound question, the LLM first says whether the evidence bears on it at all, and a yes or no that no label or
    transcript gives is written, not picked, so that it can say so. A question about one speaker by order ("who
    speaks second?") is matched against that speaker's labels alone."""
    evidence = for_the_speaker_asked(request.question, evidence)
    if request.options:
        hit = match_option(request.options, [label for e in evidence for label in e.findings.labels])
        if hit is not None:
            return Draft(text=request.lettered[hit], choice=hit, answered_by="label match")
        grounded = (
            option_named(request, evidence) or transcript_match(request, evidence)
            or measured_number(request, evidence) or yes_no_option(request, evidence)
        )
        if grounded is not None:
            return grounded
        linked = link_options(request, evidence, llm) or choose_for_value(request, evidence, llm)
        if linked is not None:
            return linked
        completion, notes, _ = complete_fitted(llm, prompts.CHOICE_RULES, request, evidence, prompts.choice_schema(request), 160)
        index, reasoning = _picked(request, completion.text)
        if evidence and all(e.error for e in evidence):  # the pick stands, but no reasoning from a failure passes for evidence
            failures = "; ".join(dict.fromkeys(str(e.error) for e in evidence))
            text = f"{request.lettered[index]}. A guess: no tool could measure this ({failures})."
            return Draft(text=text, choice=index, answered_by="guess", notes=notes)
        text = f"{request.lettered[index]}. {reasoning}".strip()
        return Draft(text=text, choice=index, notes=notes)
    if asks_yes_or_no(request.question):
        if (said := transcript_match(request, evidence)) is not None:
            return said
        if (verdict := measured_yes_or_no(request.question, evidence)) is not None:
            return verdict.draft()
        if not part:  # a two-option choice: reasoning first, then the held-to-schema verdict
            picked = answer(request.model_copy(update={"options": ["yes", "no"]}), evidence, llm)
            reasoning = picked.text.split(". ", 1)[1] if ". " in picked.text else ""
            text = f"{'Yes' if picked.choice == 0 else 'No'}. {reasoning}".strip()
            return Draft(text=text, answered_by=picked.answered_by, notes=picked.notes)
    elif (measured := measured_open_answer(request.question, evidence)) is not None:
        return measured
    elif (moment := passages.when_said(request, evidence) or passages.who_said(request, evidence)) is not None:
        return moment
    elif (spoken := speaking_times(request, evidence)) is not None:
        return spoken
    schema = prompts.PART_ANSWER_SCHEMA if part else prompts.ANSWER_SCHEMA
    try:
        completion, notes, shown = complete_fitted(llm, prompts.ANSWER_RULES, request, evidence, schema, 200, part)
    except passages.NotInRecording:
        return passages.not_found()
    reply = json.loads(completion.text)
    if not reply.get("measured", True):
        tools = ", ".join(dict.fromkeys(e.tool for e in evidence)) or "none"
        return Draft(text=f"Not measured: what the tools measured ({tools}) does not tell this.", measured=False, notes=notes)
    text = whole_sentences(reply["answer"].strip(), prompts.ANSWER_CHARS)
    checked = ground_numbers(text, request, evidence, passages.quoted_facts(request, evidence, text, shown))
    return Draft(text=passages.cite(checked, shown) if checked == text else checked, notes=notes)


def whole_sentences(text: str, cap: int) -> str:
    """``text`` without the sentence that the schema's length ``cap`` cut off mid-word."""
    if len(text) < cap:
        return text
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind(".\n"))
    return text[: end + 1] if end > 0 else f"{text.rstrip()}..."


def complete_fitted(
    llm: LLM, system: str, request: Request, evidence: list[Evidence], schema: dict[str, Any], max_tokens: int,
    part: bool = False,
) -> tuple[Completion, list[str], passages.Passages | None]:
    """The LLM's reply to the answer prompt, notes, and the transcript passages the prompt showed, if any.

    A prompt over the LLM's context is sent again with the transcript shown as the passages that bear on the
    question (`copilot.answering.passages`), else with the measurements cut to fit (an hour's transcript is about
    three times a 4096-token context), and a note says so; a question naming a part of a long clip sees that part's
    passages from the first prompt on. An open question about what is said that no passage bears on raises
    `passages.NotInRecording`."""
    budget: int | None = None
    shown = passages.passages(request, evidence, len(prompts.facts_block(evidence))) if passages.needed(request, evidence) else None
    for _ in range(FIT_ATTEMPTS):
        user = prompts.answer_user(request, evidence, budget, part, shown)
        try:
            reply = llm.complete([{"role": "system", "content": system}, {"role": "user", "content": user}], schema, max_tokens)
        except ContextOverflow as exc:
            facts = len(prompts.facts_block(evidence, budget, request.clips, shown))
            budget = _smaller_budget(exc, facts, len(system) + len(user), max_tokens)
            if budget < MIN_FACTS:
                raise ContextOverflow(f"{exc}, even with the measurements cut down", exc.prompt_tokens, exc.context_tokens) from None
            shown = _within(request, evidence, budget) or shown
            continue
        if budget is None and shown is None:
            return reply, [], None
        full = len(prompts.facts_block(evidence, None, request.clips))
        if shown is not None:
            note = f"the transcript ({full:,} characters of measurements) was searched for the passages that bear on the question"
            return reply, [note], shown
        return reply, [f"the measurements were cut from {full:,} to {budget:,} characters to fit the LLM's context"], None
    raise ContextOverflow(f"the measurements did not fit the LLM's context after {FIT_ATTEMPTS} cuts")


def _within(request: Request, evidence: list[Evidence], budget: int) -> passages.Passages | None:
    """The passages for a facts ``budget``: what the other steps' lines leave of it, at least half; raises
    `passages.NotInRecording` for an open question about content that nothing in the transcript bears on."""
    found = passages.recording(evidence)
    if found is None:
        return None
    others = sum(len(e.findings.facts) + 40 for i, e in enumerate(evidence) if i != found[0])
    shown = passages.passages(request, evidence, max(budget - others, budget // 2))
    if shown is not None and not shown.found and not request.options and (
        asks_what_is_said(request.question) or asks_about_content(request.question)
    ):
        raise passages.NotInRecording(request.question)
    return shown


def _smaller_budget(exc: ContextOverflow, facts: int, prompt_chars: int, max_tokens: int) -> int:
    """Characters of measurements that should fit, from how far over the context the prompt was."""
    if not exc.prompt_tokens or not exc.context_tokens:
        return facts // 2
    over = exc.prompt_tokens + max_tokens + 64 - exc.context_tokens  # 64: the chat template's own tokens, and slack
    return facts - int(over * prompt_chars / exc.prompt_tokens * 1.1)


def link_options(request: Request, evidence: list[Evidence], llm: LLM) -> Draft | None:
    """The option that goes with the likeliest measured value of a closed-set attribute (Spätzle with German), when
    exactly one option goes with it. The attribute is the one the question names, else the first measured: with
    gender measured first, "which scenario fits the speaker's emotion?" is still linked by emotion.

    A small model recalls "Spätzle: German" far more reliably than it reasons from "German" to the right option.
    """
    distinct = {normalise(option) for option in request.options}
    if len(distinct) < len(request.options) or distinct == {"yes", "no"}:
        return None
    linkable = attribute_named(request.question, evidence) or next(iter(measured_attributes(evidence)), None)
    if linkable is None:
        return None
    attribute, values = linkable
    messages = [
        {"role": "system", "content": prompts.LINK_RULES.format(name=attribute.name)},
        {"role": "user", "content": prompts.link_user(request)},
    ]
    schema = prompts.link_schema(request, attribute)
    links = json.loads(llm.complete(messages, schema, max_tokens=24 * len(request.options)).text)
    for value in values:
        matches = [i for i, option in enumerate(request.options) if normalise(links[option]) == normalise(value)]
        if matches:
            break
    if len(matches) != 1:
        return None
    i = matches[0]
    reason = f"{request.options[i]} goes with the {attribute.name} {value}; the tools measured {', '.join(values[:3])}."
    return Draft(text=f"{request.lettered[i]}. {reason}", choice=i, answered_by="option links")


def choose_for_value(request: Request, evidence: list[Evidence], llm: LLM) -> Draft | None:
    """The LLM's pick for a question about a closed-set attribute the tools measured ("how does the animal heard
    move?"), told only that attribute's likeliest value; None when the question names no measured attribute.

    Handed every label ("Crow (1.00), Bird vocalization (0.82) ..."), a small model reasons from the labels ("bird
    song: an insectivore"); told "the animal: crow", it recalls what a crow eats.
    """
    named = attribute_named(request.question, evidence)
    if named is None:
        return None
    attribute, values = named
    messages = [
        {"role": "system", "content": prompts.VALUE_RULES.format(name=attribute.name)},
        {"role": "user", "content": prompts.value_user(request, attribute, values[0])},
    ]
    index, reasoning = _picked(request, llm.complete(messages, prompts.choice_schema(request), 160).text)
    text = f"{request.lettered[index]}. The tools measured the {attribute.name} {values[0]}. {reasoning}"
    return Draft(text=text.strip(), choice=index, answered_by="measured value")


def _picked(request: Request, reply: str) -> tuple[int, str]:
    """The option a `prompts.choice_schema` reply picked, and its reasoning."""
    parsed = json.loads(reply)
    return request.lettered.index(parsed["answer"]), whole_sentences(parsed["reasoning"], prompts.REASONING_CHARS)
