"""``python -m tracker.scheduler``: the same as ``tracker scheduler``."""

from __future__ import annotations

import typer

from tracker.cli.scheduler import scheduler

if __name__ == "__main__":
    typer.run(scheduler)
