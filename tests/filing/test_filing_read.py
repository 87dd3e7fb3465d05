"""Readers and validation as pure functions: bytes in, typed frames or problems out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.filing.kinds import KINDS, TRAINING_RUNS, json_schema
from tracker.filing.parse import parse_disclosure
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import detect_format

TEMPLATES = Path(__file__).resolve().parents[2] / "data" / "templates"


def problems_of(content: bytes, filename: str = "f.csv", kind: str | None = "training_runs") -> list[str]:
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure(content, filename, kind)
    return [str(p) for p in caught.value.problems]


def test_problem_lines_follow_the_contract() -> None:
    assert str(Problem(14, "accelerator_count", "-8 is negative")) == "row 14, accelerator_count: -8 is negative"
    assert str(Problem(3, None, "no compute method")) == "row 3: no compute method"
    assert str(Problem.header("unknown column 'x'")) == "header: unknown column 'x'"
    assert str(Problem.file("the file is empty")) == "file: the file is empty"


def test_every_problem_is_reported_at_once_with_rows_counted_from_the_first_record() -> None:
    content = (
        b"system,run_id,accelerator,accelerator_count,training_hours,utilization\n"
        b"a,r1,H100,1000,100,0.4\n"
        b"a,r2,H100,-8,100,0.4\n"
        b"\n"  # a blank line is skipped but still counted
        b"a,r3,H100,1000,100,1.5\n"
    )
    assert problems_of(content) == [
        "row 2, accelerator_count: -8 is negative; expected a whole number >= 1",
        "row 4, utilization: 1.5 is above 1; expected a number in (0, 1]",
    ]


def test_columns_match_case_insensitively_in_any_order_and_optional_ones_may_be_left_out() -> None:
    parsed = parse_disclosure(b"Reported_FLOP,RUN_ID, System \n1e24,r1,acme\n", "f.csv", "training_runs")
    row = parsed.records.row(0, named=True)
    assert (row["system"], row["run_id"], row["reported_flop"]) == ("acme", "r1", 1e24)
    assert (row["stage"], row["status"], row["version"]) == ("pretraining", "completed", "")


def test_accelerator_aliases_resolve_to_the_catalog_name() -> None:
    parsed = parse_disclosure(b"system,run_id,accelerator,chip_hours\na,r1,h100-sxm5,1e6\n", "f.csv",
                              "training_runs")
    assert parsed.records["accelerator"].to_list() == ["NVIDIA H100 SXM5"]


def test_formula_like_and_html_text_is_kept_verbatim() -> None:
    content = b'system,run_id,reported_flop,notes\n<script>x</script>,=1+1,1e24,"@SUM(A1)"\n+a,-b,2e24,\n'
    records = parse_disclosure(content, "f.csv", "training_runs").records
    assert records["system"].to_list() == ["<script>x</script>", "+a"]
    assert records["run_id"].to_list() == ["=1+1", "-b"]
    assert records["notes"].to_list() == ["@SUM(A1)", None]


def test_not_utf8_names_the_byte_offset_and_line() -> None:
    content = "system,run_id,reported_flop\nok,r1,1e24\nModèle,r2,1e24\n".encode("latin-1")
    (line,) = problems_of(content)
    assert line.startswith("file: text is not UTF-8: byte 0xe8 at byte offset 42 (line 3, data row 2")


def test_json_envelope_supplies_the_kind_and_numbers_keep_their_text() -> None:
    doc = {"schema_version": 1, "kind": "clusters",
           "records": [{"cluster_id": "c1", "accelerator": "A100", "accelerator_count": 8}]}
    parsed = parse_disclosure(json.dumps(doc).encode(), "c.json", None)
    assert parsed.kind.name == "clusters"
    assert parsed.records["accelerator_count"].to_list() == [8.0]


def test_xlsx_reads_the_first_sheet_with_date_cells(binary_corpus: Path) -> None:
    parsed = parse_disclosure((binary_corpus / "valid" / "training.xlsx").read_bytes(), "t.xlsx", "training_runs")
    row = parsed.records.row(0, named=True)
    assert str(row["start_date"]) == "2025-01-01" and row["accelerator_count"] == 16384.0


def test_usage_rows_of_one_period_are_summed(binary_corpus: Path) -> None:
    parsed = parse_disclosure((binary_corpus / "valid" / "usage.parquet").read_bytes(), "u.parquet",
                              "inference_usage")
    assert parsed.rows_read == 3
    (row,) = parsed.records.to_dicts()
    assert row["input_tokens"] == 6e12 and row["output_tokens"] == 4e11 and row["requests"] == 60
    assert row["rows"] == 3


def test_format_detection_falls_back_to_content() -> None:
    assert detect_format(b"PAR1....", "upload") == "parquet"
    assert detect_format(b"PK\x03\x04", "upload") == "xlsx"
    assert detect_format(b"\xef\xbb\xbf [{}]", "upload") == "json"
    assert detect_format(b"system,run_id", "upload") == "csv"


def test_problems_are_capped_with_a_note() -> None:
    rows = "".join(f"a,r{i},H100,-1,100\n" for i in range(500))
    lines = problems_of(("system,run_id,accelerator,accelerator_count,training_hours\n" + rows).encode())
    assert len(lines) == 201
    assert lines[0] == "file: more problems not shown; the first 200 are listed"


@pytest.mark.parametrize("kind", list(KINDS))
def test_templates_are_valid_and_carry_every_column(kind: str) -> None:
    path = TEMPLATES / f"{kind}.csv"
    header = path.read_text().splitlines()[0].split(",")
    assert header == KINDS[kind].names
    assert parse_disclosure(path.read_bytes(), path.name, kind).rows_read == 1


def test_json_schema_is_generated_from_the_column_spec() -> None:
    schema = json_schema(TRAINING_RUNS)
    record = schema["$defs"]["record"]
    assert record["required"] == ["system", "run_id"]
    assert record["additionalProperties"] is False
    assert record["properties"]["utilization"]["maximum"] == 1
    assert record["properties"]["stage"]["enum"][:2] == ["pretraining", "fine_tuning"]
    assert set(record["properties"]) == set(TRAINING_RUNS.names)


# --- property-based: nothing but a rejection escapes a reader ---------------------------------

FORMATS = ["f.csv", "f.json", "f.parquet", "f.xlsx", "upload"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=300), filename=st.sampled_from(FORMATS),
       kind=st.sampled_from([None, *KINDS, "bogus"]))
def test_arbitrary_bytes_are_accepted_or_rejected_never_crash(content: bytes, filename: str,
                                                              kind: str | None) -> None:
    for data in (content, b"PK\x03\x04" + content, b"PAR1" + content + b"PAR1"):
        try:
            parse_disclosure(data, filename, kind)
        except DisclosureRejected as exc:
            assert exc.problems


_CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.lists(_CELL, min_size=5, max_size=5), min_size=1, max_size=5),
       fmt=st.sampled_from(["csv", "json", "parquet", "xlsx"]))
def test_arbitrary_cell_text_is_accepted_or_rejected_never_crash(cells: list[list[str]], fmt: str) -> None:
    header = ["system", "run_id", "accelerator", "accelerator_count", "start_date"]
    frame = pl.DataFrame(cells, schema=header, orient="row")
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.write_csv(buffer)
    elif fmt == "json":
        buffer.write(json.dumps(frame.to_dicts()).encode())
    elif fmt == "parquet":
        frame.write_parquet(buffer)
    else:
        frame.write_excel(buffer)
    try:
        parse_disclosure(buffer.getvalue(), f"f.{fmt}", "training_runs")
    except DisclosureRejected as exc:
        assert exc.problems
