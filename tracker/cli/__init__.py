"""The ``tracker`` command line (Typer). Each module registers the commands of one area."""
