"""Waiting for another writer: SQLite's busy timeout, and retries where SQLite gives up anyway."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

BUSY_TIMEOUT_S = 30.0
LOCK_RETRIES = 5
T = TypeVar("T")


def retry_if_locked(action: Callable[[], T]) -> T:
    """busy_timeout waits for the lock, yet SQLite still gives up in some cases (a writer holding
    it for longer than the timeout, WAL recovery by another process): back off and try again."""
    for attempt in range(LOCK_RETRIES - 1):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not any(word in str(exc).lower() for word in ("locked", "busy")):
                raise
        time.sleep(0.1 * 2 ** attempt)
    return action()
