"""The filing pipeline as a whole: header and row problems in one round, duplicates confirmed on
their values, catalog pointers a provider can follow, and the accelerator catalog route."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from flask.testing import FlaskClient

from tracker.catalog.accelerators import load_catalog
from tracker.config import get_settings
from tracker.filing import screen, validate
from tracker.filing.header import conform
from tracker.filing.kinds import INFERENCE_USAGE
from tracker.filing.parse import parse_disclosure, parse_disclosure_file
from tracker.filing.problems import DisclosureRejected


def problems_of(content: bytes, kind: str | None, filename: str = "file.csv") -> list[str]:
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure(content, filename, kind)
    return [str(p) for p in caught.value.problems]


# --- errors in one round --------------------------------------------------------------------------

def test_a_misspelt_column_is_reported_with_the_row_problems_of_the_columns_that_map() -> None:
    lines = problems_of(b"system,run_id,acclerator,accelerator_count,training_hours,reported_flop\n"
                        b"acme-lm,r1,H100,-8,100,1e24\nacme-lm,r1,H100,8,100,1e24\n", "training_runs")
    assert lines[0].startswith("header: unknown column 'acclerator'; did you mean 'accelerator'?")
    assert lines[1:] == [
        "row 1, accelerator_count: -8 is negative; expected a whole number >= 1",
        "row 2, run_id: 'r1' appears again (first at row 1); expected each run_id once per file",
    ]


def test_an_unknown_extra_column_is_reported_with_the_rows() -> None:
    lines = problems_of(b"system,period_start,period_end,input_tokens,region\n"
                        b"a,2026-01-01,2026-01-31,-1,eu\n", "inference_usage")
    assert lines[0].startswith("header: unknown column 'region'; did you mean 'version'? expected one of system,")
    assert lines[1] == "row 1, input_tokens: -1 is negative; expected a finite number >= 0"


def test_the_rules_of_a_column_an_unknown_name_probably_meant_are_not_run() -> None:
    # Without the accelerator (misspelt), the run has no hardware method: saying so would send the
    # provider after a problem that fixing the header already fixes.
    lines = problems_of(b"system,run_id,acclerator,accelerator_count,training_hours\n"
                        b"acme-lm,r1,H100,8,100\n", "training_runs")
    assert lines == [next(line for line in lines if line.startswith("header: unknown column 'acclerator'"))]


@pytest.mark.parametrize(("content", "kind", "only"), [
    (b"system,accelerator_count\nacme-lm,-8\n", "training_runs", "header: missing required column run_id"),
    (b"system,run_id,accelerator_count\nacme-lm,r1,-8\n", "weights", "file: unknown kind 'weights'"),
])
def test_a_header_that_cannot_be_mapped_is_reported_alone(content: bytes, kind: str, only: str) -> None:
    lines = problems_of(content, kind)
    assert len(lines) == 1 and lines[0].startswith(only)


# --- duplicates are confirmed on their values --------------------------------------------------------

USAGE = (b"system,period_start,period_end,segment,input_tokens,accelerator,accelerator_hours\n"
         b"a,2026-01-01,2026-01-31,eu,10,H100,1\n"
         b"a,2026-01-01,2026-01-31,us,20,H100,2\n"
         b"b,2026-01-01,2026-01-31,eu,30,,\n")


def _colliding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every identity hashes to 0, in both passes: a 64-bit collision on every pair of rows."""
    monkeypatch.setattr(validate, "identity_hash", lambda kind: pl.lit(0, dtype=pl.UInt64).alias("__key"))
    monkeypatch.setattr(screen, "identity_hash", lambda schema: pl.lit(0, dtype=pl.UInt64).alias("__identity"))


@pytest.mark.parametrize("large_file_bytes", [0, 1 << 30])
def test_a_hash_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch, large_file_bytes: int) -> None:
    expected = parse_disclosure(USAGE, "usage.csv", "inference_usage").records
    _colliding(monkeypatch)
    parsed = parse_disclosure(USAGE, "usage.csv", "inference_usage", large_file_bytes=large_file_bytes)
    assert parsed.rows_read == 3
    assert parsed.records.equals(expected)


def test_a_real_repeat_among_collisions_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _colliding(monkeypatch)
    lines = problems_of(USAGE + b"a,2026-01-01,2026-01-31, us ,5,H100,1\n", "inference_usage")
    assert lines == ["row 4: repeats system 'a' version '' period 2026-01-01 to 2026-01-31 segment 'us' (first at "
                     "row 2); expected one row per system, version, period and segment"]


def test_training_run_ids_colliding_in_the_hash_are_filed(monkeypatch: pytest.MonkeyPatch) -> None:
    _colliding(monkeypatch)
    parsed = parse_disclosure(b"system,run_id,reported_flop\na,r1,1e24\na,r2,1e24\n", "runs.csv", "training_runs")
    assert parsed.records.get_column("run_id").to_list() == ["r1", "r2"]


# --- the accelerator catalog ----------------------------------------------------------------------

@pytest.fixture
def client(settings_env: Path) -> FlaskClient:
    from tracker.web.server import create_server

    return create_server(get_settings()).test_client()


def test_an_unknown_accelerator_points_at_the_catalog_the_provider_can_read(client: FlaskClient) -> None:
    lines = problems_of(b"cluster_id,accelerator,accelerator_count\nc1,H100X,8\n", "clusters")
    assert len(lines) == 1 and "data/accelerators.csv" not in lines[0]
    assert lines[0].endswith("expected a catalog name or alias (see the accelerator catalog: GET /api/v1/accelerators)")
    listed = {row["accelerator"] for row in client.get("/api/v1/accelerators").get_json()["accelerators"]}
    suggested = re.findall(r"'([^']+)'", lines[0].split("did you mean ")[1].split("?")[0])
    assert "NVIDIA H100 SXM5" in suggested and set(suggested) <= listed


def test_the_catalog_is_public_and_read_only(client: FlaskClient) -> None:
    answer = client.get("/api/v1/accelerators")
    assert answer.status_code == 200 and answer.headers["Cache-Control"].startswith("public")
    body = answer.get_json()
    catalog = load_catalog()
    assert body["count"] == len(body["accelerators"]) == catalog.frame.height
    h100 = next(row for row in body["accelerators"] if row["accelerator"] == "NVIDIA H100 SXM5")
    assert "H100" in h100["aliases"] and h100["bf16_flop_per_s"] == catalog.peak_flop_per_s("H100", "bf16")[0]
    forged = client.get("/api/v1/accelerators", headers={"Authorization": "Bearer ctt_forged"})
    assert forged.status_code == 200 and forged.get_json() == body  # no token needed, none trusted
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/api/v1/accelerators", json={"accelerator": "X"}).status_code == 405


def test_a_streamed_file_and_its_bytes_file_alike(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_bytes(USAGE)
    from_path = parse_disclosure_file(path, path.name, "inference_usage", large_file_bytes=0)
    from_bytes = parse_disclosure(USAGE, path.name, "inference_usage", large_file_bytes=0)
    assert from_path.records.equals(from_bytes.records) and from_path.rows_read == from_bytes.rows_read == 3


# --- the fast pass hands the message pass its suspects ------------------------------------------------

def test_the_fast_pass_names_the_rows_and_keys_the_message_pass_words() -> None:
    rows = [f"s{i % 3},2026-01-01,2026-01-31,seg-{i},{i},H100,1" for i in range(1, 61)]
    rows[41] = "s0,2026-01-01,2026-01-31,seg-42,-5,H100,1"  # row 42: a rule of its own cells
    rows[9] = "s1,2026-01-01,2026-01-31,seg-10,10,Z9000,1"  # row 10: a key rule (unknown accelerator)
    content = ("system,period_start,period_end,segment,input_tokens,accelerator,accelerator_hours\n"
               + "\n".join(rows) + "\n").encode()
    read = pl.read_csv(content, infer_schema=False)
    text = conform(read.columns, read.lazy(), INFERENCE_USAGE).frame
    verdict = screen.screen_usage(text, load_catalog())
    assert isinstance(verdict, screen.Suspects) and verdict.rows == [42]
    assert verdict.keys.rows() == [("s1", "", "2026-01-01", "2026-01-31", "Z9000")]
    assert verdict.of(text).collect().get_column("row").to_list() == [10, 42]
    lines = problems_of(content, "inference_usage")
    assert [line.split(":")[0] for line in lines] == ["row 10, accelerator", "row 42, input_tokens"]


@pytest.mark.parametrize("read_once", [False, True])
def test_a_segment_breaking_a_rule_makes_its_rows_suspects(read_once: bool) -> None:
    rows = [f"s{i % 3},2026-01-01,2026-01-31,seg-{i},{i},H100,1" for i in range(1, 61)]
    rows[12] = "s1,2026-01-01,2026-01-31,seg\u200b-6,13,H100,1"  # row 13: checked once per distinct segment
    content = ("system,period_start,period_end,segment,input_tokens,accelerator,accelerator_hours\n"
               + "\n".join(rows) + "\n").encode()
    read = pl.read_csv(content, infer_schema=False)
    text = conform(read.columns, read.lazy(), INFERENCE_USAGE).frame
    verdict = screen.screen_usage(text, load_catalog(), read_once=read_once)
    assert isinstance(verdict, screen.Suspects) and verdict.rows == [] and verdict.segments == ["seg\u200b-6"]
    assert verdict.of(text).collect().get_column("row").to_list() == [13]
    assert [line.split(":")[0] for line in problems_of(content, "inference_usage")] == ["row 13, segment"]


def test_the_fast_pass_vouches_only_for_a_read_seen_row_for_row() -> None:
    read = pl.read_csv(USAGE, infer_schema=False)
    text = conform(read.columns, read.lazy(), INFERENCE_USAGE).frame
    assert isinstance(screen.screen_usage(text, load_catalog(), read_once=True), screen.Screened)
    with pytest.MonkeyPatch.context() as patch:  # a batch the tap never saw: its hashes are missing
        patch.setattr(screen._Tap, "facts", lambda tap: screen._RowFacts(
            pl.concat(tap.hashes).head(-1), tap.segments.distinct, []))
        assert screen.screen_usage(text, load_catalog(), read_once=True) is None
