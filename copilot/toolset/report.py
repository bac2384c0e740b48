"""A `Proposal` as a Markdown report for people and a JSON report for programs."""

from __future__ import annotations

import json
from pathlib import Path

from copilot.toolset.propose import Module, Proposal

EXAMPLES = 3  # instructions shown per module in the Markdown report (the JSON has them all)


def render(proposal: Proposal, title: str) -> str:
    """The Markdown report: the figures, the uncovered modules, the covered ones, then every instruction."""
    s = proposal.summary()
    tools = ", ".join(f"`{name}` v{version}" for name, version in proposal.tools.items())
    lines = [
        f"# Toolset coverage: {title}",
        "",
        f"Made by `copilot toolset propose` with the LLM `{proposal.llm}`, against the tools {tools}"
        + (f" (left out: {', '.join(f'`{t}`' for t in proposal.left_out)})." if proposal.left_out else "."),
        "",
        (f"**{s['instructions']} instructions: {s['covered']} covered, {s['partly']} partly, {s['uncovered']} not "
         f"covered. {s['modules']} modules, {s['uncovered_modules']} uncovered.**"),
        "",
        ("Each instruction was broken into sub-tasks by the LLM, the sub-tasks were grouped into modules by their "
         "words, and the LLM mapped each module onto one tool or none. An instruction is covered when all its "
         "modules are. The LLM is small: read the mapping as a first pass to check, not as a verdict."),
        "",
        "## Uncovered modules",
        "",
    ]
    uncovered = [m for m in proposal.modules if not m.covered]
    lines += _modules(uncovered) if uncovered else ["None: every module maps onto a tool.", ""]
    lines += ["## Covered modules", ""]
    covered = [m for m in proposal.modules if m.covered]
    lines += _modules(covered) if covered else ["None.", ""]
    lines += ["## Instructions", "", "| instruction | tools | not covered |", "|---|---|---|"]
    for i in proposal.instructions:
        lines.append(f"| {_cell(i.instruction)} | {', '.join(f'`{t}`' for t in i.tools) or '–'} | "
                     f"{_cell('; '.join(i.uncovered)) or '–'} |")
    return "\n".join(lines) + "\n"


def _modules(modules: list[Module]) -> list[str]:
    tools = any(m.covered for m in modules)
    head = "| module | tool | instructions | sub-tasks | examples |" if tools else "| module | instructions | sub-tasks | examples |"
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for m in modules:
        phrases = "; ".join(f"{p} ({n})" if n > 1 else p for p, n in m.subtasks.items())
        examples = "<br>".join(_cell(e) for e in m.instructions[:EXAMPLES])
        more = f"<br>... {len(m.instructions) - EXAMPLES} more" if len(m.instructions) > EXAMPLES else ""
        cells = [_cell(m.name), *([f"`{m.tool}`"] if tools else []), str(len(m.instructions)),
                 _cell(phrases), examples + more]
        lines.append(f"| {' | '.join(cells)} |")
    return [*lines, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(proposal: Proposal, prefix: Path, title: str) -> tuple[Path, Path]:
    """``PREFIX.md`` and ``PREFIX.json``; the JSON adds the figures and each instruction's status."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md, js = prefix.with_name(prefix.name + ".md"), prefix.with_name(prefix.name + ".json")
    md.write_text(render(proposal, title), encoding="utf-8")
    payload = {
        "title": title,
        "summary": proposal.summary(),
        **proposal.model_dump(mode="json", exclude={"instructions", "modules"}),
        "modules": [{**m.model_dump(mode="json"), "covered": m.covered} for m in proposal.modules],
        "instructions": [{**i.model_dump(mode="json"), "status": i.status} for i in proposal.instructions],
    }
    js.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return md, js
