import polars as pl
import pytest

from tracker.catalog import PRECISIONS
from tracker.estimate import cluster_capacity


def test_cluster_peaks_per_precision(catalog) -> None:
    clusters = pl.DataFrame(
        {
            "cluster_key": ["colossus", "pod"],
            "accelerator": ["NVIDIA H100 SXM5", "Google TPU v4"],
            "accelerator_count": [100_000, 4096],
        }
    )
    out = cluster_capacity(clusters, catalog).sort("cluster_key")
    colossus = out.row(0, named=True)
    assert colossus["peak_flop_per_s_bf16"] == pytest.approx(9.894e19)
    assert colossus["peak_flop_per_s_fp8"] == pytest.approx(1.9789e20)
    assert colossus["peak_ops_per_s_max"] == pytest.approx(1.9789e20)
    pod = out.row(1, named=True)
    assert pod["peak_flop_per_s_fp8"] is None  # TPU v4 has no FP8 units
    assert pod["peak_ops_per_s_max"] == pytest.approx(4096 * 275e12)
    assert all(f"peak_flop_per_s_{p}" in out.columns for p in PRECISIONS)
