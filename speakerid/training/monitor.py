"""A run's progress for whoever watches (:class:`RunMonitor`): ``status.json``, ``history.csv`` and
the ``STOP`` request, kept by the driver and the trainer while a run trains; the app and the CLI
read them (:func:`.train.read_status`, :func:`.train.read_history`)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

HISTORY_FIELDS = ["epoch", "loss", "same_distance", "different_distance", "eer", "learning_rate",
                  "seconds"]


class RunMonitor:
    """Writes status and history for whoever watches (app, CLI); notices stop requests."""

    def __init__(self, run_dir: Path, epochs: int) -> None:
        self.run_dir = run_dir
        self.epochs = epochs
        self.stop_requested = False
        self._last_write = 0.0
        self._status: dict[str, Any] = {"state": "starting", "epoch": 0, "epochs": epochs, "step": 0,
                                        "steps": 0, "message": "", "pid": os.getpid()}
        (run_dir / "STOP").unlink(missing_ok=True)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stop_requested", True))

    def should_stop(self) -> bool:
        if (self.run_dir / "STOP").exists():
            self.stop_requested = True
        return self.stop_requested

    def update(self, force: bool = False, **fields: Any) -> None:
        self._status.update(fields)
        now = time.time()
        if force or now - self._last_write > 1.0:
            self._status["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            _atomic_text(self.run_dir / "status.json", json.dumps(self._status, indent=2))
            self._last_write = now

    def write_history(self, rows: list[dict[str, float]]) -> None:
        """history.csv replaced whole by the checkpoint's rows: never torn, never ahead of it."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in HISTORY_FIELDS} for row in rows)
        _atomic_text(self.run_dir / "history.csv", text.getvalue())


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
