"""Build the Flask app and serve it with waitress (a production WSGI server).

The dashboard mounts Dash on the same Flask app later (``dash.Dash(server=app)``); everything here
is what both need: settings, the database engine, the upload cap and the API blueprint.
"""

from __future__ import annotations

import flask

from tracker.api import api_blueprint
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

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- dashboard block (issue 6): accounts, security headers, the Dash app ---
    from dashboards.app import create_dash
    from tracker.web import auth, security

    security.install(app)
    auth.install(app, settings)
    create_dash(app)
    # --- end dashboard block ---
    return app


def serve(host: str = "127.0.0.1", port: int = 8050, settings: Settings | None = None) -> None:
    import waitress

    settings = settings or get_settings()
    app = create_server(settings)
    # waitress buffers request bodies itself; cap it too so an oversized upload is refused there.
    waitress.serve(app, host=host, port=port,
                   max_request_body_size=settings.max_upload_bytes)
