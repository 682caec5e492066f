"""Filing fidelity on the hard corpus (tests/corpus.py): misfiled documents, documents filed without a
person, document types read right; with the clinic's register imported and without one.

Every document of the corpus goes through the box's real pipeline (intake, OCR pool, filing),
one file at a time. Targets (issue "Filing that holds on real clinic paper"): 0 misfiled, at
least 90% of the documents that carry enough identifiers filed automatically, at least 95% of
document types right.

    .venv/bin/python bench/filing.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance.box import open_box
from appliance.config import Config
from appliance.db import database
from tests import corpus

AUTO_TARGET, TYPE_TARGET = 0.9, 0.95


def run(with_register: bool) -> tuple[corpus.Report, float, Counter]:
    docs = corpus.build()
    with tempfile.TemporaryDirectory() as folder:
        config = Config(data_dir=Path(folder) / "box", ocr_processes=2)
        open_box(config)
        started = time.perf_counter()
        filed = corpus.run_box(config, docs, Path(folder), with_register)
        seconds = time.perf_counter() - started
        database.close()
    kinds = Counter(doc.kind.split(" ")[0] for doc in docs)
    return corpus.evaluate(docs, filed, with_register), seconds, kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures, ok = {}, True
    for with_register in (True, False):
        report, seconds, kinds = run(with_register)
        label = "with register" if with_register else "without register"
        met = not report.misfiled and report.auto_rate >= AUTO_TARGET and report.type_accuracy >= TYPE_TARGET
        ok = ok and met
        print(f"\n{label}: {report.documents} documents from {sum(kinds.values())} files in {seconds:.0f} s")
        print(f"  misfiled:        {len(report.misfiled)}   (target 0) {report.misfiled or ''}")
        print(
            f"  filed by itself: {report.auto_filed}/{report.fileable} = {report.auto_rate:.1%}   "
            f"(target >= {AUTO_TARGET:.0%} of those that carry enough identifiers)"
        )
        print(
            f"  type right:      {report.type_right}/{report.documents} = {report.type_accuracy:.1%}   "
            f"(target >= {TYPE_TARGET:.0%})"
        )
        if report.misprinted_created:
            print(f"  wrong MRN printed on the paper, no register to catch it: {report.misprinted_created}")
        for missed in report.missed:
            print(f"  to review: {missed[:220]}")
        print(f"  {'target met' if met else 'TARGET MISSED'}")
        figures[label] = {
            "documents": report.documents,
            "misfiled": report.misfiled,
            "fileable": report.fileable,
            "auto_filed": report.auto_filed,
            "auto_rate": round(report.auto_rate, 3),
            "type_accuracy": round(report.type_accuracy, 3),
            "seconds": round(seconds, 1),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
