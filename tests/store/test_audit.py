"""The audit log is a hash chain: any edit behind the application's back is caught and named."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.store import audit
from tracker.store.models import AuditEvent


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


def test_chain_verifies_and_links_every_entry(engine: Engine) -> None:
    _append(engine, 4)
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        result = audit.verify(session)
    assert result.ok and result.checked == 7
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_edit_behind_the_back_names_the_first_broken_entry(engine: Engine) -> None:
    _append(engine, 5)
    with engine.begin() as conn:
        target = conn.execute(sa.text("SELECT id FROM audit_event ORDER BY id LIMIT 1 OFFSET 2")).scalar_one()
        conn.execute(sa.text("UPDATE audit_event SET details_json = :d WHERE id = :id"),
                     {"d": json.dumps({"records": 999}), "id": target})
    with Session(engine) as session:
        result = audit.verify(session)
    assert not result.ok
    assert result.first_broken_id == target
    assert "hash" in (result.reason or "")


def test_deleted_entry_breaks_the_chain(engine: Engine) -> None:
    _append(engine, 5)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM audit_event ORDER BY id"))]
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    with Session(engine) as session:
        result = audit.verify(session)
    assert result.first_broken_id == ids[2]


def test_cli_verify_and_export(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _append(engine, 3)
    env = {"TRACKER_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    tracker = [sys.executable, "-m", "tracker"]
    ok = subprocess.run([*tracker, "audit", "verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "6 entries" in ok.stdout
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
