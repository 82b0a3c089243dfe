"""Slowing down password guessing: after a few failed sign-ins for a name, or from one client,
each further try must wait twice as long as the one before (up to a ceiling).

Kept in memory by the server process (a restart forgets it); the clock is passed in, so tests
never wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 2  # a typo or two costs nothing
FIRST_DELAY_S = 2.0
MAX_DELAY_S = 300.0
FORGET_AFTER_S = 3600.0  # a name or client quiet this long starts afresh


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float


class SignInThrottle:
    """Failed sign-ins per key (``"name:alice"``, ``"client:10.0.0.7"``) and how long each key must
    wait before its next try."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait_s(self, *keys: str) -> float:
        """Seconds before any of ``keys`` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            return max((f.blocked_until - now for k in keys if (f := self._failures.get(k))), default=0.0)

    def failed(self, *keys: str) -> float:
        """Count a failed try for each key; the wait before the next one."""
        now = self._clock()
        with self._lock:
            self._failures = {k: f for k, f in self._failures.items() if now - f.last < FORGET_AFTER_S}
            for key in keys:
                failures = self._failures.setdefault(key, _Failures(0, now, now))
                failures.count += 1
                failures.last = now
                failures.blocked_until = now + delay_s(failures.count)
        return self.wait_s(*keys)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def delay_s(failures: int) -> float:
    """The wait after ``failures`` failed tries in a row: none for the first few, then doubling."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(FIRST_DELAY_S * 2 ** (failures - FREE_FAILURES - 1), MAX_DELAY_S)
