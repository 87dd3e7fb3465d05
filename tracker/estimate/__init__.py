"""Compute estimation: training (hardware, architecture, reported), reconciliation, lineage,
projection, inference and cluster capacity. Pure functions over polars frames."""

from tracker.estimate.cluster import cluster_capacity
from tracker.estimate.engine import METHODOLOGY_VERSION, estimate_runs, estimate_systems
from tracker.estimate.inference import estimate_inference, estimate_inference_periods
from tracker.estimate.lineage import LineageCycleError
from tracker.estimate.projection import crossing_date

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
