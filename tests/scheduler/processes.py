"""A real ``python -m tracker.scheduler`` process and what its log says."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LINE = re.compile(r"^(?P<at>\S+)Z \w+ pid=(?P<pid>\d+) (?P<logger>\S+): (?P<msg>.*)$")


@dataclass
class SchedulerProcess:
    name: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def job_starts(self) -> list[tuple[float, str]]:
        """(Unix time, job id) of every job run this process started."""
        starts = []
        for line in self.lines():
            match = LINE.match(line)
            if match and match["msg"].startswith("job ") and match["msg"].endswith(" started"):
                assert int(match["pid"]) == self.pid
                at = datetime.fromisoformat(match["at"]).replace(tzinfo=UTC).timestamp()
                starts.append((at, match["msg"].split()[1]))
        return starts

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines())

    def wait_for(self, text: str, timeout_s: float = 20.0) -> float:
        """Poll the log until ``text`` appears; returns when (monotonic) it was seen."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.has(text):
                return time.monotonic()
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n"
                                     + "\n".join(self.lines()[-30:]))
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: {text!r} not logged within {timeout_s}s:\n"
                             + "\n".join(self.lines()[-30:]))
