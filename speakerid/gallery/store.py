"""One gallery file's SQLite connection, shared by threads: writes are single ``BEGIN IMMEDIATE``
transactions (all there or not at all), retried when another process holds the lock; a new file
gets the schema, an older format is migrated on opening.

SQLite because the gallery must be one file a person can copy, must survive a crash in the middle
of an enrolment, and must let the app and the CLI enrol and identify at the same time: the file is
in WAL mode, and everything is validated and embedded *before* a write starts.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SpeakerIDError
from ..i18n import _
from . import schema
from .locking import BUSY_TIMEOUT_S, retry_if_locked

T = TypeVar("T")


class Store:
    """The connection to one gallery file, its lock, and the count of this connection's writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.own_writes = 0  # PRAGMA data_version does not change for this connection's writes
        self.conn = connect(path)
        try:
            self._initialise()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise SpeakerIDError(_("{path} is not a speakerid gallery ({exc})").format(
                path=path, exc=exc)) from exc
        except BaseException:
            self.conn.close()
            raise

    def _initialise(self) -> None:
        """Create the schema in a new file; check it in an existing one, migrating older formats."""
        if self.read_one("SELECT COUNT(*) FROM sqlite_master") == 0:
            self.write(schema.create_schema)
        if schema.check_schema(self.conn, self.path, schema.READABLE_VERSIONS) != schema.SCHEMA_VERSION:
            self.write(schema.migrate)
        schema.check_schema(self.conn, self.path)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction, retried while another writer holds the file."""
        with self.lock:
            result = retry_if_locked(lambda: transaction(self.conn, work))
            self.own_writes += 1
            return result

    def read_one(self, sql: str, params: tuple = ()) -> Any:
        with self.lock:
            row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def read_all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def read_snapshot(self, work: Callable[[sqlite3.Connection, tuple[int, int]], T]) -> T:
        """``work(conn, version)`` inside one read transaction: ``version`` changes whenever this
        or another connection wrote, so what ``work`` read can be cached under it."""
        with self.lock:
            self.conn.execute("BEGIN")  # one snapshot for the version and what work reads
            try:
                version = (self.conn.execute("PRAGMA data_version").fetchone()[0], self.own_writes)
                return work(self.conn, version)
            finally:
                self.conn.execute("COMMIT")

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` inside one read transaction (:meth:`read_snapshot` without the version)."""
        return self.read_snapshot(lambda conn, _version: work(conn))

    def backup(self, target: sqlite3.Connection) -> None:
        with self.lock:
            self.conn.backup(target)


def connect(path: Path, what: str = "a speakerid gallery") -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit, see :func:`transaction`.
    ``what`` names the file in the error (the archive's store opens its file the same way)."""
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")  # durable even on power loss, not only on a crash
        retry_if_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise SpeakerIDError(_("{path} is not {what} or cannot be opened ({exc})").format(
            path=path, what=what, exc=exc)) from exc
    return conn


def open_snapshot(path: Path) -> sqlite3.Connection:
    """A read-only connection to another gallery file, inside one read transaction."""
    if not path.is_file():
        raise SpeakerIDError(_("{path}: no such file").format(path=path))
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise SpeakerIDError(_("{path} is not a speakerid gallery ({exc})").format(
            path=path, exc=exc)) from exc
    return conn


def transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one write transaction: all of it is committed, or none of it."""
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock upgrading a read later
    try:
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
