"""Compound questions. An open question that asks several things ("How many people speak, and what is the sound
behind them?") is split into its parts first, in code, where its questions join (`copilot.question.parts.parts`); each
part is planned on its own, and a part that got no step goes back to the planner once, then stands as not measured.
The parts' programs run as one (a step two parts share runs once), and the answer is composed part by part, each
from its own steps' evidence, so that a small model neither drops a part of a long question nor states a measurement
for a part that no tool measured.
"""

from __future__ import annotations

from copilot.agent.amend import amend
from copilot.agent.compose import compose
from copilot.agent.state import Context, State
from copilot.answering.models import PartAnswer
from copilot.errors import CopilotError
from copilot.evidence import Evidence
from copilot.program import Program, ProgramError, ProgramPart, merge, prefixed, validate
from copilot.question.parts import parts
from copilot.question.request import Request

NO_STEP = "no step was planned: plan the tool whose measurements answer this part; plan no steps only if no tool measures it"


def parts_asked(request: Request) -> list[str]:
    """The questions an open question joins, each planned and answered on its own; none for a multiple-choice
    question, which has one answer."""
    return [] if request.options else parts(request.question)


def plan_parts(
    state: State, asked: list[str], round_: int, ctx: Context
) -> tuple[Program, list[str], list[Program], list[str]]:
    """The compound question's program: each part planned on its own, then merged; in a later round only the
    parts whose steps failed are planned again. Also what code added, each part's program and the problems."""
    previous, problems = state.get("part_programs", []), state.get("problems", [])
    last = state["rounds"][-1].parts if state.get("rounds") else []
    programs: list[Program] = []
    amended: list[str] = []
    found: list[str] = []
    for n, question in enumerate(asked, 1):
        ran = last[n - 1].steps if len(last) >= n else []
        mine = [p for p in problems if any(f"'{sid}'" in p for sid in ran)] if ran else problems
        if round_ > 1 and len(previous) >= n and not mine:
            programs.append(previous[n - 1])
            continue
        program, added, trouble = _plan_part(state, question, n, mine, round_, ctx)
        programs.append(program)
        amended += added
        found += trouble
    return merge(list(zip(asked, programs, strict=True))), amended, programs, found


def _plan_part(
    state: State, question: str, n: int, feedback: list[str], round_: int, ctx: Context
) -> tuple[Program, list[str], list[str]]:
    """Part ``n``'s program, its steps named p{n}...: the planner's, with the steps code adds. A part with no step,
    or whose program cannot run, goes back to the planner once; after that it has no steps (not measured)."""
    request = state["request"].model_copy(update={"question": question})
    problems: list[str] = []
    for _ in range(2):
        try:
            program = prefixed(ctx.planner.plan(request, ctx.registry, feedback, part=True), f"p{n}")
            program, amended = amend(program, request, round_, ctx, part=n)
            if program.steps:
                return validate(program, ctx.registry, list(ctx.clips)), amended, problems
            feedback = [NO_STEP]
        except (ProgramError, CopilotError, ValueError) as exc:
            feedback = exc.problems if isinstance(exc, ProgramError) else [str(exc)]
            problems += [f"part {n} ({question!r}): {p}" for p in feedback]
    return Program(), [], problems


def answer_parts(
    request: Request, program: Program, done: dict[str, Evidence], ctx: Context
) -> tuple[list[PartAnswer], list[str]]:
    """Each part's answer from its own steps' evidence (``done``, by step id), in order, and their caveats."""
    answers, notes = [], []
    for part in program.parts:
        answer, caveats = _answer_part(request, part, [done[s] for s in part.steps if s in done], ctx)
        answers.append(answer)
        notes += caveats
    return answers, notes


def _answer_part(
    request: Request, part: ProgramPart, evidence: list[Evidence], ctx: Context
) -> tuple[PartAnswer, list[str]]:
    """One part's answer from its own steps' evidence, and its caveats; a part no tool measured says so."""
    if not part.steps:
        text = f'Not measured: none of the tools measures what "{part.question}" asks.'
        return PartAnswer(question=part.question, text=text, measured=False, answered_by="coverage check"), []
    draft = compose(request.model_copy(update={"question": part.question}), evidence, ctx, part=True)
    answer = PartAnswer(
        question=part.question, text=draft.text, steps=part.steps, measured=draft.measured, answered_by=draft.answered_by
    )
    return answer, draft.notes
