"""alert-latency-api: the API path of ``bench.alert_latency`` (HTTP response -> webhook), its own
result file ``bench/results/alert-latency-api.json`` (``--only alert-latency-api``)."""

from __future__ import annotations

from typing import Any

from bench.alert_latency import API_NAME, run_api

NAME = API_NAME


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    return run_api(scales, log)
