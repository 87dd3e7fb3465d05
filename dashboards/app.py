"""The Dash application, mounted on the tracker's Flask server.

Pages live in ``dashboards/pages`` (one module per page, each calling ``dash.register_page``).
Everything is served from this server (``serve_locally=True``, theme CSS in ``assets/``): no CDN,
which is also what the Content-Security-Policy in ``tracker.web.security`` allows.
"""

from __future__ import annotations

from pathlib import Path

import dash
import flask

from dashboards.components.shell import shell
from tracker.web.security import CSP_HASHES_KEY

HERE = Path(__file__).resolve().parent


def create_dash(server: flask.Flask) -> dash.Dash:
    app = dash.Dash(
        # This module's name, not the package's: Dash resolves its root from a module file, and an
        # editable install made before dashboards/ had an __init__ maps the package as a namespace.
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash 4 types say bool; a Flask app is accepted
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        serve_locally=True,
        # Pages build their components on demand, so callbacks refer to ids not in the first layout.
        suppress_callback_exceptions=True,
        title="Compute threshold tracker",
        update_title=None,  # type: ignore[arg-type]  # None turns the "Updating..." title off
    )
    app.layout = shell
    # Dash's inline bootstrap script(s) may only run by hash; cheap enough to compute per response,
    # and always current (pages register an inline clientside callback at start-up).
    server.extensions[CSP_HASHES_KEY] = app.csp_hashes
    return app
