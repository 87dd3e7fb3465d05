"""``python -m tracker`` runs the CLI, like the ``tracker`` console script."""

from tracker.cli.main import run

run()
