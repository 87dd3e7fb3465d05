"""Checkpoints, receipt heads and coverage: what a chain alone cannot show (its last entries deleted,
a row written without its entry) is caught and named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.store.test_audit import TEST_KEY, _append, _rows, _verify, isolated_audit_settings
from tracker.config import get_settings
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.store import audit, checkpoints
from tracker.store.audit_key import load_audit_key
from tracker.store.types import utcnow

RUN = b"system,run_id,reported_flop\nacme-lm,r1,3e24\n"
BAD = b"system,run_id,accelerator_count,reported_flop\nacme-lm,r2,-8,1e24\n"


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from isolated_audit_settings(tmp_path, monkeypatch)


def _checkpoint(engine: Engine) -> checkpoints.Checkpoint:
    with Session(engine) as session:
        made = audit.checkpoint_now(session, "manual")
        session.commit()
    assert made is not None
    return made


def _delete_last(engine: Engine, n: int) -> list[int]:
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM audit_event ORDER BY id DESC LIMIT :n"), {"n": n})]
        conn.execute(sa.text("DELETE FROM audit_event WHERE id >= :first"), {"first": min(ids)})
    return sorted(ids)


@pytest.mark.parametrize("removed", [1, 10])
def test_deleting_the_last_entries_is_caught_and_the_gap_named(engine: Engine, audit_env: Path,
                                                               removed: int) -> None:
    _append(engine, 27)  # 30 entries
    made = _checkpoint(engine)
    assert (made.last_event_id, made.event_count) == (30, 30)
    assert _verify(engine).ok
    gone = _delete_last(engine, removed)
    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_id is None  # what is left is a valid chain: only the checkpoint shows it
    last = 30 - removed
    gap = next(p for p in result.problems if "removed" in p)
    assert f"the chain ends at entry {last} with {last} entries" in gap
    entries = "entry" if removed == 1 else "entries"
    assert f"the last {removed} {entries} (after entry {last}, up to entry {gone[-1]})" in gap


def test_deleting_the_checkpoint_rows_too_is_caught_by_the_file(engine: Engine, audit_env: Path) -> None:
    _append(engine, 9)
    first = _checkpoint(engine)
    _append(engine, 2)
    second = _checkpoint(engine)
    assert [json.loads(line)["mac"] for line in audit_env.read_text().splitlines()] == [first.mac, second.mac]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoint WHERE id = :id"), {"id": second.id})
    result = _verify(engine)
    assert not result.ok
    assert result.problems == (f"{second.describe()} is in the checkpoint file but not in the database: "
                               "its row was deleted",)
    # Deleting every checkpoint row and the entries after the first: the file still shows both.
    _delete_last(engine, 5)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoint"))
    result = _verify(engine)
    assert any("the last 5 entries" in p for p in result.problems), result.problems
    assert sum("not in the database" in p for p in result.problems) == 2


def test_a_middle_checkpoint_deleted_breaks_the_checkpoint_chain(engine: Engine, audit_env: Path) -> None:
    _append(engine, 1)
    made = [_checkpoint(engine)]
    for _ in range(2):
        _append(engine, 1)
        made.append(_checkpoint(engine))
    audit_env.unlink()  # without the file, the database's own links still show a gap
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoint WHERE id = :id"), {"id": made[1].id})
    result = _verify(engine)
    assert result.problems == (f"{made[2].describe()} does not follow the checkpoint before it in the database: "
                               "checkpoints between them were removed",)
    assert any("no checkpoint file" in n for n in result.notes)


def test_an_edited_checkpoint_fails_its_mac(engine: Engine, audit_env: Path) -> None:
    _append(engine, 3)
    made = _checkpoint(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_checkpoint SET event_count = 3 WHERE id = :id"), {"id": made.id})
    result = _verify(engine)
    assert f"{made.describe()}: its content does not match its MAC (edited)" in result.problems


def test_with_the_key_a_rewrite_still_shows_in_the_checkpoint_file(engine: Engine, audit_env: Path) -> None:
    """An attacker holding the key rewrites an entry, recomputes every later MAC and re-MACs the
    database's checkpoint: the chain and the database agree, the file outside does not."""
    _append(engine, 5)
    made = _checkpoint(engine)
    key = load_audit_key()
    with Session(engine) as session:
        events = list(audit.iter_events(session))
    prev = audit.GENESIS_HASH
    with engine.begin() as conn:
        for event in events:
            if event.id == events[2].id:
                event.details_json = json.dumps({"records": 999})
            digest = audit.keyed_entry_hash(key.secret, prev, event.at, event.actor, event.action, event.entity,
                                            event.entity_id, event.details_json)
            conn.execute(sa.text("UPDATE audit_event SET details_json = :d, prev_hash = :p, hash = :h WHERE id = :id"),
                         {"d": event.details_json, "p": prev, "h": digest, "id": event.id})
            prev = digest
        forged = checkpoints.checkpoint_mac(key.secret, at=made.at, last_event_id=made.last_event_id, last_hash=prev,
                                            event_count=made.event_count, chain=made.chain, reason=made.reason,
                                            key_id=made.key_id, prev_mac=made.prev_mac)
        conn.execute(sa.text("UPDATE audit_checkpoint SET last_hash = :h, mac = :m WHERE id = :id"),
                     {"h": prev, "m": forged, "id": made.id})
    result = _verify(engine)
    assert not result.ok
    assert any(made.describe() in p and "rewritten" in p for p in result.problems), result.problems
    assert any("in the checkpoint file but not in the database" in p for p in result.problems)


def test_checkpoints_every_n_entries_and_at_evaluation(engine: Engine, audit_env: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_AUDIT_CHECKPOINT_EVERY", "5")
    get_settings.cache_clear()
    _append(engine, 4)  # entries 1-4 one by one, 5-7 in one batch: the batch crosses 5
    _append(engine, 7)  # 8-14 one by one (crosses 10), 15-17 in a batch (crosses 15)
    with Session(engine) as session:
        audit.record(session, actor="scheduler", action="evaluation.run", entity="registry", entity_id="2026-12-04")
        session.commit()
    with Session(engine) as session:
        made = checkpoints.in_database(session)
    assert [(c.last_event_id, c.event_count, c.reason) for c in made] == [
        (7, 7, "interval"), (10, 10, "interval"), (17, 17, "interval"), (18, 18, "evaluation")]
    assert [json.loads(line)["id"] for line in audit_env.read_text().splitlines()] == [c.id for c in made]
    result = _verify(engine)
    assert result.ok and result.checkpoints_checked == 4, result


def test_a_rolled_back_checkpoint_never_reaches_the_file(engine: Engine, audit_env: Path) -> None:
    _append(engine, 2)
    with Session(engine) as session:
        assert audit.checkpoint_now(session, "manual") is not None
        session.rollback()
    assert not audit_env.exists()
    assert _verify(engine).ok


def test_a_line_of_another_chain_is_a_note_outside_production(engine: Engine, audit_env: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _append(engine, 2)
    _checkpoint(engine)
    other = json.loads(audit_env.read_text())
    checkpoints.append_line(audit_env, json.dumps(other | {"chain": "f" * 64}))
    result = _verify(engine)
    assert result.ok and any("1 checkpoint(s) of other chains" in n for n in result.notes), result
    monkeypatch.setenv("TRACKER_ENVIRONMENT", "production")
    monkeypatch.setenv("TRACKER_SECRET_KEY", "a-real-secret-for-this-test")
    get_settings.cache_clear()
    assert any("of other chains" in p for p in _verify(engine).problems)
    checkpoints.append_line(audit_env, "not json")
    assert any("line 3: not a checkpoint" in p for p in _verify(engine).problems)


def test_a_receipts_audit_head_verifies_and_its_removal_is_named(engine: Engine, audit_env: Path) -> None:
    accepted = file_disclosure(engine, content=RUN, filename="r.csv", kind="training_runs", provider_slug="acme",
                               filed_by="acme-bot", channel="api")
    rejected = file_disclosure(engine, content=BAD, filename="b.csv", kind="training_runs", provider_slug="acme",
                               filed_by="acme-bot", channel="api")
    assert isinstance(accepted, Receipt) and isinstance(rejected, Rejection)
    rows = _rows(engine)
    assert accepted.audit_head == {"id": rows[0]["id"], "hash": rows[0]["hash"]}
    assert rows[0]["entity_id"] == accepted.accession
    assert rejected.to_dict()["audit_head"] == {"id": rows[1]["id"], "hash": rows[1]["hash"]}
    again = file_disclosure(engine, content=RUN, filename="r.csv", kind="training_runs", provider_slug="acme",
                            filed_by="acme-bot", channel="api")
    assert isinstance(again, Receipt) and again.duplicate and again.audit_head == accepted.audit_head
    heads = [(h["id"], h["hash"]) for h in (accepted.audit_head, rejected.to_dict()["audit_head"])]
    with Session(engine) as session:
        assert audit.verify(session, receipt_heads=heads, coverage=True).ok
    _delete_last(engine, 1)
    with Session(engine) as session:
        result = audit.verify(session, receipt_heads=heads)
    assert result.problems == (f"the receipt's audit head, entry {heads[1][0]}, is not in the chain: it was removed "
                               "(with the entries after it)",)
    with Session(engine) as session:
        forged = audit.verify(session, receipt_heads=[(heads[0][0], "0" * 64)])
    assert any(f"entry {heads[0][0]}, held hash 0000" in p and "rewritten" in p for p in forged.problems)


def test_coverage_names_each_row_without_its_audit_entry(engine: Engine, audit_env: Path) -> None:
    receipt = file_disclosure(engine, content=RUN, filename="r.csv", kind="training_runs", provider_slug="acme",
                              filed_by="acme-bot", channel="api")
    assert isinstance(receipt, Receipt)
    with Session(engine) as session:
        assert audit.verify(session, coverage=True).ok
    with engine.begin() as conn:  # rows written behind the application's back, without their entries
        provider_id = conn.execute(sa.text("SELECT id FROM provider")).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO filing (accession, provider_id, kind, status, sha256, filename, file_format, size_bytes, "
            "channel, filed_by, filed_at, record_count, superseded_count) VALUES ('CTT-2026-999999', :p, "
            "'training_runs', 'rejected', :s, 'x.csv', 'csv', 1, 'api', 'mallory', :at, 0, 0)"),
            {"p": provider_id, "s": "0" * 64, "at": utcnow()})
        conn.execute(sa.text("INSERT INTO app_user (username, password_hash, role, disabled, created_at) "
                             "VALUES ('ghost', 'x', 'admin', :d, :at)"), {"d": True, "at": utcnow()})
        user_id = conn.execute(sa.text("SELECT id FROM app_user WHERE username = 'ghost'")).scalar_one()
        conn.execute(sa.text("INSERT INTO api_token (user_id, provider_id, name, token_prefix, token_hash, "
                             "created_at, revoked_at) VALUES (:u, :p, 't', 'tt', :h, :at, :at)"),
                     {"u": user_id, "p": provider_id, "h": "1" * 64, "at": utcnow()})
        token_id = conn.execute(sa.text("SELECT id FROM api_token")).scalar_one()
    with Session(engine) as session:
        result = audit.verify(session, coverage=True)
        assert audit.verify(session).ok  # the chain itself is intact: only coverage sees these
    assert result.problems == (
        "filing CTT-2026-999999 (rejected) has no audit entry filing.rejected",
        f"api_token {token_id} has no audit entry token.created",
        f"api_token {token_id} is revoked but has no audit entry token.revoked",
        f"app_user {user_id} (ghost) has no audit entry user.create",
        f"app_user {user_id} (ghost) is disabled but has no audit entry user.disable",
    )


def test_the_daily_job_checkpoints_once_per_new_head(engine: Engine, db_url: str, audit_env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.scheduler import jobs
    from tracker.store.db import _engine_for

    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    get_settings.cache_clear()
    _engine_for.cache_clear()
    try:
        jobs.checkpoint_audit()  # an empty log: nothing to checkpoint
        _append(engine, 1)
        jobs.checkpoint_audit()
        jobs.checkpoint_audit()  # the same head: nothing new
    finally:
        _engine_for.cache_clear()
    with Session(engine) as session:
        made = checkpoints.in_database(session)
    assert [(c.reason, c.last_event_id) for c in made] == [("daily", 4)]
    assert len(audit_env.read_text().splitlines()) == 1
    assert TEST_KEY not in audit_env.read_text()


def test_cli_verifies_a_receipt_file_a_provider_kept(engine: Engine, db_url: str, audit_env: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tracker.cli.main import app as cli
    from tracker.store.db import _engine_for

    receipt = file_disclosure(engine, content=RUN, filename="r.csv", kind="training_runs", provider_slug="acme",
                              filed_by="acme-bot", channel="api")
    kept = tmp_path / "receipt.json"
    kept.write_text(json.dumps(receipt.to_dict()))
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    get_settings.cache_clear()
    _engine_for.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(cli, ["audit", "verify", "--receipt", str(kept)])
        assert ok.exit_code == 0 and "1 receipt head(s) in the chain" in ok.stdout, ok.output
        _delete_last(engine, 1)
        gone = runner.invoke(cli, ["audit", "verify", "--receipt", str(kept)])
        assert gone.exit_code == 1
        assert "the receipt's audit head, entry 1, is not in the chain: it was removed" in gone.stderr
        assert f"filing {receipt.accession} (accepted) has no audit entry filing.accepted" in gone.stderr
        kept.write_text("{}")
        empty = runner.invoke(cli, ["audit", "verify", "--receipt", str(kept)])
        assert empty.exit_code == 1 and "holds no audit_head" in str(empty.exception)  # main() prints it
    finally:
        _engine_for.cache_clear()


def test_coverage_of_registration_events_and_certificates(engine: Engine, settings_env: Path, audit_env: Path,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Llama 3.1 405B registered (tests/registration's worked figures), its certificate issued through
    the real code path; then an event and a revocation written behind the application's back."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.registration.certificate_factories import issue, registered_system
    from tracker.registration.keys import private_key_pem

    signing_key = tmp_path / "signing-key.pem"
    signing_key.write_bytes(private_key_pem(Ed25519PrivateKey.generate()))
    monkeypatch.setenv("TRACKER_SIGNING_KEY_PATH", str(signing_key))
    get_settings.cache_clear()
    registered = registered_system(engine)
    certificate = issue(engine, registered)
    with Session(engine) as session:
        assert audit.verify(session, coverage=True).ok
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO registration_event (registration_id, from_state, to_state, action, actor, "
                             "at) VALUES (:r, 'submitted', 'registered', 'register', 'mallory', :at)"),
                     {"r": registered.registration_id, "at": utcnow()})
        event_id = conn.execute(sa.text("SELECT max(id) FROM registration_event")).scalar_one()
        conn.execute(sa.text("UPDATE certificate SET status = 'revoked' WHERE id = :id"), {"id": certificate.id})
    with Session(engine) as session:
        result = audit.verify(session, coverage=True)
    assert result.problems == (
        f"registration_event {event_id} (registration {registered.registration_id}, register) has no audit entry "
        "registration.register",
        f"certificate {certificate.id} ({registered.number}, revoked) has no audit entry certificate.revoked",
    )
