"""A registered system with a real filing behind it, the signing-key fixture and CLI helpers,
for the certificate tests.

The worked figures are Meta's public ones for Llama 3.1 405B (Llama 3 paper, July 2024):
405 billion parameters, 15.6 trillion training tokens, 3.8 x 10^25 FLOP of pre-training compute,
above the EU AI Act's 10^25 FLOP presumption (Art. 51(2)).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker.cli.errors import CliError
from tracker.cli.main import app
from tracker.config import get_settings
from tracker.filing.receipts import Receipt
from tracker.filing.service import file_disclosure
from tracker.regimes.load import load_regimes
from tracker.registration.certificates import issue_certificate
from tracker.registration.keys import private_key_pem
from tracker.registry.pipeline import sync_regimes
from tracker.store.models import AISystem, Certificate, Provider, Regime, Registration, RegistrationSubmission

REGIME = "eu-aia-gpaisr-presumption"
LLAMA_RUNS = ("system,version,run_id,parameters,training_tokens,reported_flop,end_date\n"
              "llama-3.1,405b,llama-3.1-405b-pretraining,405000000000,15600000000000,3.8e25,2024-07-23\n")
SUBMITTED_FLOP = 3.81e25  # the confidential figure the provider stands behind: never in a certificate
CONTACT = "ai-regulatory@meta.example"
runner = CliRunner()


@dataclass(frozen=True)
class Registered:
    registration_id: int
    system_id: int
    number: str


def file_runs(engine: Engine, csv_text: str, provider: str = "meta") -> Receipt:
    outcome = file_disclosure(engine, content=csv_text.encode(), filename="runs.csv", kind="training_runs",
                              provider_slug=provider, filed_by=f"{provider}-filer", channel="cli")
    assert isinstance(outcome, Receipt), outcome
    return outcome


def ensure_regimes(engine: Engine) -> None:
    with Session(engine) as session:
        if session.get(Regime, REGIME) is None:
            sync_regimes(session, load_regimes(), actor="test")
            session.commit()


def registered_system(engine: Engine, *, number: str = "CTR-2026-000001", provider: str = "meta",
                      system: str = "llama-3.1", version: str = "405b", csv_text: str = LLAMA_RUNS,
                      state: str = "registered") -> Registered:
    """File the system's runs, then a registration in ``state`` with one notification submission."""
    ensure_regimes(engine)
    file_runs(engine, csv_text, provider)
    with Session(engine) as session:
        provider_row = session.exec(select(Provider).where(Provider.slug == provider)).one()
        system_row = session.exec(select(AISystem).where(AISystem.provider_id == provider_row.id,
                                                         AISystem.name == system,
                                                         AISystem.version == version)).one()
        assert provider_row.id is not None and system_row.id is not None
        registration = Registration(
            system_id=system_row.id, provider_id=provider_row.id, regime_id=REGIME, obligation="notify",
            state=state, crossed_on=date(2024, 7, 23), deadline=date(2024, 8, 6), threshold=1e25,
            registration_number=number if state == "registered" else None,
            registered_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC) if state == "registered" else None)
        session.add(registration)
        session.flush()
        assert registration.id is not None
        session.add(RegistrationSubmission(
            registration_id=registration.id, kind="notification", channel="api", submitted_by=f"{provider}-filer",
            compute_flop=SUBMITTED_FLOP, compute_method="architecture", crossed_on=date(2024, 7, 23),
            contact=CONTACT, record_sha256="5" * 64))
        session.commit()
        return Registered(registration.id, system_row.id, number)


@dataclass(frozen=True)
class Cli:
    code: int
    out: str


def cli(*args: str) -> Cli:
    """The CLI as the console script reports it: a CliError is one sentence and its exit code."""
    result = runner.invoke(app, list(args))
    if isinstance(result.exception, CliError):
        return Cli(result.exception.exit_code, str(result.exception))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Cli(result.exit_code, result.stdout)


@pytest.fixture(name="key_file")
def key_file_fixture(settings_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "keys" / "signing-key.pem"
    path.parent.mkdir()
    path.write_bytes(private_key_pem(Ed25519PrivateKey.generate()))
    monkeypatch.setenv("TRACKER_SIGNING_KEY_PATH", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def issue(engine: Engine, registered: Registered) -> Certificate:
    with Session(engine) as session:
        registration = session.get(Registration, registered.registration_id)
        assert registration is not None
        certificate = issue_certificate(session, registration, actor="regulator:desk")
        session.commit()
        session.refresh(certificate)
        return certificate


def show(number: str, out: Path) -> dict[str, Any]:
    shown = cli("certificate", "show", number, "--out", str(out))
    assert shown.code == 0, shown.out
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def export_public(out: Path) -> Path:
    exported = cli("certificate", "keys", "export-public", "--out", str(out))
    assert exported.code == 0, exported.out
    return out
