"""Rows of float32 kept in an anonymous temporary file instead of memory.

A long recording's resampled signal and its features grow with its length; written here and read
back a window at a time (``os.pread``: nothing is mapped, so the page cache that holds them is not
part of the process), they cost disk, not memory. The file is deleted by the system when closed,
even after a crash.
"""

from __future__ import annotations

import os
import tempfile
from types import TracebackType

import numpy as np

ITEM = np.dtype("<f4").itemsize


class Spill:
    """An append-only table of float32 rows of ``width`` values each, on disk."""

    def __init__(self, width: int = 1) -> None:
        self.width = width
        self.rows = 0
        self._file = tempfile.TemporaryFile(prefix="speakerid-")

    def append(self, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype="<f4").reshape(-1, self.width)
        self._file.write(data.tobytes())
        self.rows += len(data)

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows ``start`` to ``start + count`` (fewer at the end), shape (rows, width); 1-D when
        ``width`` is 1."""
        start, stop = max(start, 0), min(start + count, self.rows)
        if stop <= start:
            return np.zeros((0, self.width) if self.width > 1 else 0, np.float32)
        self._file.flush()
        size = (stop - start) * self.width * ITEM
        data = os.pread(self._file.fileno(), size, start * self.width * ITEM)
        rows = np.frombuffer(data, dtype="<f4").astype(np.float32)
        return rows.reshape(-1, self.width) if self.width > 1 else rows

    def blocks(self, start: int, stop: int, size: int):
        """Rows ``start`` to ``stop`` in blocks of at most ``size`` rows."""
        for first in range(start, stop, size):
            yield self.read(first, min(size, stop - first))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
