"""A checkout running the demo: `make demo PORT=N` reaches `tracker demo --port N` (and the README
says so), and the files the demo and its scheduler write beside the database stay out of git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker.config import RUNTIME_DIR
from tracker.scheduler.leader import FileLeaderLock, lock_for

ROOT = Path(__file__).resolve().parents[2]


def _in_git_checkout() -> bool:
    return shutil.which("git") is not None and (ROOT / ".git").exists()


@pytest.mark.skipif(not _in_git_checkout(), reason="not a git checkout")
@pytest.mark.parametrize("database", [ROOT / "data" / "tracker.db", ROOT / "mine.db", None])
def test_the_scheduler_lock_file_is_ignored_by_git(database: Path | None) -> None:
    engine = sa.create_engine(f"sqlite:///{database}" if database else "sqlite://")  # opens no file
    lock = lock_for(engine)
    path = Path(f"{database}.scheduler.lock") if database else RUNTIME_DIR / "scheduler.lock"
    assert isinstance(lock, FileLeaderLock) and lock.description == f"file lock {path}"
    # `git check-ignore` exits 0 when the path is ignored, 1 when git would offer to add it.
    checked = subprocess.run(["git", "check-ignore", "--quiet", "--no-index", str(path.relative_to(ROOT))],
                             cwd=ROOT, check=False)
    assert checked.returncode == 0, f"{path} is not ignored by git"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_takes_a_port_and_the_readme_says_how() -> None:
    # -n prints the commands without running them (nor the install they depend on).
    planned = subprocess.run(["make", "-n", "demo", "PORT=8123"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "tracker demo --port 8123" in planned
    default = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "tracker demo --port 8050" in default
    assert "make demo PORT=" in (ROOT / "README.md").read_text(encoding="utf-8")
