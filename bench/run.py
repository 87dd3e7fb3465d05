"""`python -m bench.run --sizes 1,10,100 [--only NAME]`: run the benchmarks, print a table and write
``bench/results/<name>.json`` (contract §5). ``--sizes`` are scales of each benchmark's x1 size.

``--child SPEC`` is internal: one measurement in a fresh process (see ``bench.common``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from typing import Any

from bench import common

BENCHMARKS: dict[str, str] = {
    "evaluate": "bench.evaluate",
    "store": "bench.store",
    "ingest-usage": "bench.ingest_usage",
    "alert-latency": "bench.alert_latency",
    "alert-latency-api": "bench.alert_latency_api",
    "dashboard": "bench.dashboard",
    "nightly": "bench.nightly",
}


def _scales(text: str) -> list[int]:
    scales = sorted({int(s) for s in text.split(",") if s.strip()})
    bad = [s for s in scales if s not in (1, 10, 100)]
    if bad:
        raise argparse.ArgumentTypeError(f"sizes must be among 1, 10, 100; got {bad}")
    return scales


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "-"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


QUICK_NOTE = ("quick check: each benchmark at its smallest size only. Its ratios are NOT compared with the "
              "targets (fixed costs dominate at this size); `make bench` judges them.")


def table(results: list[dict[str, Any]], *, judged: bool = True) -> str:
    """One line per benchmark and size, from the written result files; ``judged`` False (a quick
    check) leaves the target columns out."""
    header = (f"{'benchmark':14s} {'size':>11s} {'ours s':>9s} {'base s':>9s} {'ratio':>7s} {'target':>7s} "
              f"{'peak MB':>8s}  met")
    lines = [header, "-" * len(header)]
    for result in results:
        path = common.RESULTS_DIR / f"{result['name']}.json"
        document = json.loads(path.read_text())
        for run in document["runs"]:
            lines.append(
                f"{document['name']:14s} {run['size']:>11,} {_fmt(run.get('seconds_median')):>9s} "
                f"{_fmt(run.get('baseline_seconds_median')):>9s} {_fmt(run.get('ratio'), '.2f'):>7s} "
                f"{_fmt(document.get('target_ratio') if judged else None, '.2f'):>7s} "
                f"{_fmt(run.get('peak_rss_mb'), '.0f'):>8s}  "
                + (("yes" if run.get("meets_target", document["meets_target"]) else "NO") if judged else "-")
            )
            for line in run.get("table_notes", []):
                lines.append(f"{'':14s} {line}")
        if judged:
            lines.append(f"{'':14s} -> meets_target: {document['meets_target']}  ({document.get('target', '')})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_scales, default=[1], help="comma-separated scales: 1,10,100")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), help="run only this benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="smallest size only, targets not judged; results go to bench/work/quick-results "
                             "(BENCH_RESULTS_DIR overrides) so the full run's files are kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        common.child_main(args.child)
        return 0
    if args.quick:
        args.sizes = [1]
        if not os.environ.get("BENCH_RESULTS_DIR"):
            common.RESULTS_DIR = common.WORK_DIR / "quick-results"
        print(QUICK_NOTE, flush=True)
    names = args.only or list(BENCHMARKS)
    results = []
    failed = []
    started = time.monotonic()
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        t0 = time.monotonic()
        try:
            results.append(module.run(args.sizes, log=lambda m: print(m, flush=True)))
        except Exception as exc:
            failed.append(name)
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        print(f"{name}: {time.monotonic() - t0:.0f} s", flush=True)
    print()
    if results:
        print(table(results, judged=not args.quick))
    if args.quick:
        print(f"\n{QUICK_NOTE}")
    print(f"\ntotal {time.monotonic() - started:.0f} s; results in {common.RESULTS_DIR}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
