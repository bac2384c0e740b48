"""Answers as people read them in a terminal."""

from __future__ import annotations

import json

from copilot.answering.models import Answer


def render_answer(answer: Answer, trace: bool = False) -> str:
    """The answer, the evidence it rests on, and with ``trace`` the program, outputs and timings."""
    lines = [f"Q: {answer.question}"]
    if answer.parts:  # a compound question: each part with its own answer, not the answers run together
        lines += ["A:", *(f"  {n}. {part.question} {part.text}" for n, part in enumerate(answer.parts, 1))]
    else:
        lines.append(f"A: {answer.text}")
    if answer.choice:
        lines.append(f"Choice: {answer.choice}")
    lines.append("Evidence:")
    lines += [f"  [{e.tool}] {e.findings.facts if not e.error else 'failed: ' + e.error}{' (cached)' if e.cached else ''}" for e in answer.evidence]
    if answer.trace.problems:
        lines.append("Problems: " + "; ".join(answer.trace.problems))
    if answer.trace.notes:
        lines.append("Notes: " + "; ".join(answer.trace.notes))
    if trace:
        reused = ", the first reused from an earlier question of this shape" if answer.trace.reused_plan else ""
        if answer.trace.reused_like:
            reused = f", the first reused from the similar question {answer.trace.reused_like}"
        lines.append(f"Planner: {answer.trace.planner} ({len(answer.trace.rounds)} round(s){reused}); "
                     f"answered by {answer.trace.answered_by}")
        for i, program in enumerate(answer.trace.rounds, 1):
            steps = ", ".join(f"{s.id}={s.tool}({json.dumps(s.args, separators=(',', ':'))})" for s in program.steps)
            lines.append(f"  program {i}: {steps or '(none)'}")
            lines += [f"    part {n} {part.question!r}: {', '.join(part.steps) or 'no tool measures it'}"
                      for n, part in enumerate(program.parts, 1)]
        lines += [f"  amended: {amendment}" for amendment in answer.trace.amendments]
        for e in answer.evidence:
            lines.append(f"  {e.step} {e.tool} {e.seconds:.2f} s: {json.dumps(e.output)[:400] if e.output else e.error}")
        lines.append("Timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in answer.trace.timings.items()))
    return "\n".join(lines) + "\n"
