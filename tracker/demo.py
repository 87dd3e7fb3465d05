"""`tracker demo`: everything a first look needs, on the embedded database.

Migrates the database, files the sample disclosures in ``data/samples/`` through the same
filing service as every channel, creates demo accounts, evaluates every regime, then runs the
scheduler as its own process beside the production web server until interrupted.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import DATA_DIR, Settings
from tracker.store import migrate
from tracker.store.models import User

log = logging.getLogger(__name__)

SAMPLES_DIR = DATA_DIR / "samples"
# Demo-only credentials, printed at start; `tracker users add` creates real accounts.
DEMO_ACCOUNTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("regulator", "regulator", None, "regulator-demo-pass"),
    ("admin", "admin", None, "admin-demo-password"),
    ("meta", "provider", "meta", "provider-demo-pass"),
    ("frontier", "provider", "demo-frontier", "provider-demo-pass"),
)


@dataclass(frozen=True)
class DemoState:
    filed: list[str]
    accounts: list[tuple[str, str, str]]
    summary: str


def sample_files(folder: Path = SAMPLES_DIR) -> list[tuple[Path, str, str]]:
    """(path, provider slug, kind) for every ``<provider>__<kind>.<ext>`` sample; bases first."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".csv", ".json", ".parquet", ".xlsx") and "__" in path.stem:
            provider, kind = path.stem.split("__", 1)
            found.append((path, provider, kind))
    # Downstream systems name their base by name, so original providers' files go first.
    return sorted(found, key=lambda item: (item[1].startswith("demo-downstream"), item[1], item[2]))


def prepare(engine: Engine, settings: Settings, as_of: date) -> DemoState:
    from tracker.auth.users import create_user
    from tracker.filing.receipts import Receipt
    from tracker.filing.service import file_disclosure
    from tracker.registry.pipeline import run_evaluation

    migrate.upgrade(settings.database_url)
    filed = []
    for path, provider, kind in sample_files():
        outcome = file_disclosure(engine, content=path.read_bytes(), filename=path.name, kind=kind,
                                  provider_slug=provider, filed_by="demo", channel="cli")
        if not isinstance(outcome, Receipt):
            raise RuntimeError(f"demo sample {path.name} was rejected: {outcome}")
        filed.append(f"{path.name}: {outcome.accession}")
    accounts = []
    with Session(engine) as session:
        for username, role, provider_slug, password in DEMO_ACCOUNTS:
            if session.exec(select(User).where(User.username == username)).first() is None:
                create_user(session, username=username, role=role, password=password,
                            provider_slug=provider_slug, actor="demo")
            accounts.append((username, role, password))
        session.commit()
    summary = run_evaluation(engine, as_of, actor="demo", settings=settings)
    return DemoState(filed=filed, accounts=accounts, summary=summary.line())


def run(engine: Engine, settings: Settings, host: str, port: int, as_of: date) -> None:
    from tracker.web.server import serve

    state = prepare(engine, settings, as_of)
    print("Demo data filed:", *state.filed, sep="\n  ")
    print(state.summary)
    print(f"\nDashboard: http://{host}:{port}   (stop with Ctrl-C)")
    print("Accounts:", *(f"{u} / {p}   ({r})" for u, r, p in state.accounts), sep="\n  ")
    scheduler = subprocess.Popen([sys.executable, "-m", "tracker", "scheduler"])
    try:
        serve(host, port, settings)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=15)
        except subprocess.TimeoutExpired:
            scheduler.kill()
