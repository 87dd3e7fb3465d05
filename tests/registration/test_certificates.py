"""Registration certificates end to end, on SQLite and PostgreSQL: issue, verify (CLI with and
without a public key, HTTP), tampering, foreign keys, revocation, supersession by an amending
filing, and key rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.registration.certificate_factories import (  # noqa: F401 - the key_file fixture
    CONTACT,
    LLAMA_RUNS,
    SUBMITTED_FLOP,
    cli,
    export_public,
    file_runs,
    issue,
    key_file_fixture,
    registered_system,
    show,
)
from tracker.config import get_settings
from tracker.registration import certificate_format as fmt
from tracker.registration.certificates import (
    document_of,
    issue_certificate,
    revoke_certificates,
    verify_with_records,
)
from tracker.registration.keys import published_keys
from tracker.store.models import Alert, AuditEvent, Certificate, Registration, SigningKey

REASON_TEXT = "provider withdrew: internal counsel memo 2026-11-30 (regulator-only)"


@pytest.fixture
def client(db_url: str, key_file: Path) -> FlaskClient:
    from tracker.config import Settings
    from tracker.web.server import create_server

    settings = Settings(database_url=db_url, environment="test", secret_key="t" * 40)
    return create_server(settings).test_client()


def test_issued_certificate_verifies_by_cli_offline_and_over_http(engine: Engine, client: FlaskClient,
                                                                  tmp_path: Path) -> None:
    registered = registered_system(engine)
    certificate = issue(engine, registered)
    document = show(registered.number, tmp_path / "cert.json")
    body = document["certificate"]
    assert body["registration_number"] == registered.number == certificate.registration_number
    assert body["provider"] == {"slug": "meta", "name": "meta"}
    assert (body["system"], body["version"]) == ("llama-3.1", "405b")
    assert body["regime"]["id"] == "eu-aia-gpaisr-presumption" and body["regime"]["threshold"] == 1e25
    assert body["crossed_on"] == "2024-07-23" and body["registered_at"].startswith("2026-12-01T09:30:00")
    assert body["issuer"] == "Compute Threshold Tracker" and len(body["record_sha256"]) == 64
    assert document["signature"]["key_id"] == body["key_id"] == certificate.key_id

    on_record = cli("certificate", "verify", str(tmp_path / "cert.json"))
    assert (on_record.code, on_record.out.strip()) == (0, "valid")
    public_key = export_public(tmp_path / "public.pem")
    offline = cli("certificate", "verify", str(tmp_path / "cert.json"), "--public-key", str(public_key))
    assert (offline.code, offline.out.strip()) == (0, "valid")

    answer = client.get(f"/api/v1/certificates/{registered.number}")
    assert answer.status_code == 200 and answer.headers["Cache-Control"].startswith("public")
    assert answer.json == {"certificate": document, "status": "valid"}
    keys = client.get("/api/v1/certificates/keys").json
    assert keys["current"] == certificate.key_id
    http_keys = {k: fmt.load_public_key(v["public_key"]) for k, v in keys["keys"].items()}
    assert fmt.verify_document(answer.json["certificate"], http_keys).valid


def test_the_certificate_never_carries_the_confidential_figure_or_contact(engine: Engine, key_file: Path) -> None:
    registered = registered_system(engine)
    document = document_of(issue(engine, registered))
    text = json.dumps(document)
    assert repr(SUBMITTED_FLOP) not in text and "3.81e+25" not in text and "3.8e+25" not in text
    assert CONTACT not in text and "compute" not in text
    assert set(document["certificate"]) == set(fmt.BODY_FIELDS)


def test_a_changed_byte_fails_on_signature(engine: Engine, key_file: Path, tmp_path: Path) -> None:
    registered = registered_system(engine)
    issue(engine, registered)
    path = tmp_path / "cert.json"
    show(registered.number, path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"llama-3.1"', '"llama-3.2"'), encoding="utf-8")
    result = cli("certificate", "verify", str(path))
    assert result.code == 1 and "(signature)" in result.out and registered.number in result.out
    offline = cli("certificate", "verify", str(path), "--public-key", str(export_public(tmp_path / "p.pem")))
    assert offline.code == 1 and "(signature)" in offline.out


def test_a_certificate_signed_by_another_key_is_refused(engine: Engine, key_file: Path, tmp_path: Path) -> None:
    registered = registered_system(engine)
    document = document_of(issue(engine, registered))
    intruder = Ed25519PrivateKey.generate()
    forged_body = {**document["certificate"], "key_id": fmt.key_id_of(intruder.public_key())}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(fmt.document(forged_body, fmt.sign_body(forged_body, intruder))))
    result = cli("certificate", "verify", str(forged))
    assert result.code == 1 and "(unknown key)" in result.out
    offline = cli("certificate", "verify", str(forged), "--public-key", str(export_public(tmp_path / "p.pem")))
    assert offline.code == 1 and "(unknown key)" in offline.out
    # Signed by another key while claiming ours: the signature does not hold under our key.
    claimed = tmp_path / "claimed.json"
    claimed.write_text(json.dumps(fmt.document(document["certificate"],
                                               fmt.sign_body(document["certificate"], intruder))))
    assert "(signature)" in cli("certificate", "verify", str(claimed)).out


@pytest.mark.parametrize("state", ["withdrawn", "rejected"])
def test_withdrawal_or_rejection_revokes(engine: Engine, client: FlaskClient, tmp_path: Path, state: str) -> None:
    registered = registered_system(engine)
    issue(engine, registered)
    path = tmp_path / "cert.json"
    show(registered.number, path)
    with Session(engine) as session:
        registration = session.get(Registration, registered.registration_id)
        assert registration is not None
        registration.state = state
        revoked = revoke_certificates(session, registered.registration_id, REASON_TEXT, "regulator:desk")
        session.commit()
        assert [c.status for c in revoked] == ["revoked"]
    result = cli("certificate", "verify", str(path))
    assert result.code == 1 and "(revoked)" in result.out
    answer = client.get(f"/api/v1/certificates/{registered.number}").json
    assert answer["status"] == "revoked"
    listed = client.get("/api/v1/certificates/revoked")
    assert listed.status_code == 200 and REASON_TEXT not in listed.text and "counsel" not in listed.text
    [entry] = listed.json["certificates"]
    assert (entry["registration_number"], entry["status"], entry["reason_category"]) == (
        registered.number, "revoked", state)
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity == "certificate")).all()
        kinds = session.exec(select(Alert.kind, Alert.payload_json).where(Alert.kind == "certificate")).all()
    assert list(actions) == ["certificate.issued", "certificate.revoked"]
    assert sorted(json.loads(p)["status"] for _, p in kinds) == ["issued", "revoked"]


def test_an_amending_filing_supersedes_and_reissues(engine: Engine, client: FlaskClient, tmp_path: Path) -> None:
    registered = registered_system(engine)
    first = issue(engine, registered)
    old_path = tmp_path / "old.json"
    show(registered.number, old_path)
    other = registered_system(engine, number="CTR-2026-000002", provider="acme", system="acme-lm", version="",
                              csv_text="system,run_id,reported_flop\nacme-lm,a1,2e25\n")
    other_certificate = issue(engine, other)

    # Meta re-files the pre-training run with a corrected token count (it supersedes the run).
    file_runs(engine, LLAMA_RUNS.replace("15600000000000", "15700000000000"))

    with Session(engine) as session:
        old = session.get(Certificate, first.id)
        assert old is not None and old.status == "superseded" and old.status_category == "amended"
        new = session.get(Certificate, old.superseded_by_id)
        assert new is not None and new.status == "valid" and new.registration_number == registered.number
        assert json.loads(new.body_json)["record_sha256"] != json.loads(old.body_json)["record_sha256"]
        untouched = session.get(Certificate, other_certificate.id)
        assert untouched is not None and untouched.status == "valid"
    stale = cli("certificate", "verify", str(old_path))
    assert stale.code == 1 and "(superseded)" in stale.out
    new_path = tmp_path / "new.json"
    show(registered.number, new_path)
    assert cli("certificate", "verify", str(new_path)).out.strip() == "valid"
    assert client.get(f"/api/v1/certificates/{registered.number}").json["status"] == "valid"
    entries = client.get("/api/v1/certificates/revoked").json["certificates"]
    assert [(e["registration_number"], e["status"], e["reason_category"]) for e in entries] == [
        (registered.number, "superseded", "amended")]


def test_a_filing_that_changes_nothing_certified_keeps_the_certificate(engine: Engine, key_file: Path) -> None:
    registered = registered_system(engine)
    first = issue(engine, registered)
    file_runs(engine, "system,run_id,reported_flop\nunrelated-model,u1,1e22\n")
    with Session(engine) as session:
        statuses = session.exec(select(Certificate.status)).all()
    assert list(statuses) == ["valid"]
    assert issue(engine, registered).id == first.id  # issuing again with the same record is a no-op


def test_rotation_keeps_old_certificates_verifiable(engine: Engine, client: FlaskClient, key_file: Path,
                                                    tmp_path: Path) -> None:
    registered = registered_system(engine)
    before = issue(engine, registered)
    old_path = tmp_path / "old.json"
    show(registered.number, old_path)
    old_public = export_public(tmp_path / "old.pem")
    old_pem = key_file.read_bytes()

    rotated = cli("certificate", "keys", "rotate", "--by", "key custodian")
    assert rotated.code == 0 and before.key_id in rotated.out
    assert key_file.read_bytes() != old_pem and os.stat(key_file).st_mode & 0o777 == 0o600
    later = issue(engine, registered_system(engine, number="CTR-2026-000002", provider="acme", system="acme-lm",
                                             version="", csv_text="system,run_id,reported_flop\nacme-lm,a1,2e25\n"))
    assert later.key_id != before.key_id

    assert cli("certificate", "verify", str(old_path)).out.strip() == "valid"
    offline = cli("certificate", "verify", str(old_path), "--public-key", str(old_public))
    assert offline.out.strip() == "valid"
    listed = json.loads(cli("certificate", "keys", "list", "--format", "json").out)["keys"]
    assert {k["key_id"]: k["retired_at"] is not None for k in listed} == {before.key_id: True, later.key_id: False}
    keys = client.get("/api/v1/certificates/keys").json
    assert keys["current"] == later.key_id and keys["keys"][before.key_id]["retired_at"] is not None
    # The keys endpoint's JSON is itself a public-key file for offline verification of any certificate.
    published = tmp_path / "keys.json"
    published.write_text(json.dumps(keys))
    assert cli("certificate", "verify", str(old_path), "--public-key", str(published)).out.strip() == "valid"


def test_setting_a_new_key_publishes_it_and_retires_the_old(engine: Engine, key_file: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = issue(engine, registered_system(engine))
    seed = Ed25519PrivateKey.generate()
    import base64

    from cryptography.hazmat.primitives import serialization

    raw = seed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    monkeypatch.delenv("TRACKER_SIGNING_KEY_PATH")
    monkeypatch.setenv("TRACKER_SIGNING_KEY", base64.b64encode(raw).decode())
    get_settings.cache_clear()
    second = issue(engine, registered_system(engine, number="CTR-2026-000002", provider="acme", system="acme-lm",
                                              version="", csv_text="system,run_id,reported_flop\nacme-lm,a1,2e25\n"))
    assert second.key_id == fmt.key_id_of(seed.public_key()) != first.key_id
    with Session(engine) as session:
        rows = {k.key_id: k.retired_at for k in session.exec(select(SigningKey)).all()}
        assert rows[first.key_id] is not None and rows[second.key_id] is None
        assert verify_with_records(session, document_of(first)).valid
        assert set(published_keys(session)) == {first.key_id, second.key_id}
    refused = cli("certificate", "keys", "rotate")
    assert refused.code == 1 and "TRACKER_SIGNING_KEY" in refused.out


def test_only_a_registered_registration_gets_a_certificate(engine: Engine, key_file: Path) -> None:
    registered = registered_system(engine, state="submitted")
    with Session(engine) as session:
        registration = session.get(Registration, registered.registration_id)
        assert registration is not None
        with pytest.raises(ValueError, match="only a registered registration"):
            issue_certificate(session, registration)
        assert session.exec(select(Certificate)).all() == []


BAD_NUMBERS = ["CTR-2026-00001", "ctr-2026-000001", "CTR-2026-0000001", "CTR-26-000001", "CTR-2026-000001 ",
               "CTR-2026-000001/../keys", "..%2F..%2Fetc%2Fpasswd", "CTR-2026-000001%00", "' OR 1=1 --",
               "CTR-2026-00000１", "x" * 5000]


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_forged_numbers_answer_400_json(client: FlaskClient, number: str) -> None:
    answer = client.get(f"/api/v1/certificates/{number}")
    assert answer.status_code == 400 and answer.is_json
    assert "CTR-YYYY-NNNNNN" in answer.json["errors"][0]["message"]


def test_unknown_and_unregistered_numbers_answer_404_without_confidential_fields(
        engine: Engine, client: FlaskClient) -> None:
    issue(engine, registered_system(engine))
    pending = registered_system(engine, number="CTR-2026-000002", provider="acme", system="acme-lm", version="",
                                csv_text="system,run_id,reported_flop\nacme-lm,a1,2e25\n", state="submitted")
    with Session(engine) as session:
        registration = session.get(Registration, pending.registration_id)
        assert registration is not None
        registration.registration_number = "CTR-2026-000002"  # numbered, not yet registered: no certificate
        session.commit()
    for number in ("CTR-2026-000002", "CTR-2026-999999", "CTR-1999-000001"):
        answer = client.get(f"/api/v1/certificates/{number}")
        assert answer.status_code == 404 and answer.is_json, number
        assert "acme" not in answer.text
    for path in ("/api/v1/certificates/keys", "/api/v1/certificates/revoked", "/api/v1/certificates/CTR-2026-000001"):
        text = client.get(path).text
        assert CONTACT not in text and "3.81e+25" not in text and "compute_flop" not in text
        assert "PRIVATE KEY" not in text
    # POST or other methods are not routes.
    assert client.post("/api/v1/certificates/CTR-2026-000001").status_code == 405


def test_the_openapi_document_lists_the_certificate_routes(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/certificates/keys", "/api/v1/certificates/revoked", "/api/v1/certificates/{number}"):
        assert paths[path]["get"]["security"] == []


def test_every_certificate_change_is_audited_in_the_chain(engine: Engine, key_file: Path) -> None:
    registered = registered_system(engine)
    issue(engine, registered)
    file_runs(engine, LLAMA_RUNS.replace("3.8e25", "3.9e25"))
    with Session(engine) as session:
        revoke_certificates(session, registered.registration_id, REASON_TEXT, "regulator:desk")
        session.commit()
        events = session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("certificate."))
                              .order_by(col(AuditEvent.id))).all()
        from tracker.store import audit

        assert audit.verify(session).ok
    assert [e.action for e in events] == ["certificate.key_published", "certificate.issued", "certificate.issued",
                                          "certificate.superseded", "certificate.revoked"]
    assert events[2].actor == "meta-filer"  # the amending filer caused the reissue


def test_the_regulators_decisions_issue_and_revoke(engine: Engine, key_file: Path, tmp_path: Path) -> None:
    from tracker.registration.decide import decide

    pending = registered_system(engine, state="submitted")
    with Session(engine) as session:
        decided = decide(session, pending.registration_id, "register", "meets Art. 51(2); notified in time",
                         "regulator:desk")
        session.commit()
    number = decided["registration_number"]
    path = tmp_path / "cert.json"
    assert show(number, path)["certificate"]["registration_number"] == number
    assert cli("certificate", "verify", str(path)).out.strip() == "valid"
    with Session(engine) as session:
        decide(session, pending.registration_id, "reject", "de-registered after review", "regulator:desk")
        session.commit()
        [certificate] = session.exec(select(Certificate)).all()
        assert (certificate.status, certificate.status_category) == ("revoked", "rejected")
    assert "(revoked)" in cli("certificate", "verify", str(path)).out


def test_verify_without_a_tracker_database_points_to_offline_verification(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.store.db import _engine_for

    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'not-a-tracker.db'}")
    get_settings.cache_clear()
    _engine_for.cache_clear()
    try:
        path = tmp_path / "cert.json"
        path.write_text('{"certificate": {}, "signature": {}}')
        result = cli("certificate", "verify", str(path))
        assert result.code == 1 and "--public-key" in result.out
        garbage = tmp_path / "garbage.json"
        garbage.write_bytes(b"\xff\xfe not json")
        assert "(malformed)" in cli("certificate", "verify", str(garbage)).out
    finally:
        get_settings.cache_clear()
        _engine_for.cache_clear()
