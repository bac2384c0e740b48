"""`copilot toolset propose` (which tasks the tools serve) and `copilot tools new` (a new tool from the template)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from copilot.errors import CopilotError

PROPOSE_EPILOG = """examples:
  copilot toolset propose --instructions ../shared/data/dynamic-superb-phase1/tasks.txt --out docs/coverage/ds-phase1
  copilot toolset propose --instructions ../shared/data/ds-dev/items.jsonl --out docs/coverage/ds-dev
  copilot toolset propose --bench sakura --data ../shared/data/sakura-dev --without emotion
  copilot toolset propose --instructions tasks.txt --llm openai:gpt-4o-mini

--instructions reads one instruction a line (a Dynamic-SUPERB task name such as SpeakerCounting_LibriTTS-TestClean is
read as "Speaker counting (LibriTTS-TestClean)") or JSON lines with an "instruction" field; options written
(a) ... (b) ... are left out. The LLM's sub-tasks and mappings are cached in the cache folder (toolset.sqlite), so
the same pool again takes no LLM time, and after a tool is added only the modules are mapped again.
"""

NEW_EPILOG = """examples:
  copilot tools new speech_rate                  tools/speech_rate.py and tests/test_speech_rate.py
  copilot tools new speech_rate --dir my_tools   my_tools/speech_rate.py and my_tools/test_speech_rate.py

The tool works as written (the RMS level of the clip or a range, silent/quiet/moderate/loud), and its test runs it on
a LibriVox recording; replace the measure with yours. In tools/ it is listed by `copilot tools` at once; from
another folder it is registered through the entry point group speech_copilot.tools of your package.
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``toolset propose`` to the `copilot` command."""
    from copilot.benchmarks.adapters import ADAPTERS

    toolset = sub.add_parser(
        "toolset", help="which tasks of a pool the tools serve, and which need a new tool",
        description="Speech-Copilot's toolset construction (arXiv 2407.09886) held against this project's tools.",
    )
    actions = toolset.add_subparsers(dest="toolset_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "propose", help="decompose task instructions into sub-tasks, group them into modules, map modules onto tools",
        description="The LLM breaks each instruction of a pool into sub-tasks; the sub-tasks are grouped into modules "
        "by their words; the LLM maps each module onto one tool, or none. Prints (or writes) a report: the uncovered "
        "modules first, then the covered ones, then the tools that serve each instruction.",
        epilog=PROPOSE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--instructions", type=Path, metavar="FILE", help="one instruction a line, or JSONL with an instruction field")
    source.add_argument("--bench", choices=list(ADAPTERS), metavar="ADAPTER",
                        help=f"take the distinct questions of a benchmark's items ({', '.join(ADAPTERS)}); needs --data")
    p.add_argument("--data", type=Path, help="the benchmark's index file or folder (with --bench)")
    p.add_argument("--llm", default="embedded", help="embedded[:MODEL] or openai[:MODEL] (default: embedded)")
    p.add_argument("--without", default="", metavar="TOOLS", help="leave these tools out, comma-separated: what would be covered without them")
    p.add_argument("--title", help="the report's title (default: the input's name)")
    p.add_argument("--out", type=Path, metavar="PREFIX", help="write PREFIX.md and PREFIX.json (default: Markdown to stdout)")
    p.set_defaults(func=_propose)


def add_new(tools: argparse.ArgumentParser) -> None:
    """Add the ``new`` action to `copilot tools`, which lists the tools when given no action."""
    actions = tools.add_subparsers(dest="tools_command", metavar="ACTION")
    p = actions.add_parser(
        "new", help="write a new tool from the template, with a test on a real recording",
        description="Write a one-file tool in the house style (typed input and output, findings(), a "
        "docstring the planner reads) and a test stub that runs it on a real recording.",
        epilog=NEW_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="the tool's name, also its module's: lower case letters, digits and _")
    p.add_argument("--dir", type=Path, metavar="FOLDER",
                   help="write the tool and its test here (default: tools/ and tests/ of the repository)")
    p.set_defaults(func=_new)


def _propose(args: argparse.Namespace) -> None:
    from copilot.cache import ToolCache
    from copilot.config import Settings
    from copilot.planners import load_llm
    from copilot.registry import Registry, default_registry
    from copilot.toolset import report
    from copilot.toolset.propose import bench_instructions, propose, read_instructions

    if args.bench:
        if args.data is None:
            raise CopilotError("--bench needs --data, the benchmark's index file or folder")
        pool, title = bench_instructions(args.bench, args.data), f"{args.bench} ({args.data.name})"
    else:
        pool, title = read_instructions(args.instructions), args.instructions.name
    registry = default_registry()
    without = [name.strip() for name in args.without.split(",") if name.strip()]
    for name in without:
        registry.get(name)  # an unknown name is an error that lists the tools
    registry = Registry([t for t in registry if t.name not in without])
    print(f"{len(pool)} instructions, {len(registry)} tools; loading the LLM ...", file=sys.stderr)
    cache = ToolCache(Settings.from_env().cache_dir / "toolset.sqlite")
    proposal = propose(pool, load_llm(args.llm), registry, cache, left_out=without)
    s = proposal.summary()
    figures = (f"{s['instructions']} instructions: {s['covered']} covered, {s['partly']} partly, {s['uncovered']} not "
               f"covered; {s['modules']} modules, {s['uncovered_modules']} uncovered")
    if args.out:
        md, js = report.write(proposal, args.out, args.title or title)
        print(f"{figures}; wrote {md} and {js}", file=sys.stderr)
    else:
        print(report.render(proposal, args.title or title))
        print(figures, file=sys.stderr)


def _new(args: argparse.Namespace) -> None:
    from copilot.toolset.new import new_tool

    made = new_tool(args.name, args.dir)
    print(f"wrote {made.tool} and {made.test}")
    if made.in_repository:
        print(f"`copilot tools` lists {made.name} now, and the planner can call it; test it: pytest {made.test}")
        return
    print(f"test it: pytest {made.test}")
    print(f"register it from your package's pyproject.toml (with {made.tool.name} in the package):\n"
          f'  [project.entry-points."speech_copilot.tools"]\n'
          f'  {made.name} = "your_package.{made.name}"')
