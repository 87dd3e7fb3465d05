"""The web process: one Flask app serving the HTTP API (and, later, the dashboard)."""
