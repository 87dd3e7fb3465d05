"""Measure the p95 of sign-in (``GET /login``) and of the systems grid under the 50-client load,
alone and with four hostile uploads alongside (issue 15: four heavy uploads made ``GET /login``
wait 33 s). Not a timed test: it runs both variants of tests/reliability/test_load.py and prints
the figures from their artifacts.

Usage: TRACKER_TEST_POSTGRES_URL=postgresql+psycopg://... python tests/reliability/measure_hostile_load.py [SECONDS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
OPERATIONS = ("GET /login", "grid callback", "file")


def run(seconds: str) -> int:
    env = {**os.environ, "TRACKER_LOAD_SECONDS": seconds}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly",
                           "tests/reliability/test_load.py"], cwd=ROOT, env=env, check=False).returncode


def main() -> None:
    seconds = sys.argv[1] if len(sys.argv) > 1 else "60"
    code = run(seconds)
    rows = []
    for label, name in (("alone", "load.json"), ("with 4 hostile uploads", "load-hostile.json")):
        report = json.loads((ARTIFACTS / name).read_text())
        ops = report["by_operation"]
        rows.append((label, *[ops.get(op, {}).get("p95_ms") for op in OPERATIONS], report["throughput_rps"]))
    print(f"\n{'':<24}" + "".join(f"{op + ' p95 ms':>20}" for op in OPERATIONS) + f"{'requests/s':>12}")
    for label, *figures, rps in rows:
        print(f"{label:<24}" + "".join(f"{f:>20}" for f in figures) + f"{rps:>12}")
    alone, hostile = rows
    for i, op in enumerate(OPERATIONS, start=1):
        if alone[i] and hostile[i]:
            print(f"{op}: {hostile[i] / alone[i]:.2f}x with the hostile uploads")
    sys.exit(code)


if __name__ == "__main__":
    main()
