"""``python -m seatlab.compare A B [--fail-if-slower PCT] [--plot FILE]``.

Exit status: 0 compared (and the gate, if asked, passed); 1 the gate failed: a matched point's
throughput in B is significantly slower than in A by more than PCT percent; 2 bad usage or input (a
folder without points.csv, a points.csv of another schema), named on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seatlab.compare.match import BadInput, load_side, match
from seatlab.compare.table import compare, gate, gate_text, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seatlab.compare", description=__doc__)
    parser.add_argument("a", type=Path, help="the reference: a run folder (points.csv) or a multirun folder")
    parser.add_argument("b", type=Path, help="the run compared with it (ratios are B/A)")
    parser.add_argument(
        "--fail-if-slower",
        type=float,
        metavar="PCT",
        help="exit 1 if a matched point's throughput in B is significantly slower than A by more than PCT%%",
    )
    parser.add_argument("--plot", type=Path, metavar="FILE", help="draw both runs on one figure (PNG)")
    args = parser.parse_args(argv)
    if args.fail_if_slower is not None and not 0 <= args.fail_if_slower < 100:
        parser.error("--fail-if-slower: a percentage from 0 to 100")
    try:
        a, b = load_side(args.a, "A"), load_side(args.b, "B")
    except BadInput as exc:
        print(f"seatlab.compare: {exc}", file=sys.stderr)
        return 2
    matching = match(a, b)
    rows = compare(matching)
    print(render(a, b, matching, rows))
    if args.plot is not None:
        from seatlab.compare.plot import plot_compare

        print(f"Plot: {plot_compare(a, b, matching, args.plot)}")
    if args.fail_if_slower is None:
        return 0
    failing, unjudged = gate(rows, args.fail_if_slower)
    print(gate_text(failing, unjudged, args.fail_if_slower))
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
