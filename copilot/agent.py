"""The agent: plan, run the program's steps, answer, as a langgraph `StateGraph`.

    plan ──(valid program)──> schedule ──Send──> run_step (independent steps in parallel)
      ^                          │  <───────────────┘
      └──(invalid, or a step failed, and rounds left)── review ──> answer ──> END

A failed step or an invalid program goes back to the planner with the problems, for at most
``max_rounds`` rounds; after that the agent answers from what it has and says what failed. A step that
found nothing to measure (`NothingToMeasure`: no speech in the range) is a finding, not a problem to repair.
A step fails alone, whatever its tool raised (its traceback goes to the log) and however long the tool hangs (its
time limit counts from when it starts, and a tool past it is abandoned and frees its slot for the next step).
A question about what is said always gets an asr step: code adds one to a program without it, and the trace says so.
With a `PlanBook`, a question of a shape seen before runs the program kept for that shape, with no LLM call to plan
it (a question worded like several seen before borrows theirs, with the steps its own words plainly need added),
and a program that ran without a failure is kept for its shape; a kept program that fails is forgotten, and the
next round is planned by the LLM.

An open question that asks several things ("How many people speak, and what is the sound behind them?") is split
into its parts first, in code, where its questions join (`copilot.questions.parts`); each part is planned on its
own, and a part that got no step goes back to the planner once, then stands as not measured. The parts' programs
run as one (a step two parts share runs once), and the answer is composed part by part, each from its own steps'
evidence, so that a small model neither drops a part of a long question nor states a measurement for a part that
no tool measured.
"""

from __future__ import annotations

import logging
import operator
import time
from dataclasses import replace
from typing import Annotated, Any, TypedDict, cast

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from copilot.answer import Answer, Evidence, PartAnswer, Request, Trace
from copilot.cache import ToolCache
from copilot.errors import CopilotError, NothingToMeasure
from copilot.planners.base import Draft, Planner
from copilot.plans import Kept, PlanBook
from copilot.program import Program, ProgramError, ProgramPart, Step, dependencies, merge, prefixed, resolve, validate
from copilot.questions import asks_about_content, asks_per_speaker, asks_what_is_said, parts
from copilot.registry import Registry, default_registry
from copilot.tool import Clips
from copilot.tool_runner import StepTimeout, ToolRunner
from copilot.words import says, stems

log = logging.getLogger("copilot.agent")
NO_STEP = "no step was planned: plan the tool whose measurements answer this part; plan no steps only if no tool measures it"


def _merge(a: dict, b: dict) -> dict:
    return {**a, **b}


class State(TypedDict, total=False):
    request: Request
    clips: Clips
    program: Program | None
    rounds: Annotated[list[Program], operator.add]
    problems: list[str]
    all_problems: Annotated[list[str], operator.add]
    amendments: Annotated[list[str], operator.add]
    reused: bool
    reused_like: str | None  # the earlier question, worded otherwise, whose program was reused
    evidence: Annotated[dict[str, Evidence], _merge]
    timings: Annotated[dict[str, float], _merge]
    draft: Draft
    part_programs: list[Program]  # each part's program as planned, before the merge
    part_answers: list[PartAnswer]


class StepInput(TypedDict):
    round: int
    step: Step
    clips: Clips
    evidence: dict[str, Evidence]


def _asked(request: Request) -> list[str]:
    """The questions an open question joins, each planned and answered on its own; none for a multiple-choice
    question, which has one answer."""
    return [] if request.options else parts(request.question)


class Copilot:
    """Answers questions about clips with a planner, the tool registry and a tool-output cache."""

    def __init__(
        self,
        planner: Planner,
        registry: Registry | None = None,
        cache: ToolCache | None = None,
        max_rounds: int = 3,
        step_timeout: float = 300.0,
        plans: PlanBook | None = None,
    ):
        self.planner = planner
        self.registry = registry or default_registry()
        self.cache = cache or ToolCache()
        self.max_rounds = max_rounds
        self.step_timeout = step_timeout
        self.plans = plans
        self._runner = ToolRunner(slots=4)
        self.graph = self._build()

    def ask(self, clips: Clips, question: str, options: list[str] | None = None) -> Answer:
        """Answer ``question`` about ``clips`` (named audio1, audio2); options make it multiple choice."""
        request = Request.from_text(question, {name: a.duration for name, a in clips.items()}, options)
        started = time.perf_counter()
        state = cast(State, self.graph.invoke(
            {"request": request, "clips": clips, "problems": [], "evidence": {}, "timings": {}},
            {"recursion_limit": 200},
        ))
        timings = {**state["timings"], "total": round(time.perf_counter() - started, 3)}
        draft: Draft = state["draft"]
        if self.plans is not None:
            self._remember(self.plans, request, state)
        evidence = _final_evidence(state)
        choice = request.lettered[draft.choice] if draft.choice is not None else None
        trace = Trace(
            planner=self.planner.name,
            rounds=state["rounds"],
            problems=state["all_problems"],
            timings=timings,
            answered_by=draft.answered_by,
            notes=draft.notes,
            amendments=state.get("amendments", []),
            reused_plan=state.get("reused", False),
            reused_like=state.get("reused_like"),
        )
        return Answer(
            question=question, text=draft.text, choice=choice, evidence=evidence, parts=state.get("part_answers", []),
            program=state["rounds"][-1] if state["rounds"] else None, trace=trace,
        )

    def _build(self) -> CompiledStateGraph:
        graph = StateGraph(State)
        graph.add_node("plan", self._plan)
        graph.add_node("schedule", lambda state: {})
        graph.add_node("run_step", self._run_step)
        graph.add_node("review", self._review)
        graph.add_node("answer", self._answer)
        graph.add_edge(START, "plan")
        graph.add_conditional_edges("plan", self._after_plan, ["schedule", "plan", "answer"])
        graph.add_conditional_edges("schedule", self._ready_steps, ["run_step", "review"])
        graph.add_edge("run_step", "schedule")
        graph.add_conditional_edges("review", self._after_review, ["plan", "answer"])
        graph.add_edge("answer", END)
        return graph.compile()

    def _plan(self, state: State) -> dict[str, Any]:
        started = time.perf_counter()
        round_ = len(state.get("rounds", [])) + 1
        kept = self._reused(state) if round_ == 1 else None
        if kept is not None:
            like = None if kept.like is None else f"{kept.like!r} (similarity {kept.similarity:.2f})"
            # written for another wording: add what this one's words plainly need
            program, amended = (kept.program, []) if like is None else self._amend(kept.program, state["request"], round_)
            return {
                "program": program, "problems": [], "rounds": [program], "reused": True, "reused_like": like,
                "amendments": amended, "timings": {f"plan.{round_}": round(time.perf_counter() - started, 3)},
            }
        request = state["request"]
        asked = _asked(request)
        update: dict[str, Any] = {}
        try:
            if len(asked) > 1:
                program, amended, update["part_programs"], update["all_problems"] = self._plan_parts(state, asked, round_)
            else:
                program = self.planner.plan(state["request"], self.registry, state.get("problems", []))
                program, amended = self._amend(program, state["request"], round_)
            if program.steps or not program.parts:  # a compound question whose every part no tool measures has none
                validate(program, self.registry, list(state["clips"]))
            update.update({"program": program, "problems": [], "rounds": [program], "amendments": amended})
        except (ProgramError, CopilotError, ValueError) as exc:
            problems = exc.problems if isinstance(exc, ProgramError) else [str(exc)]
            update.update({"program": None, "problems": problems, "rounds": [Program()]})
            update["all_problems"] = update.get("all_problems", []) + problems
        update["timings"] = {f"plan.{round_}": round(time.perf_counter() - started, 3)}
        return update

    def _plan_parts(
        self, state: State, asked: list[str], round_: int
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
            program, added, trouble = self._plan_part(state, question, n, mine, round_)
            programs.append(program)
            amended += added
            found += trouble
        return merge(list(zip(asked, programs, strict=True))), amended, programs, found

    def _plan_part(
        self, state: State, question: str, n: int, feedback: list[str], round_: int
    ) -> tuple[Program, list[str], list[str]]:
        """Part ``n``'s program, its steps named p{n}...: the planner's, with the steps code adds. A part with no step,
        or whose program cannot run, goes back to the planner once; after that it has no steps (not measured)."""
        request = state["request"].model_copy(update={"question": question})
        problems: list[str] = []
        for _ in range(2):
            try:
                program = prefixed(self.planner.plan(request, self.registry, feedback, part=True), f"p{n}")
                program, amended = self._amend(program, request, round_, part=n)
                if program.steps:
                    return validate(program, self.registry, list(state["clips"])), amended, problems
                feedback = [NO_STEP]
            except (ProgramError, CopilotError, ValueError) as exc:
                feedback = exc.problems if isinstance(exc, ProgramError) else [str(exc)]
                problems += [f"part {n} ({question!r}): {p}" for p in feedback]
        return Program(), [], problems

    def _reused(self, state: State) -> Kept | None:
        """The program kept for the question's shape or borrowed from questions worded like it, when there is one
        and it is valid for these clips."""
        request = state["request"]
        kept = self.plans.find(request) if self.plans is not None else None
        if kept is None or (kept.like is not None and len(_asked(request)) > 1):
            return None  # a compound question's parts are its own: it is planned part by part
        try:
            return replace(kept, program=validate(kept.program, self.registry, list(state["clips"])))
        except ProgramError:
            return None

    def _remember(self, plans: PlanBook, request: Request, state: State) -> None:
        """Keep the last round's program for the question's shape when every step of it ran (or found nothing to
        measure); forget the kept program when it was reused and the question ended without a program that ran."""
        if not state["rounds"]:
            return
        program, done = state["rounds"][-1], self._current(state)
        ran = bool(program.steps) and all(s.id in done and (done[s.id].error is None or done[s.id].final) for s in program.steps)
        reused = state.get("reused", False)
        if ran and not (reused and len(state["rounds"]) == 1):
            plans.keep(request, program)
        elif reused and not ran:
            plans.forget(request)

    def _amend(self, program: Program, request: Request, round_: int, part: int | None = None) -> tuple[Program, list[str]]:
        """``program`` with the steps the question plainly needs and the planner left out or set up for the whole
        clip, and what was changed, for the trace: an asr step on each clip when the question asks what is said or
        what happens in it ("when is the appointment?"); a step of a tool whose `serves` words the question names
        ("the speaker's emotion") when no step's tool serves them; and a tool that can answer speaker by speaker set
        to, when the question is about one speaker among several ("who speaks first"). A small planner has sent "does
        the speaker say the word "tomato"?" to sound_events alone, "which facial expression goes with the speaker's
        emotion?" to asr alone, "when is the vet appointment?" to diarization, and "who speaks first, a man or a
        woman?" to gender on the whole clip. Steps added for ``part`` n are named p{n}..."""
        if not self.planner.amended:
            return program, []
        planned = {s.tool for s in program.steps}
        needed: list[tuple[str, str]] = []
        if "asr" in self.registry and "asr" not in planned:
            if asks_what_is_said(request.question):
                needed.append(("asr", "the question asks what is said"))
            elif asks_about_content(request.question):
                needed.append(("asr", "the question asks what happens in what is said"))
        said = stems(request.question)
        served = {phrase for s in program.steps if s.tool in self.registry for phrase in self.registry.get(s.tool).serves}
        for tool in self.registry:
            named = next((phrase for phrase in tool.serves if says(said, phrase)), None)
            if named is not None and named not in served and tool.name not in planned:
                needed.append((tool.name, f'the question names "{named}"'))
                served.update(tool.serves)
        of = f"part {part}, " if part is not None else ""
        prefix = f"p{part}" if part is not None else ""
        steps, notes = list(program.steps), []
        per_speaker = asks_per_speaker(request.question)
        if per_speaker:
            for i, step in enumerate(steps):
                if self._speaks_per_speaker(step.tool) and not step.args.get("by_speaker"):
                    steps[i] = step.model_copy(update={"args": {**step.args, "by_speaker": True}})
                    notes.append(f"round {round_}: {of}step {step.id!r}, {step.tool}: set by_speaker, "
                                 f"as the question is about one speaker among several")
        taken = {s.id for s in steps}
        two = len(request.clips) > 1
        for tool_name, why in needed:
            for name in request.clips:
                step_id = next(f"{prefix}{tool_name}{k}" for k in range(1, len(taken) + 2) if f"{prefix}{tool_name}{k}" not in taken)
                taken.add(step_id)
                args: dict[str, Any] = {"audio": name} if two else {}
                if per_speaker and self._speaks_per_speaker(tool_name):
                    args["by_speaker"] = True
                steps.append(Step(id=step_id, tool=tool_name, args=args))
                notes.append(f"round {round_}: {of}added step {step_id!r}, {tool_name}{' on ' + name if two else ''}: "
                             f"{why} and the planner planned no step for it")
        return program.model_copy(update={"steps": steps}), notes

    def _speaks_per_speaker(self, tool_name: str) -> bool:
        """Whether the tool can answer speaker by speaker (a ``by_speaker`` argument)."""
        return tool_name in self.registry and "by_speaker" in self.registry.get(tool_name).input_model.model_fields

    def _after_plan(self, state: State) -> str:
        if state.get("program") is not None:
            return "schedule"
        return "plan" if len(state["rounds"]) < self.max_rounds else "answer"

    def _current(self, state: State) -> dict[str, Evidence]:
        """This round's evidence by step id."""
        prefix = f"{len(state['rounds'])}:"
        return {k.split(":", 1)[1]: e for k, e in state.get("evidence", {}).items() if k.startswith(prefix)}

    def _ready_steps(self, state: State) -> list[Send] | str:
        done = self._current(state)
        ready = []
        for step in state["rounds"][-1].steps:  # this round's program; a failed plan is never scheduled
            if step.id in done:
                continue
            deps = dependencies(step)
            if all(d in done and done[d].error is None for d in deps):
                payload = {"round": len(state["rounds"]), "step": step, "clips": state["clips"], "evidence": done}
                ready.append(Send("run_step", payload))
        return ready or "review"

    def _run_step(self, state: StepInput) -> dict[str, Any]:
        """One step's evidence: what its tool measured, or its error, whatever the tool raised."""
        step = state["step"]
        started = time.perf_counter()
        evidence = Evidence(step=step.id, tool=step.tool)
        try:
            self._measure(step, state, evidence)
        except StepTimeout:
            evidence.error = f"{step.tool} took longer than {self.step_timeout:g} s and was abandoned"
        except CopilotError as exc:
            evidence.error, evidence.final = str(exc), isinstance(exc, NothingToMeasure)
        except Exception as exc:  # a tool's own failure is its step's error: the other steps still answer
            log.exception("step %r (%s) failed", step.id, step.tool)
            evidence.error = internal_error(step.tool, exc)
        evidence.seconds = round(time.perf_counter() - started, 3)
        return {"evidence": {f"{state['round']}:{step.id}": evidence}, "timings": {f"step.{step.id}.{step.tool}": evidence.seconds}}

    def _measure(self, step: Step, state: StepInput, evidence: Evidence) -> None:
        """Fill ``evidence`` with the step's output: from the cache, else from running its tool in a slot of the
        runner, where its time limit counts from when it starts."""
        tool, clips = self.registry.get(step.tool), state["clips"]
        outputs = {sid: e.output or {} for sid, e in state["evidence"].items()}
        args = tool.parse(resolve(step, outputs))
        evidence.args = args.model_dump(mode="json", exclude_none=True)
        key = self.cache.key(tool, args, clips)
        result = self.cache.read(tool, key)
        evidence.cached = result is not None
        if result is None:
            result = self._runner.run(lambda: tool(args, clips), self.step_timeout)
            self.cache.keep(key, tool.name, result)
        evidence.output = result.model_dump(mode="json")
        evidence.findings = result.findings()

    def _review(self, state: State) -> dict[str, Any]:
        done = self._current(state)
        failed = [e for e in done.values() if e.error]
        problems = [f"step {e.step!r} ({e.tool}) failed: {e.error}" for e in failed]
        blocked = [s.id for s in state["rounds"][-1].steps if s.id not in done]
        problems += [f"step {sid!r} did not run because a step it needs failed" for sid in blocked]
        # no other program finds speech where a tool found none: only other failures are worth another round
        fixable = any(not e.final for e in failed)
        return {"problems": problems if fixable else [], "all_problems": problems}

    def _after_review(self, state: State) -> str:
        return "plan" if state["problems"] and len(state["rounds"]) < self.max_rounds else "answer"

    def _answer(self, state: State) -> dict[str, Any]:
        started = time.perf_counter()
        program = state["rounds"][-1] if state.get("rounds") else None
        if program is None or not program.parts:
            draft = self._compose(state["request"], _final_evidence(state))
            return {"draft": draft, "timings": {"answer": round(time.perf_counter() - started, 3)}}
        done = self._current(state)
        answers, notes = [], []
        for part in program.parts:
            answer, caveats = self._answer_part(state["request"], part, [done[s] for s in part.steps if s in done])
            answers.append(answer)
            notes += caveats
        draft = Draft(text=" ".join(a.text for a in answers), answered_by="part by part", notes=notes)
        return {"draft": draft, "part_answers": answers, "timings": {"answer": round(time.perf_counter() - started, 3)}}

    def _answer_part(self, request: Request, part: ProgramPart, evidence: list[Evidence]) -> tuple[PartAnswer, list[str]]:
        """One part's answer from its own steps' evidence, and its caveats; a part no tool measured says so."""
        if not part.steps:
            text = f'Not measured: none of the tools measures what "{part.question}" asks.'
            return PartAnswer(question=part.question, text=text, measured=False, answered_by="coverage check"), []
        draft = self._compose(request.model_copy(update={"question": part.question}), evidence, part=True)
        answer = PartAnswer(
            question=part.question, text=draft.text, steps=part.steps, measured=draft.measured, answered_by=draft.answered_by
        )
        return answer, draft.notes

    def _compose(self, request: Request, evidence: list[Evidence], part: bool = False) -> Draft:
        """The planner's answer from ``evidence``, or the measurements themselves when none could be composed."""
        try:
            return self.planner.answer(request, evidence, part)
        except (CopilotError, ValueError, KeyError) as exc:
            facts = "; ".join(e.findings.facts for e in evidence if e.findings.facts) or "nothing"
            return Draft(text=f"No answer could be composed ({exc}). The tools measured: {facts}", answered_by="fallback")


def internal_error(tool: str, exc: Exception) -> str:
    """A tool's unexpected failure in one line, for the answer and the planner: the tool and the first line of what it
    said, never its traceback (that goes to the log)."""
    said = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"internal error in {tool}: {said}" if said else f"internal error in {tool} (details in the log)"


def _final_evidence(state: State) -> list[Evidence]:
    """Every distinct successful step of every round, and the failures of the last round."""
    last = f"{len(state.get('rounds', []))}:"
    seen: set[str] = set()
    kept = []
    for key, e in state.get("evidence", {}).items():
        signature = f"{e.tool}:{sorted(e.args.items())}"
        if (e.error is None and signature not in seen) or (e.error is not None and key.startswith(last)):
            seen.add(signature)
            kept.append(e)
    return kept
