"""`tracker serve` over a real socket: where it may listen, the JSON answers of the API's edges
(oversized bodies, unknown paths, wrong methods), waitress's own errors and stopping on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.reliability.helpers import ROOT, Server, free_port, running_server, server_env
from tracker.config import DEVELOPMENT_SECRET
from tracker.web.listener import InsecureSecretError, check_secret, is_loopback, waitress_body_cap

CAP_BYTES = 200_000
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Cache-Control")


def _api_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    message = response.json()["errors"][0]["message"]
    assert isinstance(message, str) and message
    return message


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("10.0.0.5", False), ("tracker.example", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_placeholder_secret_is_refused_off_loopback() -> None:
    for secret in (DEVELOPMENT_SECRET, "short-but-set"):
        with pytest.raises(InsecureSecretError, match="TRACKER_SECRET_KEY"):
            check_secret("0.0.0.0", secret)
        warning = check_secret("127.0.0.1", secret)
        assert warning is not None and "TRACKER_SECRET_KEY" in warning
    assert check_secret("0.0.0.0", "r" * 48) is None


def test_tracker_serve_refuses_the_placeholder_on_every_interface(db_url: str, tmp_path: Path) -> None:
    env = server_env(db_url, tmp_path)
    env.pop("TRACKER_SECRET_KEY")
    env["TRACKER_ENVIRONMENT"] = "development"
    done = subprocess.run([sys.executable, "-m", "tracker", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert b"refusing to serve on 0.0.0.0" in done.stderr and b"TRACKER_SECRET_KEY" in done.stderr


def test_placeholder_secret_on_loopback_is_a_warning(db_url: str, tmp_path: Path) -> None:
    with running_server(db_url, tmp_path, cli=True, TRACKER_SECRET_KEY=DEVELOPMENT_SECRET,
                        TRACKER_ENVIRONMENT="development") as server:
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        assert "development placeholder" in server.stderr()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Server:
    with running_server(db_url, tmp_path, cli=True, TRACKER_MAX_UPLOAD_BYTES=str(CAP_BYTES)) as running:
        yield running  # type: ignore[misc]


def test_api_edges_answer_json_over_a_real_socket(server: Server) -> None:
    base = server.url
    # Unknown API paths: a JSON 404, not the dashboard's HTML with 200.
    for path in ("/api/v1/nope", "/api/v1/disclosures/x/y", "/api/v2/disclosures", "/api", "/api/"):
        assert "no API resource" in _api_error(requests.get(base + path, timeout=10), 404), path
    assert _api_error(requests.post(f"{base}/api/v1/nope", timeout=10), 404)
    # Known path, wrong method: a JSON 405 with Allow.
    wrong = requests.delete(f"{base}/api/v1/disclosures", timeout=10)
    assert "not allowed" in _api_error(wrong, 405) and "POST" in wrong.headers["Allow"]
    # Pages still get the dashboard.
    assert requests.get(f"{base}/login", timeout=10).headers["Content-Type"].startswith("text/html")


def test_oversized_uploads_get_the_documented_json_413(server: Server) -> None:
    url = f"{server.url}/api/v1/disclosures"
    auth = {"Authorization": "Bearer ctt_not-a-real-token"}
    # Just over the app's cap: the app answers (before authentication, before reading the body).
    body = b"x" * (CAP_BYTES + 10)
    message = _api_error(requests.post(url, data=body, headers=auth, timeout=30), 413)
    assert f"cap of {CAP_BYTES} bytes" in message
    # Far over, past waitress's own cap too: waitress answers, in the same JSON, with our headers.
    declared = waitress_body_cap(CAP_BYTES) + 1
    raw = _raw(server, f"POST /api/v1/disclosures HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n"
                       "Authorization: Bearer ctt_x\r\n\r\n")
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"application/json" in head and b"X-Content-Type-Options: nosniff" in head
    assert f"cap of {CAP_BYTES} bytes".encode() in payload
    # Chunked (no declared length) over the cap: JSON 413 as well.
    chunked = requests.post(url, data=iter([b"y" * 65536] * 5), headers=auth, timeout=30)
    assert chunked.status_code == 413 and chunked.headers["Content-Type"].startswith("application/json")


def _raw(server: Server, request: str) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_waitress_own_bad_request_carries_the_security_headers(server: Server) -> None:
    raw = _raw(server, "GET /login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    head = raw.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 400"), head
    for name in SECURITY_HEADERS:
        assert name.encode() in head, name


def test_sigterm_stops_the_server_cleanly(db_url: str, tmp_path: Path) -> None:
    with running_server(db_url, tmp_path, cli=True) as server:
        slow = requests.Session()
        assert slow.get(f"{server.url}/login", timeout=10).status_code == 200
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=15)
        assert code == 0, server.stderr()[-2000:]
        assert time.monotonic() - started < 8
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/healthz", timeout=2)
