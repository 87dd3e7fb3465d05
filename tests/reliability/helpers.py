"""Shared helpers of the reliability suite: a production server in a subprocess, sign-in over HTTP,
process memory readings and small database look-ups. Everything stays on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tracker.auth.tokens import create_token
from tracker.auth.users import create_user
from tracker.store.models import Provider

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long reliability password 8"
GOOD_RUNS = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"
# The production server with every log record (DEBUG, SQLAlchemy's statements included) on stderr.
_LAUNCH = (
    "import logging, sys\n"
    "logging.basicConfig(level=getattr(logging, sys.argv[1]), stream=sys.stderr,\n"
    "                    format='%(asctime)s %(levelname)s %(name)s: %(message)s')\n"
    "logging.getLogger('sqlalchemy').setLevel(getattr(logging, sys.argv[1]))  # it defaults itself to WARNING\n"
    "from tracker.web.server import serve\n"
    "serve('127.0.0.1', int(sys.argv[2]))\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(db_url: str, runtime: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update({
        "TRACKER_DATABASE_URL": db_url, "TRACKER_ENVIRONMENT": "test", "TRACKER_SECRET_KEY": "s" * 48,
        "TRACKER_INBOX_DIR": str(runtime / "inbox"), "TRACKER_ARCHIVE_DIR": str(runtime / "archive"),
        "TRACKER_REJECTED_DIR": str(runtime / "rejected"), "PYTHONDONTWRITEBYTECODE": "1",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def running_server(db_url: str, runtime: Path, *, log_level: str | None = None, cli: bool = False,
                   **env: str) -> Iterator[Server]:
    """``tracker serve`` (``cli=True``) or ``tracker.web.server.serve`` with logging at ``log_level``,
    in its own process on a free loopback port; stopped (SIGTERM, then SIGKILL) on exit."""
    runtime.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if cli:
        command = [sys.executable, "-m", "tracker", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [sys.executable, "-c", _LAUNCH, log_level or "WARNING", str(port)]
    stdout = (runtime / f"server-{port}.out").open("wb")
    stderr_path = runtime / f"server-{port}.err"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=server_env(db_url, runtime, **env), stdout=stdout,
                               stderr=stderr)
    server = Server(f"http://127.0.0.1:{port}", process, stderr_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {server.stderr()[-2000:]}")
            try:
                if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up within 60 s: {server.stderr()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        stdout.close()
        stderr.close()


def proc_status_mib(pid: int, field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak resident memory) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def csrf_token(http: requests.Session, base: str) -> str:
    page = http.get(f"{base}/login", timeout=30).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def sign_in(http: requests.Session, base: str, username: str, password: str = PASSWORD) -> requests.Response:
    token = csrf_token(http, base)
    return http.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token,
                                            "next": "/"}, headers={"Origin": base}, allow_redirects=False,
                     timeout=120)  # fifty clients signing in at once queue for the password hash


def callback_body(output: str, inputs: list[Any], state: list[Any] | None = None,
                  changed: str | None = None) -> dict[str, Any]:
    """The JSON a browser posts for one Dash callback. ``output`` is ``id.prop`` or Dash's multi-output
    form ``..a.prop...b.prop..``; a pattern-matching ALL input is a (possibly empty) list."""
    names = output.strip(".").split("...") if output.startswith("..") else [output]
    parsed = [{"id": n.rpartition(".")[0], "property": n.rpartition(".")[2]} for n in names]
    first = inputs[0]
    return {"output": output, "outputs": parsed if output.startswith("..") else parsed[0], "inputs": inputs,
            "state": state or [], "changedPropIds": [changed or f"{first['id']}.{first['property']}"]}


def dash_callback(http: requests.Session, base: str, output: str, inputs: list[Any],
                  state: list[Any] | None = None, changed: str | None = None) -> requests.Response:
    """One Dash callback POST over HTTP, as the browser sends it."""
    return http.post(f"{base}/_dash-update-component", json=callback_body(output, inputs, state, changed),
                     headers={"Origin": base}, timeout=60)


def seed_accounts(engine: Engine, providers: list[str], *, regulator: str | None = "reg",
                  tokens_per_provider: int = 1) -> dict[str, list[str]]:
    """Providers, one provider user each (``<slug>-user``), a regulator, and API tokens; returns the
    plaintext tokens per provider slug."""
    tokens: dict[str, list[str]] = {}
    with Session(engine) as session, session.begin():
        for slug in providers:
            provider = Provider(slug=slug, name=slug.title())
            session.add(provider)
            session.flush()
            assert provider.id is not None
            user = create_user(session, username=f"{slug}-user", role="provider", password=PASSWORD,
                               provider_slug=slug, actor="test")
            tokens[slug] = [create_token(session, user_id=user.id, provider_id=provider.id, name=f"t{i}")[0]
                            for i in range(tokens_per_provider)]
        if regulator:
            create_user(session, username=regulator, role="regulator", password=PASSWORD, actor="test")
    return tokens


def database_text(engine: Engine) -> str:
    """Every value of every table of the application, as one text (to search for secrets)."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()
