"""Real receivers for alert tests: an HTTP webhook server and an SMTP server on loopback ports."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    key: str
    timestamp: str
    signature: str
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        owner = self.server.owner
        action = owner.record(Received(self.headers.get("Idempotency-Key", ""),
                                       self.headers.get("X-Tracker-Timestamp", ""),
                                       self.headers.get("X-Tracker-Signature", ""), body))
        if action == "die":
            # The process "dies" after reading the request and before answering: the sender
            # never learns whether it arrived.
            owner.stop()
            self.close_connection = True
            return
        if action == "slow":
            time.sleep(owner.slow_seconds)
        status = 500 if action == "error" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class WebhookReceiver:
    """Records every POST; ``behaviour(n)`` decides the n-th request's fate (1-based):
    ``ok``, ``error`` (HTTP 500), ``slow`` (answers after ``slow_seconds``) or ``die``."""

    def __init__(self, behaviour: Callable[[int], str] | None = None, port: int | None = None,
                 slow_seconds: float = 1.5) -> None:
        self.port = port or free_port()
        self.behaviour = behaviour or (lambda _n: "ok")
        self.slow_seconds = slow_seconds
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def record(self, item: Received) -> str:
        with self._lock:
            self.received.append(item)
            return self.behaviour(len(self.received))

    def start(self) -> WebhookReceiver:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def keys(self) -> list[str]:
        return [r.key for r in self.received]


class _MailHandler:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


class SmtpReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = _MailHandler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[bytes]:
        return self.handler.messages

    def start(self) -> SmtpReceiver:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
