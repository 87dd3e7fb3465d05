"""Every audited kind of change, performed through the real code paths (API, CLI, dashboard sign-in,
the evaluation pipeline), leaves its audit entry, and the chain verifies afterwards.

The chain itself (linking, tamper detection, CLI export) is tested in tests/store/test_audit.py.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from typer.testing import CliRunner

from tests.reliability.conftest import sign_in
from tests.reliability.helpers import PASSWORD
from tracker.registry.pipeline import default_regimes, run_evaluation
from tracker.store import audit
from tracker.store.db import get_engine

BIG_RUN = b"system,run_id,reported_flop,end_date\nbig-lm,r1,5e25,2025-06-01\n"
BAD_RUN = b"system,run_id,accelerator_count,reported_flop\nbig-lm,r2,-8,1e24\n"


def _events(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action, entity, entity_id, details_json FROM audit_event "
                                    "ORDER BY id"))
        return [{"actor": r[0], "action": r[1], "entity": r[2], "entity_id": r[3], "details": json.loads(r[4])}
                for r in rows]


def test_every_kind_of_change_writes_an_audit_entry_and_the_chain_verifies(app: Any, settings_env: Path,
                                                                           monkeypatch: Any) -> None:
    from tracker.cli.main import app as cli
    from tracker.config import get_settings

    checkpoint_file = settings_env / "audit-checkpoints.jsonl"
    monkeypatch.setenv("TRACKER_AUDIT_CHECKPOINT_PATH", str(checkpoint_file))
    get_settings.cache_clear()
    engine = get_engine()
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(cli, list(args), input=stdin)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    # Users: created with the CLI, then signing in to the dashboard.
    run("users", "add", "officer", "--role", "regulator", "--password-stdin", stdin=PASSWORD + "\n")
    assert sign_in(app.test_client(), "officer").status_code == 302
    # Filings through the API: one accepted, one rejected (the provider exists from an operator filing).
    run("ingest", str(_write(settings_env.parent / "seed.csv", b"system,run_id,reported_flop\nseed-lm,s1,1e20\n")),
        "--provider", "acme", "--kind", "training_runs")
    token = run("api-token", "create", "--provider", "acme", "--name", "audit").strip()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    accepted = client.post("/api/v1/disclosures", headers=auth, content_type="multipart/form-data",
                           data={"kind": "training_runs", "file": (io.BytesIO(BIG_RUN), "big.csv")})
    rejected = client.post("/api/v1/disclosures", headers=auth, content_type="multipart/form-data",
                           data={"kind": "training_runs", "file": (io.BytesIO(BAD_RUN), "bad.csv")})
    assert (accepted.status_code, rejected.status_code) == (201, 400)
    # Each receipt carries the head of the chain at its filing: the provider's evidence.
    heads = [f"{r.json['audit_head']['id']}:{r.json['audit_head']['hash']}" for r in (accepted, rejected)]
    for filed in (accepted, rejected):  # the receipt read back later carries the same head
        again = client.get(f"/api/v1/disclosures/{filed.json['accession']}", headers=auth)
        assert again.json["audit_head"] == filed.json["audit_head"], again.json
    # The evaluation: estimates written, a flag entering "above", regimes stored, alerts raised.
    run("evaluate")
    with engine.connect() as conn:
        alert_id = conn.execute(sa.text("SELECT min(id) FROM alert")).scalar_one()
    assert alert_id is not None, "the evaluation raised no alert to acknowledge"
    run("alerts", "ack", str(alert_id), "--by", "officer")
    # A regime's definition changes (a new threshold): stored again on the next evaluation.
    regimes = default_regimes()
    target = next(r for r in regimes if r.threshold)
    changed = [r.model_copy(update={"threshold": (r.threshold or 0) * 2}) if r is target else r for r in regimes]
    run_evaluation(engine, date.today(), actor="test", regimes=changed)
    token_id = _scalar(engine, "SELECT max(id) FROM api_token")
    run("api-token", "revoke", str(token_id))

    events = _events(engine)
    actions = [e["action"] for e in events]
    expected = {"user.create", "user.login", "filing.accepted", "filing.rejected", "token.created",
                "token.revoked", "evaluation.run", "flag.transition", "alert.ack", "regime.add", "regime.change"}
    assert expected <= set(actions), expected - set(actions)
    by_filing = {e["entity_id"]: e["action"] for e in events if e["entity"] == "filing"}
    assert by_filing[accepted.json["accession"]] == "filing.accepted"
    assert by_filing[rejected.json["accession"]] == "filing.rejected"
    assert actions.count("filing.accepted") == 2 and actions.count("filing.rejected") == 1
    assert actions.count("evaluation.run") == 2  # one entry per run (the estimate changes it wrote)
    transitions = [e for e in events if e["action"] == "flag.transition"]
    assert any(e["details"]["new"] == "above" for e in transitions), transitions
    ack = next(e for e in events if e["action"] == "alert.ack")
    assert (ack["actor"], ack["entity_id"]) == ("officer", str(alert_id))
    regime_changes = [e for e in events if e["action"] == "regime.change"]
    assert [e["entity_id"] for e in regime_changes] == [target.id]
    assert next(e for e in events if e["action"] == "user.login")["actor"] == "officer"
    with Session(engine) as session:
        result = audit.verify(session, coverage=True)
    assert result.ok and result.checked == len(events), result
    assert result.checkpoints_checked == 2 == len(checkpoint_file.read_text().splitlines())  # one per evaluation
    verified = run("audit", "verify", "--head", heads[0], "--head", heads[1])
    assert f"{len(events)} entries" in verified and "2 receipt head(s) in the chain" in verified


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _scalar(engine: Any, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()
