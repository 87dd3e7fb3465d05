"""The scheduler: its own process (``tracker scheduler``), one leader at a time.

``leader`` elects the one active instance, ``jobs`` holds the thin, idempotent job wrappers,
``main`` builds the APScheduler and runs it while leadership lasts.
"""
