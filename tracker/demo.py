"""`tracker demo`: everything a first look needs, on the embedded database.

Migrates the database, files the sample disclosures in ``data/samples/`` through the same
filing service as every channel, creates demo accounts, evaluates every regime, then runs the
scheduler as its own process beside the production web server until interrupted. That scheduler
also runs a worker thread (``tracker.worker``): portal and API filings made in the demo are
evaluated, and large uploads filed, without a ``tracker worker`` beside it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.auth.scope import SYSTEM_SCOPE
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
    registrations: list[str] = field(default_factory=list)


REGIME_EU = "eu-aia-gpaisr-presumption"


def recent_run_csv(as_of: date) -> bytes:
    """A fictional frontier run that ended five days before ``as_of``: its EU notification is
    still running when the demo starts, whatever the day (the samples' own runs ended long ago)."""
    end = as_of - timedelta(days=5)
    start = end - timedelta(days=100)
    return ("system,run_id,stage,status,accelerator,accelerator_count,training_hours,start_date,end_date,"
            "precision,parameters,training_tokens,notes\n"
            f"Frontier Vista,fv-pretrain,pretraining,completed,H100-SXM,8192,2400,{start},{end},bf16,"
            "200000000000,20000000000000,\"Fictional (demo data): about 2.4e25 FLOP, crossed days ago; contested\"\n"
            ).encode()


# What the demo leaves each registration in, so every state shows (docs/registration.md).
# Frontier One (projected, notification running) stays due; Frontier Edge stays due past its deadline.
_DEMO_CONTEST = ("Frontier Vista is a research checkpoint served to 40 vetted partners; its capabilities are "
                 "below those of the most advanced models (benchmarks attached to the filing). Under Art. 52(2) "
                 "we ask the AI Office not to designate it as a model with systemic risk.")


def demo_registrations(engine: Engine, settings: Settings) -> list[str]:
    """Move the demo's obligations to every state through the same services as the portal and the
    review page: registered (with a certificate), contested, and a voluntary submission. Steps
    already taken on an earlier run are skipped, so the demo can be prepared again."""
    from tracker.registration.decide import decide
    from tracker.registration.submit import RegistrationRejected, submit_registration
    from tracker.store.db import session_scope
    from tracker.store.queries.registrations import list_registrations

    def state_of(system: str) -> str | None:
        with Session(engine) as session:
            rows = list_registrations(session, SYSTEM_SCOPE)
        return next((r["state"] for r in rows if r["system"] == system and r["regime"] == REGIME_EU), None)

    def submit(**fields: Any) -> dict[str, Any] | None:
        try:
            return submit_registration(engine, regime=REGIME_EU, channel="portal", settings=settings,
                                       **fields)
        except RegistrationRejected as exc:
            log.warning("demo registration refused: %s", exc)
            return None

    if state_of("Llama 3.1 405B") == "due":
        row = submit(provider="meta", system="Llama 3.1 405B", submitted_by="meta", compute_flop=3.8e25,
                     compute_method="hardware", crossed_on=date(2024, 7, 1), contact="ai-regulatory@meta.example")
        if row is not None:
            with session_scope(engine) as session:
                decide(session, int(row["id"]), "register", "Notification complete: 3.8e25 FLOP, above the "
                       "10^25 presumption; no contest.", "regulator", settings=settings)
    if state_of("Frontier Vista") == "due":
        submit(provider="demo-frontier", system="Frontier Vista", submitted_by="frontier", compute_flop=2.4e25,
               compute_method="hardware", contact="compliance@frontier.example", contest_text=_DEMO_CONTEST)
    if state_of("Llama 3.1 70B") is None:
        submit(provider="meta", system="Llama 3.1 70B", submitted_by="meta", voluntary=True,
               compute_flop=7.9e24, compute_method="hardware", contact="ai-regulatory@meta.example")
    with Session(engine) as session:
        return [f"{r['provider']}/{r['system']} {r['regime']}: {r['state']}"
                + (" (overdue)" if r["overdue"] else "") + (f" {r['registration_number']}"
                                                            if r["registration_number"] else "")
                for r in list_registrations(session, SYSTEM_SCOPE)]


def sample_files(folder: Path = SAMPLES_DIR) -> list[tuple[Path, str, str]]:
    """(path, provider slug, kind) for every ``<provider>__<kind>.<ext>`` sample; bases first."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".csv", ".json", ".parquet", ".xlsx") and "__" in path.stem:
            provider, kind = path.stem.split("__", 1)
            found.append((path, provider, kind))
    # Downstream systems name their base by name, so original providers' files go first.
    return sorted(found, key=lambda item: (item[1].startswith("demo-downstream"), item[1], item[2]))


# Systems whose figures their providers published (model cards): other providers may build on them.
PUBLIC_FIGURES = (("meta", "Llama 3.1 405B"),)


def _publish_base_figures(engine: Engine) -> None:
    from tracker.filing.systems import SystemNotFoundError, publish_figures
    from tracker.store.db import session_scope

    for provider, system in PUBLIC_FIGURES:
        try:
            with session_scope(engine) as session:
                publish_figures(session, provider_slug=provider, reference=system, actor="demo")
        except SystemNotFoundError as exc:
            log.warning("demo: %s", exc)


def prepare(engine: Engine, settings: Settings, as_of: date) -> DemoState:
    from tracker.auth.users import create_user
    from tracker.filing.receipts import Receipt
    from tracker.filing.service import file_disclosure
    from tracker.registry.pipeline import run_evaluation

    migrate.upgrade(settings.database_url)
    filed = []
    published = False
    for path, provider, kind in sample_files():
        if provider.startswith("demo-downstream") and not published:
            _publish_base_figures(engine)  # the downstream fine-tune names Meta's model as its base
            published = True
        outcome = file_disclosure(engine, content=path.read_bytes(), filename=path.name, kind=kind,
                                  provider_slug=provider, filed_by="demo", channel="cli")
        if not isinstance(outcome, Receipt):
            raise RuntimeError(f"demo sample {path.name} was rejected: {outcome}")
        filed.append(f"{path.name}: {outcome.accession}")
    recent = file_disclosure(engine, content=recent_run_csv(as_of), filename="frontier-vista.csv",
                             kind="training_runs", provider_slug="demo-frontier", filed_by="demo", channel="cli")
    if isinstance(recent, Receipt):
        filed.append(f"frontier-vista.csv: {recent.accession}")
    accounts = []
    with Session(engine) as session:
        for username, role, provider_slug, password in DEMO_ACCOUNTS:
            if session.exec(select(User).where(User.username == username)).first() is None:
                create_user(session, username=username, role=role, password=password,
                            provider_slug=provider_slug, actor="demo")
            accounts.append((username, role, password))
        session.commit()
    summary = run_evaluation(engine, as_of, actor="demo", settings=settings)
    return DemoState(filed=filed, accounts=accounts, summary=summary.line(),
                     registrations=demo_registrations(engine, settings))


def configure_logging(verbose: bool) -> None:
    """The demo's terminal shows what a first look needs: warnings and errors, unless ``verbose``.

    Waitress warns "Task queue depth is N" whenever a page's callbacks arrive together: normal for
    a dashboard on a small machine, so that warning too is shown only when asked for."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("waitress.queue").setLevel(logging.WARNING if verbose else logging.ERROR)


def banner(host: str, port: int, accounts: list[tuple[str, str, str]]) -> str:
    """Where the demo is and how to sign in, as the last thing printed before serving."""
    providers = {username: slug for username, _, slug, _ in DEMO_ACCOUNTS}
    width = max(len(f"{u} / {p}") for u, _, p in accounts) if accounts else 0
    lines = [f"  Dashboard:  http://{host}:{port}/", "  Sign in as:"]
    lines += [f"    {f'{u} / {p}':<{width}}   {r}" + (f" ({providers[u]})" if providers.get(u) else "")
              for u, r, p in accounts]
    lines.append("  Stop with Ctrl-C.")
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])


def run(engine: Engine, settings: Settings, host: str, port: int, as_of: date, *, verbose: bool = False) -> None:
    from tracker.alerts.links import record_served_address
    from tracker.web.server import serve

    print(f"Preparing the demo for http://{host}:{port}/ ...", flush=True)
    record_served_address(settings, host, port)  # before filing: the alerts it raises link to this port
    state = prepare(engine, settings, as_of)
    if verbose:
        print("Demo data filed:", *state.filed, sep="\n  ")
        print("Registrations:", *state.registrations, sep="\n  ")
    else:
        print(f"Filed {len(state.filed)} demo disclosures; {len(state.registrations)} registrations.")
    print(state.summary)
    print(banner(host, port, state.accounts), flush=True)
    command = [sys.executable, "-m", "tracker", "scheduler", "--log-level", "INFO" if verbose else "WARNING"]
    scheduler = subprocess.Popen(command)
    try:
        serve(host, port, settings)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=15)
        except subprocess.TimeoutExpired:
            scheduler.kill()
