"""`copilot learn` and `copilot heads`: teach an attribute from labelled clips, and manage the heads."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from copilot.errors import CopilotError, ModelError

LEARN_EPILOG = """examples:
  copilot learn accent --data clips.jsonl --label accent --group speaker
  copilot learn emotion_cremad --data ../shared/data/emotion-train/items.jsonl --label emotion \\
      --group speaker --where corpus=crema-d --by corpus
  copilot heads list

items.jsonl holds one clip a line: {"audio": "clips/a.wav", "accent": "scottish", "speaker": "s12"};
audio paths are relative to the file's folder. The head is written to the cache folder's heads/ (or --out)
with its sha256 beside it, and is a tool at once: `copilot tools` lists it and the planner can call it.
"""
NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``learn`` and ``heads`` to the `copilot` command."""
    from copilot.heads.features import ENCODERS
    from copilot.heads.learn import FOLDS, REGULARISATION

    p = sub.add_parser(
        "learn",
        help="teach a new audio attribute from labelled clips (a learned head, then a tool)",
        description="Extract features of labelled clips, cross-validate a classifier so that no group (speaker) "
        "is in both training and test folds, print its figures, and write the head trained on every clip.",
        epilog=LEARN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="the head's (and its tool's) name: lower case, digits and _")
    p.add_argument("--data", type=Path, required=True, help="a JSONL file of clips with their labels")
    p.add_argument("--label", required=True, help="the field that holds each clip's label")
    p.add_argument("--group", help="the field that keeps clips together in cross-validation, e.g. speaker")
    p.add_argument("--by", help="also report the figures within each value of this field, e.g. corpus")
    p.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE", help="keep only matching clips (repeatable)")
    p.add_argument("--labels", help="keep only these labels, comma-separated (default: every label)")
    p.add_argument("--attribute", help="what the labels are values of, for the planner (default: the label field)")
    p.add_argument("--encoder", default="whisper-base", choices=list(ENCODERS), help="feature encoder (default: whisper-base)")
    p.add_argument("--c", type=float, default=REGULARISATION, help=f"inverse regularisation strength (default: {REGULARISATION})")
    p.add_argument("--folds", type=int, default=FOLDS, help=f"cross-validation folds (default: {FOLDS})")
    p.add_argument("--notes", default="", help="a sentence for the planner's description, e.g. where it fails")
    p.add_argument("--out", type=Path, help="where to write the head (default: <cache>/heads/NAME.npz)")
    p.add_argument("--force", action="store_true", help="replace a head of the same name")
    p.set_defaults(func=_learn)

    heads = sub.add_parser("heads", help="list, show, verify and remove learned heads")
    hsub = heads.add_subparsers(dest="heads_command", required=True, metavar="ACTION")
    p = hsub.add_parser("list", help="every head: shipped, trained and installed, with its labels and figures")
    p.set_defaults(func=_list)
    p = hsub.add_parser("show", help="a head's metadata and cross-validation figures")
    p.add_argument("name")
    p.set_defaults(func=_show)
    p = hsub.add_parser("verify", help="re-hash head files against their recorded sha256; exit 2 on a mismatch")
    p.add_argument("names", nargs="*", help="head names (default: every head)")
    p.set_defaults(func=_verify)
    p = hsub.add_parser("remove", help="delete a trained head from the cache folder")
    p.add_argument("name")
    p.set_defaults(func=_remove)


def _learn(args: argparse.Namespace) -> None:
    from copilot.heads.features import encoder
    from copilot.heads.learn import check_settings, learn, read_examples, report
    from copilot.heads.store import heads_dir

    if not NAME.match(args.name):
        raise CopilotError(f"bad head name {args.name!r}: use lower-case letters, digits and _, starting with a letter")
    check_settings(args.c, args.folds)
    out = args.out or heads_dir() / f"{args.name}.npz"
    if out.exists() and not args.force:
        raise CopilotError(f"{out} exists: give --force to replace it, or another name")
    where = {}
    for item in args.where:
        field, eq, value = item.partition("=")
        if not eq:
            raise CopilotError(f"bad --where {item!r}: write FIELD=VALUE")
        where[field] = value
    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    examples = read_examples(args.data, args.label, args.group, args.by, where, labels)
    head = learn(
        args.name, examples, encoder(args.encoder), attribute=args.attribute or args.label.replace("_", " "),
        data=str(args.data), command=shlex.join(["copilot", *args.argv]),
        c=args.c, folds=args.folds, warn=lambda line: print(line, file=sys.stderr),
    )  # fmt: skip
    if args.notes:
        head.meta.notes = args.notes
    digest = head.save(out)
    print(report(head.meta))
    print(f"wrote {out} (sha256 {digest})")


def _list(args: argparse.Namespace) -> None:
    from copilot.heads.store import every_head

    for ref in every_head():
        try:
            m = ref.load().meta
        except ModelError as exc:
            print(f"{ref.name:16} {ref.source:9}  BROKEN: {exc}")
            continue
        figures = f"UAR {m.figures.unweighted_average_recall:.1%} over {len(m.labels)} labels"
        print(f"{ref.name:16} {ref.source:9}  {figures:24} {m.clips:6d} clips  {', '.join(m.labels)}  ({ref.path})")


def _show(args: argparse.Namespace) -> None:
    from copilot.heads.learn import report
    from copilot.heads.store import find

    ref = find(args.name)
    meta = ref.load().meta
    print(report(meta))
    print(f"file {ref.path} ({ref.source}), sha256 {ref.sha256}")
    print(meta.model_dump_json(indent=2, exclude={"figures"}))


def _verify(args: argparse.Namespace) -> int:
    from copilot.heads.head import verify
    from copilot.heads.store import every_head, find

    refs = [find(n) for n in args.names] if args.names else every_head()
    bad = 0
    for ref in refs:
        try:
            verify(ref.path, ref.sha256)
            print(f"ok       {ref.name}  {ref.path}")
        except (ModelError, OSError) as exc:
            bad += 1
            print(f"corrupt  {ref.name}  {exc}")
    return 2 if bad else 0


def _remove(args: argparse.Namespace) -> None:
    from copilot.heads.store import remove

    print(f"removed {remove(args.name)}")
