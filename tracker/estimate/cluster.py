"""Cluster capacity: peak operations per second of a cluster at each precision, for cluster
thresholds (dense peaks, "without sparsity" as the BIS 2024 test says; methodology §1)."""

from __future__ import annotations

import polars as pl

from tracker.catalog import PRECISIONS, Catalog
from tracker.estimate.hardware import catalog_peak_exprs


def cluster_capacity(clusters: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Adds peak_flop_per_s_<precision> (null where the chip lacks the format) and
    peak_ops_per_s_max (the largest of them, integer formats included)."""
    count = pl.col("accelerator_count").cast(pl.Float64)
    peaks = catalog_peak_exprs(pl.col("accelerator"), catalog)
    per_precision = [(count * peaks[p]).alias(f"peak_flop_per_s_{p}") for p in PRECISIONS]
    return clusters.with_columns(per_precision).with_columns(
        pl.max_horizontal([f"peak_flop_per_s_{p}" for p in PRECISIONS]).alias("peak_ops_per_s_max")
    )
