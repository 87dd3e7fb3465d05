"""Look-alike names, re-filed old bytes and repeated rejections, through the filing service on both
databases (issue 15)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.filing.conftest import filings
from tracker.filing.parse import parse_disclosure
from tracker.filing.problems import DisclosureRejected
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import FilingError, file_disclosure
from tracker.store.models import AISystem, Alert, AuditEvent, Provider, RejectionRepeat

EXPECTED = ("expected visible text without control characters (such as NUL or a line break), bidi controls or "
            "zero-width characters")


def file(engine: Engine, content: bytes, *, provider: str = "acme", kind: str | None = "training_runs",
         filename: str = "f.csv") -> Receipt | Rejection:
    return file_disclosure(engine, content=content, filename=filename, kind=kind, provider_slug=provider,
                           filed_by="tester", channel="cli")


def runs(system: str, run_id: str = "r1", notes: str = "") -> bytes:
    quoted = '"' + notes.replace('"', '""') + '"'
    return f"system,run_id,reported_flop,notes\n{system},{run_id},1e24,{quoted}\n".encode()


@pytest.mark.parametrize(("system", "where"), [
    ("acme\u202elm", "U+202E at character 5"),  # right-to-left override
    ("acme\u200blm", "U+200B at character 5"),  # zero-width space
    ("acme\x00lm", "U+0000 at character 5"),  # NUL: PostgreSQL refuses it in text
    ("acme\u2066lm", "U+2066 at character 5"),  # left-to-right isolate
    ("\ufeffacme", "U+FEFF at character 1"),  # a byte-order mark inside a cell
])
def test_invisible_characters_in_a_name_are_rejected_with_row_and_column(system: str, where: str) -> None:
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure(runs(system), "f.csv", "training_runs")
    assert [str(p) for p in caught.value.problems] == [f"row 1, system: has {where}; {EXPECTED}"]


def test_every_text_column_of_every_kind_is_checked() -> None:
    cases = {
        "training_runs": b"system,run_id,reported_flop,version,base_system\n"
                         b"a,r\xe2\x80\x8b1,1e24,v\xe2\x80\xae,b\x01\n",
        "inference_usage": b"system,period_start,period_end,input_tokens,segment\n"
                           b"a,2026-01-01,2026-01-31,5,eu\xe2\x80\x8b\n",
        "clusters": b"cluster_id,accelerator,accelerator_count,site\nc\x1b1,H100,8,paris\xe2\x80\x8f\n",
    }
    found = {}
    for kind, content in cases.items():
        with pytest.raises(DisclosureRejected) as caught:
            parse_disclosure(content, "f.csv", kind)
        found[kind] = sorted((p.column, p.message.split(";")[0]) for p in caught.value.problems)
    assert found == {
        "training_runs": [("base_system", "has U+0001 at character 2"), ("run_id", "has U+200B at character 2"),
                          ("version", "has U+202E at character 2")],
        "inference_usage": [("segment", "has U+200B at character 3")],
        "clusters": [("cluster_id", "has U+001B at character 2"), ("site", "has U+200F at character 6")],
    }


def test_notes_keep_line_breaks_and_names_are_compared_in_nfc() -> None:
    parsed = parse_disclosure(runs("e\u0301cole-lm", notes="first line\nsecond line"), "f.csv", "training_runs")
    row = parsed.records.row(0, named=True)
    assert row["system"] == "\u00e9cole-lm" and row["notes"] == "first line\nsecond line"
    # The same name typed composed and decomposed is one system: the run appears twice.
    twice = "system,run_id,reported_flop\n\u00e9cole,r1,1e24\ne\u0301cole,r1,2e24\n".encode()
    with pytest.raises(DisclosureRejected) as caught:
        parse_disclosure(twice, "f.csv", "training_runs")
    assert [str(p) for p in caught.value.problems] == [
        "row 2, run_id: 'r1' appears again (first at row 1); expected each run_id once per file"]


def test_a_nul_in_a_name_gets_a_rejection_receipt_on_every_database(engine: Engine) -> None:
    outcome = file(engine, runs("acme\x00lm"), filename="nul\x00name\u202e.csv", kind="training\x00runs")
    assert isinstance(outcome, Rejection), outcome
    assert [str(p) for p in outcome.errors][-1].startswith("file: unknown kind")
    (stored,) = filings(engine)
    assert (stored.status, stored.kind, stored.filename) == ("rejected", "unknown", "nulname.csv")
    again = file(engine, runs("acme\x00lm"))
    assert isinstance(again, Rejection)
    assert [str(p) for p in again.errors] == [f"row 1, system: has U+0000 at character 5; {EXPECTED}"]
    with Session(engine) as session:
        assert session.exec(select(AISystem)).all() == []


def test_a_slug_with_a_trailing_newline_is_not_a_second_provider(engine: Engine) -> None:
    assert isinstance(file(engine, runs("a")), Receipt)
    for slug in ("acme\n", "acme\u200b", "ACME", " acme"):
        with pytest.raises(FilingError, match="is not valid"):
            file(engine, runs("b"), provider=slug)
    with Session(engine) as session:
        assert [p.slug for p in session.exec(select(Provider)).all()] == ["acme"]


def test_re_filing_bytes_a_later_amendment_superseded_says_so(engine: Engine) -> None:
    original = runs("acme-lm", "r1")
    first = file(engine, original)
    amendment = file(engine, b"system,run_id,reported_flop\nacme-lm,r1,2e24\n")
    assert isinstance(first, Receipt) and isinstance(amendment, Receipt) and amendment.superseded == 1
    again = file(engine, original)
    assert isinstance(again, Receipt) and again.duplicate and again.accession == first.accession
    body = again.to_dict()
    assert body["superseded_by"] == [amendment.accession] and body["current_records"] == 0
    assert body["note"].startswith(f"this filing is not current: all of its records were superseded by later "
                                   f"filing {amendment.accession}")
    # Still current: no note.
    fresh = file(engine, amendment_bytes := b"system,run_id,reported_flop\nacme-lm,r1,2e24\n")
    assert isinstance(fresh, Receipt) and fresh.duplicate and fresh.to_dict()["superseded_by"] == []
    assert fresh.to_dict()["note"] is None and amendment_bytes


def test_identical_rejections_share_one_alert_and_count(engine: Engine) -> None:
    bad = b"system,run_id,reported_flop\nacme-lm,r1,-5\n"
    outcomes = [file(engine, bad) for _ in range(5)]
    assert all(isinstance(o, Rejection) for o in outcomes)
    other = file(engine, b"system,run_id,reported_flop\nacme-lm,r1,abc\n")  # other bytes: its own alert
    assert isinstance(other, Rejection)
    with Session(engine) as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "filing_rejected")).all()
        assert len(alerts) == 2
        first_payload = json.loads(alerts[0].payload_json)
        assert first_payload["accession"] == outcomes[0].accession
        series = session.exec(select(RejectionRepeat).order_by(RejectionRepeat.id)).all()  # type: ignore[arg-type]
        assert [s.count for s in series] == [5, 1]
        assert series[0].alert_id == alerts[0].id
        # Every attempt is still on record: five rejected filings and their audit entries.
        rejected = [e for e in session.exec(select(AuditEvent)).all() if e.action == "filing.rejected"]
        assert len(rejected) == 6
    assert len(filings(engine)) == 6


def test_a_repeat_after_the_window_raises_a_new_alert(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.config import get_settings

    monkeypatch.setenv("TRACKER_REJECTION_REPEAT_WINDOW_S", "0")
    get_settings.cache_clear()
    try:
        bad = b"system,run_id,reported_flop\nacme-lm,r1,-5\n"
        file(engine, bad)
        file(engine, bad)
        with Session(engine) as session:
            assert len(session.exec(select(Alert).where(Alert.kind == "filing_rejected")).all()) == 2
    finally:
        get_settings.cache_clear()


def test_the_cli_says_a_re_filed_file_was_superseded(settings_env: object, tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from tracker.cli.main import app

    runner = CliRunner()
    folder = Path(str(tmp_path))
    old, new = folder / "old.csv", folder / "new.csv"
    old.write_text("system,run_id,reported_flop\nacme-lm,r1,1e24\n")
    new.write_text("system,run_id,reported_flop\nacme-lm,r1,2e24\n")
    args = ["--provider", "acme", "--kind", "training_runs"]
    assert runner.invoke(app, ["ingest", str(old), *args]).exit_code == 0
    amended = runner.invoke(app, ["ingest", str(new), *args, "--format", "json"])
    later = json.loads(amended.stdout)["accession"]
    again = runner.invoke(app, ["ingest", str(old), *args])
    assert again.exit_code == 0, again.output
    assert f"superseded_by {later}" in again.stdout
    assert f"note: this filing is not current: all of its records were superseded by later filing {later}" \
        in again.stderr
