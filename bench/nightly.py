"""`python -m bench.nightly [--systems N] [--backend postgresql|sqlite]`: the whole nightly job on a
generated registry: ``run_evaluation`` (read the records, re-estimate, evaluate, write estimates,
flags, history, discrepancies and alerts in one transaction), timed once.

Not one of the five contract benchmarks and not part of ``make bench`` (it has no baseline of its
own: its parts are the `evaluate` and `store` benchmarks); it measures what they leave out, the
writers around them, which at registry scale were the slow part (bench/README.md, results at commit 55c0828).
The database is created and dropped here (PostgreSQL: ``tracker_bench_nightly``; SQLite: a file
in the work directory).
"""

from __future__ import annotations

import argparse
import time

from bench import common, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=100_000)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()

    from tracker.registry.pipeline import run_evaluation
    from tracker.store.db import make_engine

    if args.backend == "postgresql":
        url = common.pg_create("tracker_bench_nightly")
    else:
        path = common.work_dir("nightly") / "nightly.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    try:
        started = time.perf_counter()
        generate.populate_registry(url, args.systems, generate.AS_OF, evaluate="none")
        print(f"filed {args.systems:,} systems in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        started = time.perf_counter()
        summary = run_evaluation(engine, generate.AS_OF, actor="bench")
        print(f"run_evaluation: {time.perf_counter() - started:.1f} s; {summary.line()}")
        engine.dispose()
    finally:
        if args.backend == "postgresql":
            common.pg_drop("tracker_bench_nightly")
        else:
            common.clean_work_dir("nightly")


if __name__ == "__main__":
    main()
