"""The `copilot` command: a thin shell over the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from copilot.backends import add_backend_flags, apply_backend_flags, describe, status
from copilot.errors import CopilotError

if TYPE_CHECKING:
    from copilot.cache import ToolCache

EPILOG = """examples:
  copilot ask clip.wav "How many people speak, and what is the sound behind them?"
  copilot ask a.wav b.wav "Is it the same speaker in both clips?" --trace
  copilot ask clip.wav "Which language? (a) French (b) German" "What is said?" --json
  copilot ask clip.wav "What is said?" --asr openai-whisper:~/.cache/whisper/small.pt
  copilot inspect clip.wav                       what every tool finds in a clip
  copilot transcript meeting.wav --format srt --out meeting.srt
                                                 who said what, when, as subtitles
  copilot run asr clip.wav --args '{"word_timestamps": true}'
  copilot run speaker_verification a.wav b.wav
  copilot tools --json                           tool descriptions and schemas
  copilot tools new speech_rate                  a new tool in tools/ and its test, from the template
  copilot toolset propose --instructions tasks.txt --out coverage
                                                 which tasks the tools serve, and which need a new tool
  copilot models fetch                           assemble and verify the default models
  copilot learn accent --data clips.jsonl --label accent --group speaker
                                                 teach a new attribute from labelled clips
  copilot serve --port 8000                      an OpenAI-compatible audio endpoint and a web page

environment:
  SPEECH_COPILOT_CACHE         cache folder (default ~/.cache/speech-copilot)
  SPEECH_COPILOT_MODEL_DIR     folder of model files or parts, tried before any package
  SPEECH_COPILOT_MAX_DURATION  longest accepted input, in seconds (default 10800: 3 hours)
  SPEECH_COPILOT_CACHE_MB      largest size of the kept tool outputs, in MB (default 500)
  SPEECH_COPILOT_MAX_QUESTION  longest accepted question, in characters (default 4000)
  SPEECH_COPILOT_ALLOW_NETWORK set to 1 to let the model store use hub URLs
  SPEECH_COPILOT_PROGRESS      auto (a bar on a terminal), on (also plain lines in a log) or off
  SPEECH_COPILOT_API_KEY       Bearer key that copilot serve requires on /v1
  SPEECH_COPILOT_BACKENDS      per-family backends, e.g. asr=openai-whisper:/m/small.pt,tags=panns:/m/Cnn14.pth
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a subcommand and turn any `CopilotError` into one line and exit status 2."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        if hasattr(args, "backend_asr"):
            apply_backend_flags(args)
        return int(args.func(args) or 0)
    except CopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (copilot tools | head)
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="copilot",
        description="Answer questions about audio with speech tools: ASR, language ID, voice activity, "
        "diarization, speaker verification, sound events, gender and signal measures.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ask",
        usage="copilot ask [options] AUDIO [AUDIO2] QUESTION [QUESTION ...]",
        help="answer questions about one or two clips",
        description="Plan tool calls for each question, run them, and answer from what they measured. "
        "Options written as (a) ... (b) ... in a question make it multiple choice. "
        "Several questions about the same clip reuse each other's tool outputs.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="AUDIO [AUDIO2] QUESTION", help="a clip (and a second one to compare), then questions"
    )
    p.add_argument("--planner", default="embedded", help="embedded[:MODEL], openai[:MODEL] or fixed:TOOLS (default: embedded)")
    p.add_argument("--llm", default="embedded", help="the answering LLM of a fixed planner (default: embedded)")
    p.add_argument("--json", action="store_true", help="print answers with evidence, program and timings as JSON")
    p.add_argument("--trace", action="store_true", help="also print the program, each step's output and the timings")
    p.add_argument("--reuse-plans", action="store_true",
                   help="run the program kept for an earlier question of the same shape (the same wording, other "
                        "options) instead of planning it again, and keep this one's; kept beside the tool cache")
    add_backend_flags(p)
    p.set_defaults(func=_ask)

    p = sub.add_parser(
        "serve",
        help="serve an OpenAI-compatible audio chat endpoint and a web page",
        description="Answer questions about audio over HTTP: POST /v1/chat/completions takes messages with text and "
        "input_audio parts (base64 wav or mp3) like OpenAI's audio-input chat API; / is a web page to upload or "
        "record a clip and ask.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument(
        "--planner", default="embedded", help="embedded[:MODEL], openai[:MODEL] or fixed:TOOLS (default: embedded)"
    )
    p.add_argument("--llm", default="embedded", help="the answering LLM of a fixed planner (default: embedded)")
    key = p.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key", help="require this Bearer key on /v1 requests (default: $SPEECH_COPILOT_API_KEY, else none); "
        "it shows in the process list, the variable and --api-key-file do not"
    )
    key.add_argument("--api-key-file", metavar="PATH", help="read the Bearer key from this file (one line)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host beyond loopback without an API key (refused otherwise)")
    p.add_argument("--max-audio-mb", type=float, default=25.0, help="largest clip, in MB (default: 25)")
    p.add_argument("--max-duration", type=float, default=600.0, help="longest clip, in seconds (default: 600)")
    p.add_argument("--concurrency", type=int, default=4, help="questions worked on at once (default: 4)")
    p.add_argument("--queue", type=int, default=8,
                   help="questions that may wait for a free worker; more are refused with a 503 (default: 8)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds from a request's arrival to its answer; past it, a 504 (default: 300)")
    p.add_argument("--read-timeout", type=float, default=30.0,
                   help="seconds a client has to send a request's head, then its body; past it, a 408 (default: 30)")
    p.add_argument("--max-connections", type=int, default=100,
                   help="open connections; more are answered with a 503 (default: 100)")
    add_backend_flags(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser("inspect", help="run every single-clip tool on a clip and print what each finds")
    p.add_argument("audio", help="an audio or video file")
    p.add_argument("--json", action="store_true", help="print the tools' outputs as JSON")
    add_backend_flags(p)
    p.set_defaults(func=_inspect)

    p = sub.add_parser("run", help="run one tool on one or two clips and print its output as JSON")
    p.add_argument("tool", help="a tool name (see `copilot tools`)")
    p.add_argument("audio", nargs="+", help="the clip (audio1), and a second clip (audio2) for comparisons")
    p.add_argument("--args", default="{}", help="the tool's arguments as a JSON object")
    add_backend_flags(p)
    p.set_defaults(func=_run)

    _add_transcript_command(sub)

    p = sub.add_parser("tools", help="list the tools with their descriptions and schemas; `tools new NAME` writes a new one")
    p.add_argument("--json", action="store_true", help="print the full specs (descriptions and JSON schemas)")
    p.set_defaults(func=_tools)

    from copilot.toolset.cli import add_commands as add_toolset_commands
    from copilot.toolset.cli import add_new

    add_new(p)
    add_toolset_commands(sub)

    from copilot.benchmarks.cli import add_commands as add_bench_commands

    add_bench_commands(sub)

    from copilot.heads.cli import add_commands as add_head_commands

    add_head_commands(sub)

    _add_cache_commands(sub)

    models = sub.add_parser("models", help="list, fetch and verify the embedded models")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    p = msub.add_parser("list", help="every model with its size and whether it is in the cache")
    p.set_defaults(func=_models_list)
    p = msub.add_parser("fetch", help="assemble models into the cache and verify them (default: all)")
    p.add_argument("names", nargs="*", help="model names (default: every model)")
    p.set_defaults(func=_models_fetch)
    p = msub.add_parser("verify", help="re-hash cached model files against the manifest; exit 2 on a mismatch")
    p.add_argument("names", nargs="*", help="model names (default: every model)")
    p.set_defaults(func=_models_verify)
    return parser


def _add_cache_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``cache info`` and ``cache clear``: what the tool-output cache holds, and deleting it."""
    cache = sub.add_parser(
        "cache",
        help="show or clear the tool-output cache",
        description="Every tool's output is kept in a SQLite file by clip sha256, tool, version and arguments,\n"
        "so that a second question about a clip reuses the first one's work. It holds the transcripts\n"
        "and other measurements of every clip asked about, up to SPEECH_COPILOT_CACHE_MB (default 500);\n"
        "past that, the least recently written outputs are deleted first.",
        epilog="examples:\n  copilot cache info\n  copilot cache clear --tool asr     delete the kept transcripts only\n"
        "  copilot cache clear                delete every kept output",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    p = csub.add_parser("info", help="the cache's file, its size and bound, and its rows tool by tool")
    p.set_defaults(func=_cache_info)
    p = csub.add_parser(
        "clear",
        help="delete the kept tool outputs (all, or one tool's) and give the space back",
        description="Delete the kept tool outputs and shrink the file; the programs kept by --reuse-plans stay.",
    )
    p.add_argument("--tool", metavar="NAME", help="delete only this tool's outputs (see `copilot cache info`)")
    p.set_defaults(func=_cache_clear)


TRANSCRIPT_HELP = """\
Transcribe a clip (asr, with word times) and give each word and segment a speaker (diarization's S1, S2...,
in order of first speech), then write it as the whisper CLI does, speakers as WhisperX writes them:
[S1]: text. A segment whose words change speaker is split there. Both tools' outputs are kept in the
tool cache, so a second transcript of the clip runs no model (nor does a question's diarization step)."""
TRANSCRIPT_EXAMPLES = """\
examples:
  copilot transcript meeting.wav                                  [S1]: ... a line a segment
  copilot transcript meeting.wav --format srt --out meeting.srt   subtitles, HH:MM:SS,mmm
  copilot transcript lecture.mp3 --format vtt --no-speakers       one voice: diarization does not run
  copilot transcript meeting.wav --format json                    segments, words, speakers and times"""


def _add_transcript_command(sub: argparse._SubParsersAction) -> None:
    """Add ``transcript``: a clip's transcript with its speakers, in one of the whisper CLI's formats."""
    from copilot.transcript import WRITERS

    summary = "write a clip's transcript, who said what and when, as txt, srt, vtt or json"
    p = sub.add_parser("transcript", help=summary, description=TRANSCRIPT_HELP, epilog=TRANSCRIPT_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", help="an audio or video file")
    p.add_argument("--format", choices=list(WRITERS), default="txt", help="the document's format (default: txt)")
    p.add_argument("--speakers", action=argparse.BooleanOptionalAction, default=True,
                   help="label each segment with its speaker (default: on); --no-speakers does not run diarization")
    p.add_argument("--out", metavar="PATH", help="write the document to PATH instead of stdout")
    add_backend_flags(p)
    p.set_defaults(func=_transcript)


def _load_clips(paths: Sequence[str]) -> dict:
    from copilot.audio import load

    if len(paths) > 2:
        raise CopilotError(f"at most two audio files, got {len(paths)}")
    return {f"audio{i}": load(p) for i, p in enumerate(paths, 1)}


def _split_inputs(inputs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Audio paths (the first, and the second when it is a file) and the questions after them, each question held
    to the length limit before any model loads."""
    from copilot.question.request import check_length

    if len(inputs) < 2:
        raise CopilotError("give an audio file and a question, e.g. copilot ask clip.wav \"What is said?\"")
    n_audio = 2 if len(inputs) > 2 and _is_file(inputs[1]) else 1
    paths, questions = list(inputs[:n_audio]), list(inputs[n_audio:])
    for question in questions:
        if _is_file(question):
            raise CopilotError(
                f"{question} is a file, not a question: give one or two clips, then the questions about them"
            )
        check_length(question)
    return paths, questions


def _is_file(text: str) -> bool:
    """Whether ``text`` names a file; a text no file could be named by (too long, a NUL) is not one."""
    from pathlib import Path

    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def _ask(args: argparse.Namespace) -> None:
    import time

    from copilot.agent import Copilot
    from copilot.planners import load_planner
    from copilot.plans import PlanBook
    from copilot.registry import default_registry
    from copilot.render import render_answer

    paths, questions = _split_inputs(args.inputs)
    _log_in_one_line()
    started = time.perf_counter()
    clips = _load_clips(paths)
    print(f"loaded {', '.join(paths)} in {time.perf_counter() - started:.1f} s; loading the planner ...", file=sys.stderr)
    loaded, registry = load_planner(args.planner, args.llm), default_registry()
    plans = PlanBook(loaded.planner.name, registry) if args.reuse_plans else None
    agent = Copilot(loaded.planner, loaded.llm, registry, amend=loaded.amend, plans=plans)
    answers = []
    for question in questions:
        print(f"asking: {question}", file=sys.stderr)
        answers.append(agent.ask(clips, question))
        if not args.json:
            print(render_answer(answers[-1], trace=args.trace))
    if args.json:
        payload = [a.model_dump(mode="json") for a in answers]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))


class _OneLine(logging.Formatter):
    """A log record as one ``warning: ...`` line, its traceback left out: the terminal's reader gets what failed, and
    the failed step is in the answer."""

    def format(self, record: logging.LogRecord) -> str:
        return f"warning: {record.getMessage()}"


def _log_in_one_line() -> None:
    """Send warnings and errors logged while answering (a tool's failure) to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _run(args: argparse.Namespace) -> None:
    from copilot.registry import default_registry

    tool = default_registry().get(args.tool)
    try:
        tool_args = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise CopilotError(f"--args is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(tool_args, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(tool_args), "a number")
        raise CopilotError(f"--args must be a JSON object of the tool's arguments, e.g. '{{\"start\": 3}}', not {kind}")
    tool_args = tool.parse(tool_args)
    result = tool(tool_args, _load_clips(args.audio))
    print(result.model_dump_json(indent=2))


def _serve(args: argparse.Namespace) -> None:
    from copilot.serve import serve_from_args

    serve_from_args(args)


def _inspect(args: argparse.Namespace) -> None:
    from copilot.inspection import inspect_clip

    clips = _load_clips([args.audio])
    report = inspect_clip(clips)
    if args.json:
        print(json.dumps({n: o.model_dump(mode="json") if not isinstance(o, CopilotError) else {"error": str(o)} for n, o in report.items()}, indent=2))
    else:
        from copilot.inspection import render

        print(render(report))


def _transcript(args: argparse.Namespace) -> None:
    import time
    from pathlib import Path

    from copilot.transcript import WRITERS, transcript

    started = time.perf_counter()
    audio = _load_clips([args.audio])["audio1"]
    print(f"transcribing {args.audio} ({audio.duration:.1f} s) ...", file=sys.stderr)
    document = WRITERS[args.format](transcript(audio, speakers=args.speakers, progress=True))
    if not args.out:
        print(document, end="")
        return
    try:
        Path(args.out).write_text(document, encoding="utf-8")
    except OSError as exc:
        raise CopilotError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _tools(args: argparse.Namespace) -> None:
    from copilot.registry import default_registry

    registry = default_registry()
    if args.json:
        print(json.dumps([{**t.spec(), "backends": [s.model_dump() for s in status(t.name)]} for t in registry], indent=2))
        return
    for t in registry:
        fields = ", ".join(t.input_model.model_fields)
        print(f"{t.name} (v{t.version})  args: {fields}")
        print("    " + t.description.replace("\n", "\n    "))
        if line := describe(t.name):
            print("    " + line.replace("\n", "\n    "))
        print(f"    returns: {', '.join(t.output_model.model_fields)}\n")


def _open_cache() -> ToolCache:
    """The tool cache of the cache folder; one that cannot be opened is a `CopilotError`."""
    import sqlite3

    from copilot.cache import ToolCache, default_path

    path = default_path()
    try:
        return ToolCache(path)
    except sqlite3.Error as exc:
        raise CopilotError(f"the tool cache {path} cannot be opened: {exc}") from None


def _cache_info(args: argparse.Namespace) -> None:
    info = _open_cache().info()
    print(f"{info.path}: {info.rows} outputs, {info.bytes / 1e6:.1f} MB of {info.max_bytes / 1e6:.0f} MB allowed "
          f"(SPEECH_COPILOT_CACHE_MB); {info.file_bytes / 1e6:.1f} MB on disk")
    for share in info.tools:
        print(f"  {share.tool:24} {share.rows:7d} outputs  {share.bytes / 1e6:9.2f} MB")


def _cache_clear(args: argparse.Namespace) -> None:
    import sqlite3

    cache = _open_cache()
    try:
        deleted = cache.clear(args.tool)
    except sqlite3.Error as exc:
        raise CopilotError(f"the tool cache {cache.path} cannot be cleared now: {exc}") from None
    print(f"deleted {deleted} {args.tool + ' ' if args.tool else ''}outputs from {cache.path}")


def _models_list(args: argparse.Namespace) -> None:
    from copilot.manifest import MANIFEST
    from copilot.models import model_dir

    for m in MANIFEST:
        present = all((model_dir(m.name) / f.name).exists() for f in m.files)
        print(f"{m.name:22} {m.size / 1e6:8.1f} MB  {'cached ' if present else 'missing'}  {m.description}")


def _models_fetch(args: argparse.Namespace) -> None:
    from copilot.manifest import MANIFEST
    from copilot.models import ensure

    for name in args.names or [m.name for m in MANIFEST]:
        print(f"{name}: {ensure(name)}", file=sys.stderr)


def _models_verify(args: argparse.Namespace) -> int:
    from copilot.models import verify

    rows = [r for name in args.names for r in verify(name)] if args.names else verify()
    for r in rows:
        print(f"{r.status:8} {r.model}/{r.file}  {r.detail or r.path}")
    return 2 if any(r.status == "corrupt" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
