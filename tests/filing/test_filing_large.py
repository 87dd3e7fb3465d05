"""The streaming path for large usage CSVs: same rules, aggregated per system and period."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.filing.parse import parse_disclosure, parse_disclosure_file
from tracker.filing.problems import DisclosureRejected
from tracker.filing.receipts import Receipt
from tracker.filing.service import file_disclosure
from tracker.store.models import InferenceUsage

ROWS = 300_000


def usage_frame(rows: int) -> pl.DataFrame:
    i = pl.int_range(0, rows, eager=True)
    return pl.DataFrame({"i": i}).select(
        system=pl.format("sys-{}", pl.col("i") % 7),
        version=pl.lit("1"),
        period_start=pl.format("2026-{}-01", (pl.col("i") % 3 + 1).cast(pl.String).str.zfill(2)),
        period_end=pl.format("2026-{}-28", (pl.col("i") % 3 + 1).cast(pl.String).str.zfill(2)),
        segment=pl.format("shard-{}", pl.col("i")),
        input_tokens=(pl.col("i") % 1000).cast(pl.Float64),
        output_tokens=(pl.col("i") % 10).cast(pl.Float64),
        requests=pl.lit(2),
        accelerator=pl.lit("H100"),
        accelerator_hours=pl.lit(0.5),
    )


@pytest.fixture(scope="module")
def usage_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    frame = usage_frame(ROWS)
    path = tmp_path_factory.mktemp("large") / "usage.csv"
    frame.write_csv(path)
    return path, frame


def test_streamed_aggregation_matches_a_direct_computation(usage_csv: tuple[Path, pl.DataFrame]) -> None:
    path, frame = usage_csv
    parsed = parse_disclosure_file(path, "usage.csv", "inference_usage", large_file_bytes=0)
    expected = (
        frame.group_by("system", "period_start")
        .agg(pl.col("input_tokens").sum(), pl.col("output_tokens").sum(), pl.col("requests").sum(),
             pl.col("accelerator_hours").sum(), pl.len().alias("rows"))
        .sort("system", "period_start")
    )
    got = parsed.records.with_columns(pl.col("period_start").cast(pl.String)).sort("system", "period_start")
    assert parsed.rows_read == ROWS and got.height == 21
    for column in ("input_tokens", "output_tokens", "requests", "accelerator_hours"):
        assert got[column].to_list() == pytest.approx(expected[column].cast(pl.Float64).to_list())
    assert got["rows"].to_list() == expected["rows"].to_list()
    assert set(got["accelerator"]) == {"NVIDIA H100 SXM5"}


def test_problems_deep_in_a_streamed_file_name_their_rows(tmp_path: Path) -> None:
    frame = usage_frame(50_000).with_columns(
        input_tokens=pl.when(pl.int_range(0, pl.len()) == 41_999).then(-5.0).otherwise(pl.col("input_tokens")),
    )
    frame = pl.concat([frame, frame.slice(10, 1)])  # row 50001 repeats row 11's identity
    path = tmp_path / "usage.csv"
    frame.write_csv(path)
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure_file(path, "usage.csv", "inference_usage", large_file_bytes=0)
    lines = [str(p) for p in caught.value.problems]
    assert "row 42000, input_tokens: -5.0 is negative; expected a finite number >= 0" in lines
    assert any(line.startswith("row 50001: repeats system 'sys-3'") and "(first at row 11)" in line
               for line in lines)


def test_a_streamed_file_that_is_not_utf8_names_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_bytes(b"system,period_start,period_end,output_tokens\n" + b"a,2026-01-01,2026-01-02,1\n" * 1000
                     + b"\xff\n")
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure_file(path, "usage.csv", "inference_usage", large_file_bytes=0)
    assert [str(p) for p in caught.value.problems] == [
        "file: text is not UTF-8: byte 0xff at byte offset 26045 (line 1002, data row 1001 when no cell spans "
        "lines); expected UTF-8 text (in Excel: Save As 'CSV UTF-8')"]
    with pytest.raises(DisclosureRejected) as uploaded:
        parse_disclosure(path.read_bytes(), "usage.csv", "inference_usage")
    assert uploaded.value.problems == caught.value.problems


def test_filing_a_large_file_stores_the_aggregate_atomically(engine: Engine,
                                                             usage_csv: tuple[Path, pl.DataFrame]) -> None:
    path, _ = usage_csv
    receipt = file_disclosure(engine, content=path, filename="usage.csv", kind="inference_usage",
                              provider_slug="acme", filed_by="test", channel="cli")
    assert isinstance(receipt, Receipt) and receipt.records == 21
    with Session(engine) as session:
        rows = session.exec(select(InferenceUsage)).all()
        assert len(rows) == 21
        assert sum(r.requests or 0 for r in rows) == 2 * ROWS


def test_a_parquet_file_on_disk_is_filed_as_its_bytes_would_be(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    usage_frame(50_000).write_parquet(path)
    from_disk = file_disclosure(engine, content=path, filename="usage.parquet", kind="inference_usage",
                                provider_slug="acme", filed_by="test", channel="inbox")
    uploaded = file_disclosure(engine, content=path.read_bytes(), filename="usage.parquet", kind="inference_usage",
                               provider_slug="acme", filed_by="test", channel="api")
    assert isinstance(from_disk, Receipt) and from_disk.records == 21 and from_disk.format == "parquet"
    assert isinstance(uploaded, Receipt) and uploaded.duplicate and uploaded.accession == from_disk.accession
    with Session(engine) as session:
        assert sum(r.requests or 0 for r in session.exec(select(InferenceUsage)).all()) == 2 * 50_000
