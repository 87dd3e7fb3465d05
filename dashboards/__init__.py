"""The regulator and provider dashboard (Dash, multi-page). Views only: data comes from
``tracker.store.queries`` and the caller's scope from ``tracker.web.auth.current_scope``."""
