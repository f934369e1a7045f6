"""``python -m seatlab.report RUN_OR_SWEEP_DIR``: redraw the plots and report.md from the stored CSV/JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seatlab.report.build import build_report
from seatlab.report.collect import ResultsNotFound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seatlab.report", description=__doc__)
    parser.add_argument("directory", type=Path, help="a run folder (points.csv) or a multirun sweep folder")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory}: not a directory")
    try:
        results = build_report(args.directory)
    except ResultsNotFound as exc:
        print(f"seatlab.report: {exc}", file=sys.stderr)
        return 1
    print(f"{results.directory / 'report.md'}: {len(results.frame)} points, {len(results.jobs)} job(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
