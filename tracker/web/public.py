"""What an anonymous visitor may reach on the dashboard: the public register, and nothing else.

Every page and every Dash callback otherwise needs a session (tracker.web.auth's gate). The
public register (contract §6: the page at ``/register``) is the one exception, and it is granted
here, by name, in one place:

- ``GET`` of the page itself and of the two documents the Dash renderer loads before any page
  (``/_dash-layout``: the navigation shell, which shows no private link to an anonymous visitor;
  ``/_dash-dependencies``: the callback graph, ids only, no data);
- ``POST /_dash-update-component`` for Dash's page router only when the requested path is a public
  page, and for the callbacks listed in ``PUBLIC_CALLBACK_OUTPUTS``, which return public fields
  whatever their inputs (dashboards/pages/register.py).

Dash picks the function by the ``output`` key of the body and passes the inputs by position, so
the check looks at exactly those two things; any other callback stays behind the sign-in gate and
answers 401 with no data.
"""

from __future__ import annotations

from typing import Any

import flask

PUBLIC_PAGE_PATHS = frozenset({"/register"})
# Dash's keys for the register page's callbacks (multi-output keys are "..a.prop...b.prop..").
REGISTER_CALLBACK_OUTPUT = "..register-results.children...register-csv.href...register-json.href.."
PUBLIC_CALLBACK_OUTPUTS = frozenset({REGISTER_CALLBACK_OUTPUT})
PAGE_ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
DASH_BOOTSTRAP_PATHS = frozenset({"/_dash-layout", "/_dash-dependencies"})
DASH_CALLBACK_PATH = "/_dash-update-component"


def is_public_page(pathname: Any) -> bool:
    return isinstance(pathname, str) and (pathname.rstrip("/") or "/") in PUBLIC_PAGE_PATHS


def _routes_to_public_page(body: dict[str, Any]) -> bool:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        return False
    return is_public_page(inputs[0].get("value"))


def is_public_request(request: flask.Request) -> bool:
    """True when ``request`` may be served to a visitor who is not signed in."""
    if request.method == "GET":
        return is_public_page(request.path) or request.path in DASH_BOOTSTRAP_PATHS
    if request.method != "POST" or request.path != DASH_CALLBACK_PATH:
        return False
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return False
    output = body.get("output")
    if output in PUBLIC_CALLBACK_OUTPUTS:
        return True
    return output == PAGE_ROUTER_OUTPUT and _routes_to_public_page(body)
