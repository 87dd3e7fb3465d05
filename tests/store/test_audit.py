"""The audit log is a keyed hash chain: any edit behind the application's back is caught and named,
including a rewrite that recomputes every later hash with the project's own (unkeyed) rule."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import get_settings
from tracker.store import audit, audit_key
from tracker.store.audit_key import AuditKeyError, key_id_of, load_audit_key
from tracker.store.models import AuditEvent
from tracker.store.types import utcnow

TEST_KEY = "k" * 16 + "test-audit-key-0123456789abcdef"


def isolated_audit_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A known key and a private checkpoint file (the default file is shared by every database)."""
    path = tmp_path / "audit-checkpoints.jsonl"
    monkeypatch.setenv("TRACKER_AUDIT_KEY", TEST_KEY)
    monkeypatch.setenv("TRACKER_AUDIT_CHECKPOINT_PATH", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from isolated_audit_settings(tmp_path, monkeypatch)


def _append(engine: Engine, n: int) -> None:
    with Session(engine) as session:
        for i in range(n):
            audit.record(session, actor="alice", action="filing.accept", entity="filing",
                         entity_id=i, details={"records": i})
        audit.record_many(session, [
            {"actor": "system", "action": "flag.transition", "entity": "flag:system", "entity_id": f"{i}:eu",
             "details": {"new": "above"}} for i in range(3)
        ])
        session.commit()


def _verify(engine: Engine) -> audit.VerifyResult:
    with Session(engine) as session:
        return audit.verify(session)


def _rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM audit_event ORDER BY id"))]


def test_chain_verifies_and_links_every_entry_under_the_key(engine: Engine, audit_env: Path) -> None:
    _append(engine, 4)
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
        result = audit.verify(session)
    assert result.ok and result.checked == 7, result
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert {e.chain_version for e in events} == {audit.KEYED}
    # The hash is the key's HMAC, not the plain SHA-256 anyone can recompute.
    first = events[0]
    plain = audit.entry_hash(first.prev_hash, first.at, first.actor, first.action, first.entity, first.entity_id,
                             first.details_json)
    assert first.hash != plain
    assert first.hash == audit.keyed_entry_hash(TEST_KEY.encode(), first.prev_hash, first.at, first.actor,
                                                first.action, first.entity, first.entity_id, first.details_json)
    assert result.head == (events[-1].id, events[-1].hash)


def test_entries_written_before_the_keyed_chain_still_verify(engine: Engine, audit_env: Path) -> None:
    # Version-1 entries as the tracker wrote them before this change (plain SHA-256), then new ones.
    prev = audit.GENESIS_HASH
    with engine.begin() as conn:
        for i in range(3):
            at = utcnow()
            digest = audit.entry_hash(prev, at, "bob", "filing.accepted", "filing", f"CTT-2025-{i:06d}", "{}")
            conn.execute(sa.insert(AuditEvent.__table__), {  # type: ignore[attr-defined]
                "at": at, "actor": "bob", "action": "filing.accepted", "entity": "filing",
                "entity_id": f"CTT-2025-{i:06d}", "details_json": "{}", "prev_hash": prev, "hash": digest})
            prev = digest
    assert [r["chain_version"] for r in _rows(engine)] == [1, 1, 1]  # the migration's default
    _append(engine, 2)
    rows = _rows(engine)
    assert [r["chain_version"] for r in rows] == [1, 1, 1, 2, 2, 2, 2, 2]
    assert rows[3]["prev_hash"] == prev  # the keyed chain continues the old one
    result = _verify(engine)
    assert result.ok and result.checked == 8, result


def test_edit_behind_the_back_names_the_first_broken_entry(engine: Engine, audit_env: Path) -> None:
    _append(engine, 5)
    with engine.begin() as conn:
        target = conn.execute(sa.text("SELECT id FROM audit_event ORDER BY id LIMIT 1 OFFSET 2")).scalar_one()
        conn.execute(sa.text("UPDATE audit_event SET details_json = :d WHERE id = :id"),
                     {"d": json.dumps({"records": 999}), "id": target})
    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_id == target
    assert "hash" in (result.reason or "")


def test_deleted_entry_breaks_the_chain(engine: Engine, audit_env: Path) -> None:
    _append(engine, 5)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM audit_event ORDER BY id"))]
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    result = _verify(engine)
    assert result.first_broken_id == ids[2]
    assert "prev_hash" in (result.reason or "")


def _rewrite_from(engine: Engine, target: int, *, version: int) -> None:
    """What an attacker without the key can do: change one entry and recompute every later hash
    with the project's own ``entry_hash``, optionally marking them as version 1."""
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    prev = audit.GENESIS_HASH
    with engine.begin() as conn:
        for event in events:
            if event.id == target:
                event.details_json = json.dumps({"records": 999})
            if (event.id or 0) >= target:
                digest = audit.entry_hash(prev, event.at, event.actor, event.action, event.entity, event.entity_id,
                                          event.details_json)
                conn.execute(sa.text("UPDATE audit_event SET details_json = :d, prev_hash = :p, hash = :h, "
                                     "chain_version = :v WHERE id = :id"),
                             {"d": event.details_json, "p": prev, "h": digest, "v": version, "id": event.id})
                prev = digest
            else:
                prev = event.hash


@pytest.mark.parametrize("version", [2, 1], ids=["keeping-version-2", "marked-version-1"])
def test_rewrite_recomputing_later_hashes_with_entry_hash_is_caught(engine: Engine, audit_env: Path,
                                                                    version: int) -> None:
    _append(engine, 6)
    target = int(_rows(engine)[3]["id"])  # type: ignore[call-overload]
    _rewrite_from(engine, target, version=version)
    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_id == target
    expected = "keyed hash" if version == 2 else "unkeyed (version 1) entry after keyed ones"
    assert expected in (result.reason or ""), result.reason


def test_a_rewrite_of_the_whole_chain_as_version_1_is_caught_by_its_checkpoint(engine: Engine,
                                                                               audit_env: Path) -> None:
    _append(engine, 6)
    with Session(engine) as session:
        assert audit.checkpoint_now(session, "manual") is not None
        session.commit()
    first = int(_rows(engine)[0]["id"])  # type: ignore[call-overload]
    _rewrite_from(engine, first, version=1)  # a plain chain from the start: every link and hash holds
    result = _verify(engine)
    assert not result.ok
    assert any("belongs to another chain" in p for p in result.problems), result.problems


def test_two_writers_do_not_fork_the_chain(engine: Engine, audit_env: Path) -> None:
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for i in range(15):
                with Session(engine) as session:
                    audit.record(session, actor=name, action="test.write", entity="test", entity_id=i)
                    session.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    result = _verify(engine)
    assert result.ok and result.checked == 30, result
    assert len({r["prev_hash"] for r in _rows(engine)}) == 30  # no two entries share a predecessor


def test_production_refuses_to_audit_without_a_key(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_ENVIRONMENT", "production")
    monkeypatch.setenv("TRACKER_SECRET_KEY", "a-real-secret-for-this-test")
    monkeypatch.delenv("TRACKER_AUDIT_KEY", raising=False)
    monkeypatch.delenv("TRACKER_AUDIT_KEY_PATH", raising=False)
    get_settings.cache_clear()
    try:
        with Session(engine) as session, pytest.raises(AuditKeyError, match="TRACKER_AUDIT_KEY_PATH"):
            audit.record(session, actor="a", action="x", entity="y", entity_id=1)
    finally:
        get_settings.cache_clear()
    assert _rows(engine) == []


def test_development_generates_one_private_key_and_keeps_it(tmp_path: Path) -> None:
    settings = get_settings().model_copy(update={"environment": "development", "audit_key": None,
                                                 "audit_key_path": None})
    path = tmp_path / "keys" / "audit.key"
    first = load_audit_key(settings, generated_path=path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_audit_key(settings, generated_path=path)
    assert first.key_id == again.key_id == key_id_of(path.read_bytes().strip())
    assert "secret" not in repr(first) and path.read_text().strip() not in repr(first)
    # Processes starting together: one key, complete, and no partial file left behind.
    racing = tmp_path / "race" / "audit.key"
    threads = [threading.Thread(target=audit_key._generate, args=(racing,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.name for p in racing.parent.iterdir()] == ["audit.key"]
    assert len(racing.read_text().strip()) == 64
    short = settings.model_copy(update={"audit_key": "too-short"})
    with pytest.raises(AuditKeyError, match="at least 32"):
        load_audit_key(short)


def test_cli_verify_and_export(engine: Engine, db_url: str, tmp_path: Path) -> None:
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    env = {"TRACKER_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "TRACKER_AUDIT_KEY": TEST_KEY,
           "TRACKER_AUDIT_CHECKPOINT_PATH": str(checkpoint_file)}
    tracker = [sys.executable, "-m", "tracker"]
    write = subprocess.run([*tracker, "audit", "checkpoint"], env=env, capture_output=True, text=True)
    assert write.returncode == 0, write.stderr
    assert "nothing to checkpoint" in write.stdout
    script = ("from tracker.store.db import get_engine; from tests.store.test_audit import _append; "
              "_append(get_engine(), 3)")
    made = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert made.returncode == 0, made.stderr
    ok = subprocess.run([*tracker, "audit", "verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "6 entries" in ok.stdout
    point = subprocess.run([*tracker, "audit", "checkpoint"], env=env, capture_output=True, text=True)
    assert point.returncode == 0 and "entry 6, 6 entries" in point.stdout, point.stdout + point.stderr
    assert len(checkpoint_file.read_text().splitlines()) == 1
    out = tmp_path / "audit.csv"
    exported = subprocess.run([*tracker, "audit", "export", "--format", "csv", "--from", "2000-01-01",
                               "-o", str(out)], env=env, capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,at,actor") and len(lines) == 7
    none = subprocess.run([*tracker, "audit", "export", "--to", "2000-01-01"], env=env,
                          capture_output=True, text=True)
    assert none.stdout == ""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET actor = 'mallory' WHERE id = 2"))
    broken = subprocess.run([*tracker, "audit", "verify"], env=env, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "broken at entry 2" in broken.stderr
    assert "Traceback" not in broken.stderr
    bad_head = subprocess.run([*tracker, "audit", "verify", "--head", "2:nothex"], env=env,
                              capture_output=True, text=True)
    assert bad_head.returncode == 1 and "expected ID:HASH" in bad_head.stderr
