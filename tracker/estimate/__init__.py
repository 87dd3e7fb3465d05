"""Compute estimation: training (hardware, architecture, reported), reconciliation, lineage,
projection, inference and cluster capacity. Pure functions over polars frames."""

from tracker.estimate.engine import (
    METHODOLOGY_VERSION,
    cluster_capacity,
    crossing_date,
    estimate_inference,
    estimate_inference_periods,
    estimate_runs,
    estimate_systems,
)
from tracker.estimate.lineage import LineageCycleError

__all__ = [
    "METHODOLOGY_VERSION",
    "LineageCycleError",
    "cluster_capacity",
    "crossing_date",
    "estimate_inference",
    "estimate_inference_periods",
    "estimate_runs",
    "estimate_systems",
]
