"""Process helpers for the tests of background training runs."""

from __future__ import annotations

import subprocess
import sys


def dead_pid() -> int:
    """The id of a process that has already exited (a run whose trainer died)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
