"""The HTTP API for providers (a Flask blueprint mounted by tracker.web.server)."""

from tracker.api.routes import api_blueprint

__all__ = ["api_blueprint"]
