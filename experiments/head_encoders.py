"""Which encoder a learned head should stand on: grouped cross-validation of the same head over each encoder.

    python experiments/head_encoders.py --data ../shared/data/emotion-train/items.jsonl \
        --label emotion --group speaker --where corpus=crema-d

Prints, per encoder, the unweighted average recall, the accuracy and the feature time per clip
(features come from the feature cache when they are there, so time a cold cache).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from copilot.heads.features import ENCODERS, FeatureCache, encoder
from copilot.heads.learn import REGULARISATION, check_classes, cross_validate, extract, read_examples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--group")
    p.add_argument("--where", action="append", default=[], help="FIELD=VALUE, repeatable")
    p.add_argument("--encoders", default=",".join(ENCODERS))
    p.add_argument("--c", type=float, nargs="+", default=[REGULARISATION])
    args = p.parse_args()
    where = dict(w.split("=", 1) for w in args.where)
    examples = read_examples(args.data, args.label, args.group, where=where)
    check_classes(examples)
    cache = FeatureCache()
    print(f"{len(examples)} clips; encoder, C, unweighted average recall, accuracy, seconds per clip")
    for name in args.encoders.split(","):
        start = time.perf_counter()
        found = extract(examples, encoder(name), cache)
        seconds = (time.perf_counter() - start) / len(examples)
        classes = sorted({e.label for e in found.examples})
        for c in args.c:
            f = cross_validate(found.vectors, found.examples, classes, c)
            print(f"{name}\tC={c}\tUAR {f.unweighted_average_recall:.3f}\taccuracy {f.accuracy:.3f}\t{seconds:.3f} s/clip")


if __name__ == "__main__":
    main()
