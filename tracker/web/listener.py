"""The waitress listener around the Flask app: where it may listen, its own errors, and stopping.

- With the development placeholder secret anyone can forge a session cookie, so serving it on
  anything but a loopback address is refused; on loopback it is a warning.
- Waitress buffers each request body before the app runs and answers bodies over its own cap
  itself, as plain text. Its cap is set above the app's (``TRACKER_MAX_UPLOAD_BYTES``) so that the
  app answers an oversized upload with the API's JSON 413; what waitress still answers itself
  (bodies far over the cap, malformed requests) carries the security headers and, on ``/api/``
  paths, the API's JSON error shape.
- SIGTERM (what process managers send) stops like Ctrl-C: no new connections, requests in hand
  get a few seconds to finish, then the process exits 0.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from tracker.config import DEVELOPMENT_SECRET, Settings
from tracker.web.api_errors import error_body, is_api_path
from tracker.web.security import bare_error_headers

log = logging.getLogger(__name__)

MIN_SECRET_CHARS = 32
# Multipart framing around the file; the app's own cap applies to the file and answers first.
BODY_MARGIN_BYTES = 1024 * 1024


class InsecureSecretError(RuntimeError):
    """Refused to listen on a reachable address with a secret anyone can know."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name, "0.0.0.0" or "::": reachable from elsewhere


def check_secret(host: str, secret_key: str) -> str | None:
    """Raise when the secret may not be served on ``host``; a warning to print, or None."""
    weak = secret_key == DEVELOPMENT_SECRET or len(secret_key) < MIN_SECRET_CHARS
    if not weak:
        return None
    what = ("the development placeholder" if secret_key == DEVELOPMENT_SECRET
            else f"shorter than {MIN_SECRET_CHARS} characters")
    advice = ("set TRACKER_SECRET_KEY to a long random value, for example the output of "
              "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, and TRACKER_ENVIRONMENT=production")
    if not is_loopback(host):
        raise InsecureSecretError(f"refusing to serve on {host}: TRACKER_SECRET_KEY is {what}, so anyone could "
                                  f"forge a session; {advice}")
    return f"TRACKER_SECRET_KEY is {what}: acceptable on {host} (this machine only), never on a reachable address"


def waitress_body_cap(max_upload_bytes: int) -> int:
    return max_upload_bytes + BODY_MARGIN_BYTES


def _error_task_class(max_upload_bytes: int, https: bool) -> type:
    from waitress.task import ErrorTask

    class TrackerErrorTask(ErrorTask):
        """Waitress's own error response, with our headers and, for the API, a JSON body."""

        def execute(self) -> None:
            error = self.request.error
            path = getattr(self.request, "path", "") or ""
            if is_api_path(path):
                message = (f"the upload is larger than the cap of {max_upload_bytes} bytes" if error.code == 413
                           else f"{error.reason}: {error.body}")
                body = json.dumps(error_body(message)).encode()
                headers = [("Content-Type", "application/json")]
            else:
                _, headers, body = error.to_response(self.channel.server.adj.ident)
            self.status = f"{error.code} {error.reason}"
            self.response_headers.extend([*headers, *bare_error_headers(https)])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    return TrackerErrorTask


def create_listener(app: Any, host: str, port: int, settings: Settings) -> Any:
    """A waitress server for ``app`` (not yet running), with the caps and error responses above."""
    import waitress
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer

    error_task = _error_task_class(settings.max_upload_bytes, settings.base_url.startswith("https://"))

    class TrackerChannel(HTTPChannel):
        error_task_class = error_task

    sockets: dict[int, Any] = {}
    # More threads than uploads parsed at once (tracker/filing/admission.py), so that heavy uploads
    # never hold every thread and sign-in and pages stay responsive.
    server = waitress.create_server(app, map=sockets, host=host, port=port, ident="tracker",
                                    threads=max(settings.server_threads, settings.max_concurrent_parses + 2),
                                    max_request_body_size=waitress_body_cap(settings.max_upload_bytes))
    for listener in list(sockets.values()):
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = TrackerChannel
    return server


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into the KeyboardInterrupt waitress already stops cleanly on (Ctrl-C's path)."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        log.info("received SIGTERM: finishing requests in hand and stopping")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(app: Any, host: str, port: int, settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C; returns normally after a clean stop."""
    logging.basicConfig()  # idempotent, as waitress.serve does: its warnings must reach stderr
    warning = check_secret(host, settings.secret_key)
    if warning:
        log.warning(warning)
    server = create_listener(app, host, port, settings)
    from tracker.alerts.links import record_served_address  # alert links follow the served address

    record_served_address(settings, host, int(server.effective_port))
    server.print_listen("Serving on http://{}:{}")
    with stop_on_sigterm():
        try:
            server.run()  # waitress: KeyboardInterrupt ends the loop and drains its threads
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
