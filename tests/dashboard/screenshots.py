"""Screenshots of every dashboard page on the demo data, at 1,400 and 1,024 px wide.

    .venv/bin/python -m tests.dashboard.screenshots [--out docs/screenshots] [--widths 1400,1024]

(``make screenshots``.) Files the demo's data into a throwaway SQLite database, serves the app on
a free local port in this process, signs in as the demo's regulator, provider and administrator
in headless Chromium (/usr/bin/chromium) and writes ``<page>-<width>.png`` for each page: the
viewport, not the whole page, so the pictures show what a screen shows first and stay small.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
WIDTHS = (1400, 1024)
HEIGHT = 900
CHROMIUM = Path("/usr/bin/chromium")
# The browser fixture's flags (tests/dashboard/conftest.py): no sandbox in containers, no GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ACCOUNTS = {"regulator": "regulator-demo-pass", "meta": "provider-demo-pass", "admin": "admin-demo-password"}


@dataclass(frozen=True)
class Shot:
    name: str  # the file is <name>-<width>.png
    path: str
    account: str | None  # None: signed out
    ready: str  # a selector present once the page has drawn its content


def _shots(system_id: int, alert_id: int, accession: str) -> list[Shot]:
    return [
        Shot("overview", "/", "regulator", "#ov-scatter .scatterlayer .point"),
        Shot("systems", "/systems", "regulator", ".ag-center-cols-container .ag-row"),
        Shot("system-detail", f"/systems/{system_id}", "regulator", "#system-detail"),
        Shot("regimes", "/regimes", "regulator", "#regimes-table"),
        Shot("alerts", "/alerts", "regulator", "h1"),
        Shot("alert-detail", f"/alerts/{alert_id}", "regulator", "h1"),
        Shot("filings", "/filings", "regulator", "h1"),
        Shot("filing-detail", f"/filings/{accession}", "regulator", "h1"),
        Shot("registrations", "/registrations", "regulator", "h1"),
        Shot("register", "/register", "regulator", "h1"),
        Shot("portal", "/portal", "meta", "h1"),
        Shot("my-registrations", "/my-registrations", "meta", "h1"),
        Shot("systems-provider", "/systems", "meta", ".ag-center-cols-container .ag-row"),
        Shot("admin", "/admin", "admin", "h1"),
        Shot("regime-thresholds", "/regime-thresholds", "admin", "h1"),
        Shot("sign-in", "/login", None, "#login-submit"),
        Shot("404", "/no-such-page", "regulator", "h1"),
    ]


def _private_settings(folder: Path) -> None:
    """Point every setting that writes at ``folder``, before anything reads the settings."""
    runtime = folder / "runtime"
    os.environ.update({
        "TRACKER_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}", "TRACKER_ENVIRONMENT": "development",
        "TRACKER_INBOX_DIR": str(runtime / "inbox"), "TRACKER_ARCHIVE_DIR": str(runtime / "archive"),
        "TRACKER_REJECTED_DIR": str(runtime / "rejected"), "TRACKER_SPOOL_DIR": str(runtime / "spool"),
        "TRACKER_ALERT_LOG_DIR": str(runtime / "alert-logs"),
        "TRACKER_SERVED_ADDRESS_PATH": str(runtime / "served-address.json"),
        "TRACKER_AUDIT_CHECKPOINT_PATH": str(runtime / "audit-checkpoints.jsonl"),
    })


def _targets() -> tuple[int, int, str]:
    """The pages with an id: Llama 3.1 405B, its newest alert, and Meta's training-run filing."""
    from sqlmodel import Session, col, select

    from tracker.store.db import get_engine
    from tracker.store.models import AISystem, Alert, Filing

    with Session(get_engine()) as session:
        system = session.exec(select(AISystem).where(AISystem.name == "Llama 3.1 405B")).one()
        alert = session.exec(select(Alert).where(Alert.system_id == system.id)
                             .order_by(col(Alert.id).desc())).first()
        filing = session.exec(select(Filing).where(Filing.provider_id == system.provider_id,
                                                   Filing.kind == "training_runs")).first()
        assert system.id is not None and alert is not None and alert.id is not None and filing is not None
        return system.id, alert.id, filing.accession


@contextmanager
def _serving() -> Iterator[str]:
    import waitress.server

    from tracker.config import get_settings
    from tracker.web.server import create_server

    server = waitress.server.create_server(create_server(get_settings()), host="127.0.0.1", port=0, threads=6)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        server.close()


def _sign_in(page: Any, account: str) -> None:
    page.goto("/login")
    page.fill("#username", account)
    page.fill("#password", ACCOUNTS[account])
    page.click("#login-submit")
    page.wait_for_selector("#whoami")


def _settle(page: Any, ready: str) -> None:
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    # Dash marks a component that waits for a callback; the picture is taken once none does.
    page.wait_for_selector("[data-dash-is-loading='true']", state="detached")
    page.wait_for_timeout(400)


def take(out: Path, widths: tuple[int, ...], pages: set[str] | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from tracker import demo
    from tracker.config import get_settings
    from tracker.registry.pipeline import today_utc
    from tracker.store.db import get_engine

    demo.configure_logging(verbose=False)
    demo.prepare(get_engine(), get_settings(), today_utc())
    system_id, alert_id, accession = _targets()
    shots = [s for s in _shots(system_id, alert_id, accession) if pages is None or s.name in pages]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with _serving() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        for width in widths:
            for account in (None, *ACCOUNTS):
                wanted = [s for s in shots if s.account == account]
                if not wanted:
                    continue
                context = browser.new_context(base_url=url, viewport={"width": width, "height": HEIGHT})
                context.set_default_timeout(30_000)
                page = context.new_page()
                if account is not None:
                    _sign_in(page, account)
                for shot in wanted:
                    page.goto(shot.path)
                    _settle(page, shot.ready)
                    target = out / f"{shot.name}-{width}.png"
                    page.screenshot(path=str(target), animations="disabled")
                    written.append(target)
                    print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                          f"{target.stat().st_size // 1024} KB")
                context.close()
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (default docs/screenshots)")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="viewport widths in px, e.g. 1400,1024")
    parser.add_argument("--pages", help="only these, e.g. overview,alerts (default: every page)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is not installed", file=sys.stderr)
        return 1
    widths = tuple(int(w) for w in args.widths.split(","))
    with tempfile.TemporaryDirectory(prefix="tracker-screenshots-") as folder:
        _private_settings(Path(folder))
        take(args.out.resolve(), widths, set(args.pages.split(",")) if args.pages else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

