"""Build the Flask app and serve it with waitress (a production WSGI server).

The dashboard mounts Dash on the same Flask app later (``dash.Dash(server=app)``); everything here
is what both need: settings, the database engine, the upload cap and the API blueprint.
"""

from __future__ import annotations

import flask

from tracker.api import api_blueprint
from tracker.api.certificates import certificates_blueprint
from tracker.api.register import register_blueprint
from tracker.api.registrations import registrations_blueprint
from tracker.api.routes import ENGINE_KEY
from tracker.config import Settings, get_settings
from tracker.store.db import get_engine


def create_server(settings: Settings | None = None) -> flask.Flask:
    settings = settings or get_settings()
    app = flask.Flask("tracker")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["tracker_settings"] = settings
    app.extensions[ENGINE_KEY] = get_engine(settings.database_url)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(certificates_blueprint)  # certificate verification: no login (contract §6)
    app.register_blueprint(register_blueprint)  # the public register: no login (contract §6)
    app.register_blueprint(registrations_blueprint)  # a provider's registrations: bearer token

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- dashboard block (issue 6): accounts, security headers, the Dash app ---
    from dashboards.app import create_dash
    from tracker.web import auth, security

    security.install(app)
    auth.install(app, settings)
    create_dash(app)
    from dashboards.components import inputs

    inputs.install(app)  # a malformed callback input answers a JSON 400, not a 500
    # --- end dashboard block ---
    from tracker.web import api_errors

    api_errors.install(app)  # JSON 404/405 for every /api/ path the API does not serve
    security.trust_proxies(app, settings.trusted_proxy_count)
    return app


def serve(host: str = "127.0.0.1", port: int = 8050, settings: Settings | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C (tracker/web/listener.py: caps, error responses, stopping)."""
    from tracker.web import listener

    settings = settings or get_settings()
    listener.check_secret(host, settings.secret_key)  # refuse before any other work
    listener.run(create_server(settings), host, port, settings)
