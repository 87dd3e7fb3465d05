from pathlib import Path

import polars as pl
import pytest

from tracker.catalog import (
    PEAK_COLUMNS,
    PRECISIONS,
    UnknownAcceleratorError,
    fallback_chain,
    load_catalog,
)

REQUIRED = [
    "NVIDIA V100 SXM2",
    "NVIDIA A100 SXM4 40GB",
    "NVIDIA A100 SXM4 80GB",
    "NVIDIA H100 SXM5",
    "NVIDIA H100 PCIe",
    "NVIDIA H800 SXM5",
    "NVIDIA H200 SXM",
    "NVIDIA GH200",
    "NVIDIA B200",
    "NVIDIA GB200",
    "AMD Instinct MI250X",
    "AMD Instinct MI300X",
    "AMD Instinct MI325X",
    "Google TPU v3",
    "Google TPU v4",
    "Google TPU v5e",
    "Google TPU v5p",
    "Google TPU v6e",
    "Intel Gaudi 2",
    "Intel Gaudi 3",
    "AWS Trainium",
    "AWS Trainium2",
    "Huawei Ascend 910B",
]


def test_catalog_has_every_required_chip_with_a_source() -> None:
    catalog = load_catalog()
    names = set(catalog.names)
    assert set(REQUIRED) <= names
    assert catalog.frame["source"].str.len_chars().min() > 20  # type: ignore[operator]
    assert catalog.frame["accelerator"].n_unique() == catalog.frame.height


def test_every_row_has_a_trainable_peak() -> None:
    frame = load_catalog().frame
    fallbacks = pl.coalesce([pl.col(PEAK_COLUMNS[p]) for p in ("bf16", "tf32", "fp16", "fp32")])
    assert frame.select(fallbacks.is_null().sum()).item() == 0


def test_dense_not_sparse_peaks() -> None:
    catalog = load_catalog()
    # Dense H100 SXM BF16 is 989.4 TFLOP/s; the sparse headline is 1979 (methodology §9).
    assert catalog.peak_flop_per_s("H100", "bf16") == (989.4e12, "bf16")
    assert catalog.peak_flop_per_s("H100 PCIe", "bf16") == (756e12, "bf16")
    assert catalog.peak_flop_per_s("A100", "bf16") == (312e12, "bf16")
    assert catalog.peak_flop_per_s("B200", "fp8") == (4500e12, "fp8")
    assert catalog.peak_flop_per_s("MI300X", "fp8") == (2614.9e12, "fp8")
    assert catalog.peak_flop_per_s("TPU v4", "bf16") == (275e12, "bf16")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("NVIDIA H100 SXM5 80GB", "NVIDIA H100 SXM5"),
        ("H100-SXM", "NVIDIA H100 SXM5"),
        ("h100 sxm", "NVIDIA H100 SXM5"),
        ("H100", "NVIDIA H100 SXM5"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5"),
        ("TPUv4", "Google TPU v4"),
        ("Google TPU v4", "Google TPU v4"),
        ("A100 40GB", "NVIDIA A100 SXM4 40GB"),
        ("A100", "NVIDIA A100 SXM4 40GB"),
        ("NVIDIA A100 SXM4 80 GB", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA Tesla V100 DGXS 32 GB", "NVIDIA V100 SXM2"),
        ("Ascend (昇腾) 910B", "Huawei Ascend 910B"),
        ("Trillium", "Google TPU v6e"),
        ("gb200 nvl72", "NVIDIA GB200"),
    ],
)
def test_aliases_resolve(written: str, canonical: str) -> None:
    assert load_catalog().resolve(written) == canonical


def test_unknown_name_suggests_closest() -> None:
    catalog = load_catalog()
    with pytest.raises(UnknownAcceleratorError) as info:
        catalog.resolve("H10")
    assert info.value.name == "H10"
    assert 1 <= len(info.value.suggestions) <= 3
    assert "NVIDIA H100 SXM5" in info.value.suggestions
    assert isinstance(info.value, ValueError)
    assert catalog.try_resolve("Quantum Abacus 9000") is None
    assert catalog.try_resolve("") is None


def test_resolve_series_maps_unknown_to_null() -> None:
    out = load_catalog().resolve_series(pl.Series("acc", ["H100", None, "nope", "TPUv4", "H100"]))
    assert out.to_list() == [
        "NVIDIA H100 SXM5",
        None,
        None,
        "Google TPU v4",
        "NVIDIA H100 SXM5",
    ]
    assert out.name == "acc"


def test_precision_fallback_order() -> None:
    catalog = load_catalog()
    assert fallback_chain("fp8") == ("fp8", "bf16", "tf32", "fp16", "fp32")
    assert fallback_chain("fp4") == ("fp4", "fp8", "bf16", "tf32", "fp16", "fp32")
    # V100 has no BF16 or TF32: BF16 falls back to the FP16 tensor peak (125 TFLOP/s).
    assert catalog.peak_flop_per_s("V100", "bf16") == (125e12, "fp16")
    # TPU v4 has no FP8 units: BF16.
    assert catalog.peak_flop_per_s("TPUv4", "fp8") == (275e12, "bf16")
    # Kepler has only FP32.
    assert catalog.peak_flop_per_s("K80", "bf16") == (8.13e12, "fp32")
    with pytest.raises(ValueError, match="unknown precision"):
        catalog.peak_flop_per_s("H100", "fp12")


def test_precisions_constant_and_long_form() -> None:
    catalog = load_catalog()
    assert PRECISIONS == ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")
    long = catalog.peaks_long()
    h100 = long.filter(pl.col("accelerator") == "NVIDIA H100 SXM5")
    assert dict(zip(h100["precision"], h100["peak_flop_per_s"], strict=True))["fp8"] == 1978.9e12


def test_load_catalog_is_cached_and_path_overridable(tmp_path: Path) -> None:
    assert load_catalog() is load_catalog()
    csv = tmp_path / "acc.csv"
    header = ",".join(
        ["accelerator", "vendor", "year", *PEAK_COLUMNS.values(), "memory_gb", "tdp_w", "aliases", "source"]
    )
    csv.write_text(header + "\nToy X1,Toy,2030,,1e12,,2e12,,,,,8,100,X1;toy-x1,https://example.org/x1\n")
    toy = load_catalog(csv)
    assert toy.resolve("TOY-X1") == "Toy X1"
    assert toy.peak_flop_per_s("x1", "fp8") == (2e12, "bf16")
