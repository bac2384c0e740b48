"""The `copilot bench` commands: `run` a benchmark against a system into a resumable results file, `rescore` a
results file's predictions, `report` results files as markdown tables and a bar chart, and `make` the project's own
compound-question and long-form sets. `add_commands` adds them to the `copilot` parser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  copilot bench run sakura --data ../shared/data/sakura-dev --system copilot --limit 8 --out sakura-copilot.jsonl
  copilot bench run sakura --data SAKURA/data --system cascade:asr+tags --out sakura-cascade.jsonl
  copilot bench run jasco --data ../shared/data/jasco-dev --system openai-audio:qwen2-audio \\
      --base-url http://localhost:8000/v1 --variants 8 --out jasco-qwen2.jsonl
  copilot bench run mmau --data mmau-test-mini.json --audio-dir test-mini-audios --out mmau.jsonl
  copilot bench run dynamic-superb --data ../shared/data/ds-dev --system copilot --out ds.jsonl
  copilot bench rescore jasco --data ../shared/data/jasco-dev jasco-qwen2.jsonl --judge openai:llama-3.1-70b \
      --out jasco-qwen2-70b.jsonl
  copilot bench report sakura-copilot.jsonl sakura-cascade.jsonl --chart sakura.png
  copilot bench make compound /tmp/compound
  copilot bench run compound --data /tmp/compound --system copilot --out compound.jsonl
  copilot bench make longform /tmp/longform --minutes 10,30
  copilot bench run longform --data /tmp/longform --system copilot --out longform.jsonl

benchmarks: sakura (items.jsonl, or the release's data/<Track>/metadata.csv), jasco (items.jsonl or v0.csv),
mmau (mmau-test-mini.json), dynamic-superb (ds-dev's items.jsonl: SAKURA's format with a task per item and audio2
for two-clip tasks, reported per task and as the unweighted mean over tasks; or a local export of the Hugging Face
task datasets, one folder a task), jsonl (any JSONL of audio, question, options, answer), compound (the project's
compound questions, made by `bench make compound`: each part scored on its own, reported by part kind), longform
(the project's long recordings, made by `bench make longform`: reported per length and kind of question)

systems: copilot (with --planner), cascade:asr, cascade:asr+tags, cascade:all (answered by --llm),
openai-audio[:MODEL] (an audio LLM behind an OpenAI-compatible API: --base-url or OPENAI_BASE_URL, OPENAI_API_KEY),
oracle (--llm answering from the dataset's own account of the audio: how far perfect tools would take it)
"""


def _minutes(text: str) -> tuple[int, ...]:
    try:
        return tuple(_positive(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not minutes separated by commas: {text!r}") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench run``, ``bench rescore``, ``bench report`` and ``bench make`` to the subcommands of a parser."""
    from copilot.benchmarks.adapters import ADAPTERS

    bench = subparsers.add_parser(
        "bench", help="run benchmarks (SAKURA, JASCO, MMAU, Dynamic-SUPERB, JSONL, compound, longform) and report the results",
        description="Ask a system every benchmark item, score the answers, and compare systems.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = bench.add_subparsers(dest="bench_command", required=True, metavar="ACTION")

    p = actions.add_parser(
        "run", help="ask a system every item and append each scored result to a JSONL file (resumable)",
        description="Results are appended as each answer completes; run the same command again after an interruption "
        "or a crash and it carries on where it stopped.",
    )
    p.add_argument("benchmark", choices=list(ADAPTERS))
    p.add_argument("--data", type=Path, required=True, help="the benchmark's index file or folder")
    p.add_argument("--audio-dir", type=Path, help="where the audio files are, when not beside the index")
    p.add_argument("--system", default="copilot",
                   help="copilot, cascade:asr, cascade:asr+tags, cascade:all, openai-audio[:MODEL] or oracle "
                        "(default: copilot)")
    p.add_argument("--planner", default="embedded",
                   help="the copilot's planner: embedded[:MODEL], openai[:MODEL] or fixed:TOOLS (default: embedded)")
    p.add_argument("--llm", default="embedded",
                   help="the answering LLM of a fixed planner, a cascade or oracle (default: embedded)")
    p.add_argument("--base-url", help="the OpenAI-compatible endpoint of openai-audio (default: OPENAI_BASE_URL)")
    p.add_argument("--name", help="the system's label in the results and the report")
    p.add_argument("--judge", default="embedded",
                   help="the LLM rating open answers: embedded[:MODEL], openai[:MODEL] or none (default: embedded)")
    p.add_argument("--variants", type=_positive, default=1,
                   help="prompt variants asked per item: JASCO has 8, the others 3 (default: 1)")
    p.add_argument("--limit", type=_positive, help="ask only this many items (see --sample)")
    p.add_argument("--sample", choices=["first", "stratified"], default="first",
                   help="how --limit picks items: first (the first of each category in turn) or stratified (each "
                        "category in proportion to its size, drawn at random with --seed) (default: first)")
    p.add_argument("--seed", type=int, default=0, help="the seed of a stratified sample (default: 0)")
    p.add_argument("--workers", type=_positive,
                   help="items answered at once (default: 1; with --ray, the number of actors, by default one per "
                        "--ray-cpus of the cluster's CPUs)")
    p.add_argument("--retry-errors", action="store_true", help="ask again the items whose earlier result is an error")
    p.add_argument("--no-reuse-plans", dest="reuse_plans", action="store_false",
                   help="plan every question with the LLM; by default a question of a shape seen before (the same "
                        "wording, other options) runs the program kept for that shape, kept beside the tool cache")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="answer on Ray actors, each holding one system: those of the cluster at ADDRESS (HOST:PORT of "
                        "its head), or of a new local Ray instance without ADDRESS; this machine writes the results "
                        "(needs pip install 'speech-copilot[ray]')")
    p.add_argument("--ray-cpus", type=_positive, default=2, help="CPUs each Ray actor reserves (default: 2)")
    p.add_argument("--out", type=Path, required=True, help="the results file (JSONL), appended to and resumed from")
    p.set_defaults(func=_run)

    p = actions.add_parser(
        "rescore", help="score a results file's predictions again, with today's scorers or another judge",
        description="Scores the predictions stored in RESULTS again, without asking the system again, and appends "
        "the rescored results to --out (resumable; RESULTS is only read). Rule-based scores (option match, keyword "
        "hits, WER, ...) are always recomputed. The judge rates only what it has not rated: a verdict by the same "
        "judge is kept, and --judge none keeps every stored verdict.",
    )
    p.add_argument("benchmark", choices=list(ADAPTERS))
    p.add_argument("results", type=Path, help="a results file of `copilot bench run`")
    p.add_argument("--data", type=Path, required=True, help="the benchmark's index file or folder the results come from")
    p.add_argument("--audio-dir", type=Path, help="where the audio files are, when not beside the index")
    p.add_argument("--judge", default="embedded",
                   help="the LLM rating open answers: embedded[:MODEL], openai[:MODEL] or none (default: embedded)")
    p.add_argument("--workers", type=_positive, default=1, help="results scored at once (default: 1)")
    p.add_argument("--out", type=Path, required=True, help="the rescored results file, appended to and resumed from")
    p.set_defaults(func=_rescore)

    p = actions.add_parser("report", help="markdown tables of results files, systems side by side, and a bar chart")
    p.add_argument("results", type=Path, nargs="+", help="results files of `copilot bench run`")
    p.add_argument("--chart", type=Path, help="the bar chart PNG (default: the first results file with .png)")
    p.set_defaults(func=_report)

    from copilot.benchmarks.items import PART_KINDS

    kinds = "\n".join(f"  {k:14} {', '.join(v.tools) or 'no tool':13} {v.about}" for k, v in PART_KINDS.items())
    p = actions.add_parser(
        "make", help="make one of the project's own sets (espeak-ng talkers over gcompris sounds)",
        description="compound: writes 14 clips into DIR/clips, 44 questions of two to four parts, each part's truth "
        "known by construction, into DIR/items.jsonl (run them as `copilot bench run compound --data DIR`), and what "
        "each clip is made of into DIR/clips.jsonl. longform: writes a meeting, an interview and a lecture of each "
        "length in --minutes into DIR/recordings (with what each is made of, turn by turn, beside it) and their "
        "factual, time, speaker, absent and summary questions into DIR/items.jsonl (run them as `copilot bench run "
        "longform --data DIR`). Needs espeak-ng, sox and gcompris-qt-data.",
        epilog=f"part kinds and the tools serving them:\n{kinds}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("set", choices=["compound", "longform"], help="the set to make")
    p.add_argument("folder", type=Path, metavar="DIR", help="where to write it")
    p.add_argument("--minutes", type=_minutes, default=(10, 30, 60, 120),
                   help="longform: the recordings' lengths in minutes, comma-separated (default: 10,30,60,120)")
    p.add_argument("--seed", type=int, default=0, help="the seed drawing voices and background starts (default: 0)")
    p.set_defaults(func=_make)


def _run(args: argparse.Namespace) -> None:
    from copilot.benchmarks.adapters import load_items
    from copilot.benchmarks.judge import Judge
    from copilot.benchmarks.runner import run, select
    from copilot.benchmarks.systems import load_system

    items = select(load_items(args.benchmark, args.data, args.audio_dir), args.limit, args.sample, args.seed)
    if args.ray is not None:
        from copilot.benchmarks import cluster

        spec = cluster.SystemSpec(system=args.system, planner=args.planner, llm=args.llm, base_url=args.base_url,
                                  name=args.name, reuse_plans=args.reuse_plans, judge=args.judge)
        with cluster.connect(args.ray or None, spec):
            actors = cluster.Actors(spec, args.workers, args.ray_cpus)
            summary = cluster.run(items, actors, args.out, benchmark=args.benchmark, variants=args.variants,
                                  retry_errors=args.retry_errors)
    else:
        system = load_system(args.system, args.planner, args.llm, args.base_url, args.name, args.reuse_plans)
        judge = None if args.judge == "none" else Judge(args.judge)
        summary = run(items, system, args.out, benchmark=args.benchmark, judge=judge, variants=args.variants,
                      workers=args.workers or 1, retry_errors=args.retry_errors)
    print(f"{args.out}: {summary.before} results kept, {summary.added} added ({summary.errors} errors); "
          f"see: copilot bench report {args.out}", file=sys.stderr)


def _rescore(args: argparse.Namespace) -> None:
    from copilot.benchmarks.adapters import load_items
    from copilot.benchmarks.judge import Judge
    from copilot.benchmarks.runner import rescore

    items = load_items(args.benchmark, args.data, args.audio_dir)
    judge = None if args.judge == "none" else Judge(args.judge)
    summary = rescore(items, args.results, args.out, judge=judge, workers=args.workers)
    print(f"{args.out}: {summary.before} results kept, {summary.added} rescored ({summary.errors} errors); "
          f"see: copilot bench report {args.out}", file=sys.stderr)


def _report(args: argparse.Namespace) -> None:
    from copilot.benchmarks.report import chart, load, render

    by_bench = load(args.results)
    print(render(by_bench))
    path = chart(by_bench, args.chart or args.results[0].with_suffix(".png"))
    print(f"chart: {path}", file=sys.stderr)


def _make(args: argparse.Namespace) -> None:
    from collections import Counter

    if args.set == "longform":
        from copilot.benchmarks.longform_set import make_set as make_longform

        items = make_longform(args.folder, args.minutes, args.seed)
        asks = Counter(item.truth.ask for item in items if item.truth)
        print(f"wrote {3 * len(args.minutes)} recordings and {len(items)} questions ("
              + ", ".join(f"{k} {n}" for k, n in asks.most_common()) + f") into {args.folder}", file=sys.stderr)
        return
    from copilot.benchmarks.compound_set import CLIPS, make_set

    items = make_set(args.folder, args.seed)
    counts = Counter(part.kind for item in items for part in item.parts)
    print(f"wrote {len(CLIPS)} clips and {len(items)} items ({sum(counts.values())} parts: "
          + ", ".join(f"{k} {n}" for k, n in counts.most_common()) + f") into {args.folder}", file=sys.stderr)
