"""The archive's one SQLite file: recordings, their speech turns with embeddings, and the voices
that link turns across recordings.

The gallery's guarantees (:mod:`speakerid.gallery`): WAL mode, so the CLI and the app read while
one of them writes; every write one ``BEGIN IMMEDIATE`` transaction, computed in full before it
starts. A recording goes in with all its turns and its voices' new centroids in one transaction,
so it is in the archive whole or not at all: a SIGKILL mid-add loses that recording's model work
and nothing else, and adding it again does it again. Turns keep their embeddings as float16 (half
the bytes; scores move by about 1e-3) with their AS-norm cohort statistics, so no question ever
runs the model again, and each row says which model made it: two models' vectors are never
compared.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import SpeakerIDError
from ..gallery.locking import retry_if_locked
from ..gallery.schema import create_tables, refuse_stored_sql
from ..gallery.store import connect, transaction
from ..i18n import _

SCHEMA_VERSION = 1
TURN_DTYPE = np.dtype("<f2")
VOICE_DTYPE = np.dtype("<f4")
READ_BLOCK = 65_536  # turns read from SQLite at once
T = TypeVar("T")

SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # which model a model folder holds (its files' fingerprint -> encoder id), so that a search
    # knows the model without building its network
    "CREATE TABLE models (fingerprint TEXT PRIMARY KEY, encoder_id TEXT NOT NULL)",
    "CREATE TABLE recordings (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, "
    "title TEXT NOT NULL, media TEXT NOT NULL, sha256 TEXT NOT NULL, duration_s REAL NOT NULL, "
    "speech_s REAL NOT NULL, model_id TEXT NOT NULL, added_at TEXT NOT NULL, "
    "UNIQUE (sha256, model_id))",
    "CREATE TABLE voices (id INTEGER PRIMARY KEY AUTOINCREMENT, model_id TEXT NOT NULL, "
    "centroid BLOB NOT NULL, speech_s REAL NOT NULL)",
    "CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE, "
    "start_s REAL NOT NULL, end_s REAL NOT NULL, speech_s REAL NOT NULL, embedding BLOB NOT NULL, "
    "cohort_mean REAL, cohort_std REAL, voice_id INTEGER REFERENCES voices(id))",
    "CREATE INDEX turns_by_recording ON turns (recording_id)",
    "CREATE INDEX turns_by_voice ON turns (voice_id)",
    "CREATE INDEX recordings_by_source ON recordings (source)",
)


@dataclass(frozen=True)
class RecordingRow:
    """A recording as stored; ``source`` is the path or link as added, ``media`` the file its audio
    is read from (the file itself, or the archive's copy of a link's or an upload's audio)."""

    id: int
    source: str
    title: str
    media: str
    sha256: str
    duration_s: float
    speech_s: float
    model_id: str
    added_at: str


@dataclass(frozen=True)
class NewTurn:
    start_s: float
    end_s: float
    speech_s: float
    embedding: np.ndarray
    cohort: tuple[float, float] | None  # AS-norm statistics of the embedding, None without a cohort
    voice: int | None  # index into NewRecording's voice ids (see ArchiveStore.insert_recording)


@dataclass(frozen=True)
class VoiceUpdate:
    """A voice's centroid after a recording joined it (``id`` None: a new voice)."""

    id: int | None
    centroid: np.ndarray
    speech_s: float


@dataclass(frozen=True)
class TurnTable:
    """Every turn of one model, column-wise, for searching: what a query reads."""

    ids: np.ndarray  # int64
    recording_ids: np.ndarray  # int64
    voice_ids: np.ndarray  # int64, -1 for none
    starts: np.ndarray
    ends: np.ndarray
    speech: np.ndarray
    embeddings: np.ndarray  # (turns, dim) float16
    cohort: tuple[np.ndarray, np.ndarray] | None
    generation: int = 0  # the archive's generation these turns were read at (see ArchiveStore.generation)
    unit: bool = False  # embeddings unit-normalised (a cosine model's search copy: see turn_cache.py)


class ArchiveStore:
    """The archive's SQLite file; one object per process, used from one thread at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._own_writes = 0  # PRAGMA data_version does not change for this connection's writes
        self._conn = connect(self.path, "a speakerid archive")
        try:
            if self._one("SELECT COUNT(*) FROM sqlite_master") == 0:
                self.write(_create_schema)
            _check_schema(self._conn, self.path)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise SpeakerIDError(_("{path} is not a speakerid archive ({exc})").format(
                path=self.path, exc=exc)) from None
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    # --- reading ------------------------------------------------------------------------------
    def version(self) -> int:
        """Changes whenever another connection commits (PRAGMA data_version) or this one does."""
        return int(self._one("PRAGMA data_version")) * 1_000_000 + self._own_writes

    def recordings(self, model_id: str | None = None) -> list[RecordingRow]:
        """Every recording (of one model when given), in the order they were added."""
        sql = "SELECT * FROM recordings" + (" WHERE model_id = ?" if model_id else "") + " ORDER BY id"
        return [RecordingRow(*row) for row in self._conn.execute(sql, (model_id,) if model_id else ())]

    def recording_by_hash(self, sha256: str, model_id: str) -> RecordingRow | None:
        row = self._conn.execute("SELECT * FROM recordings WHERE sha256 = ? AND model_id = ?",
                                 (sha256, model_id)).fetchone()
        return RecordingRow(*row) if row else None

    def recordings_by_source(self, source: str) -> list[RecordingRow]:
        return [RecordingRow(*row) for row in self._conn.execute(
            "SELECT * FROM recordings WHERE source = ? ORDER BY id", (source,))]

    def uses_media(self, media: str) -> bool:
        """Whether a recording (of any model) reads its audio from the file ``media``."""
        return self._one("SELECT 1 FROM recordings WHERE media = ? LIMIT 1", (media,)) is not None

    def recording(self, key: str | int) -> RecordingRow:
        """A recording by id, source (path or link as added), title or sha256; the newest wins."""
        row = self._conn.execute(
            "SELECT * FROM recordings WHERE CAST(id AS TEXT) = ? OR source = ? OR title = ? "
            "OR sha256 = ? ORDER BY id DESC", (str(key),) * 4).fetchone()
        if row is None:
            raise SpeakerIDError(_("{key!r} is not in the archive (give its path or link as added, its "
                                   "title or its number)").format(key=key))
        return RecordingRow(*row)

    def turns(self, model_id: str, recording_id: int | None = None) -> TurnTable:
        """The turns of one model's recordings (of one recording when given), in time order. Read a
        block of rows at a time into arrays sized beforehand: 10 000 hours of turns are read
        without holding them twice."""
        where = "r.model_id = ?" + (" AND t.recording_id = ?" if recording_id is not None else "")
        params: tuple = (model_id,) if recording_id is None else (model_id, recording_id)
        joined = f"FROM turns t JOIN recordings r ON r.id = t.recording_id WHERE {where}"
        self._conn.execute("BEGIN")  # one snapshot for the generation, the count and the rows
        try:
            generation = self.generation()
            count = self._one(f"SELECT COUNT(*) {joined}", params)
            dim = len(self._one(f"SELECT t.embedding {joined} LIMIT 1", params) or b"") // TURN_DTYPE.itemsize
            table = TurnTable(np.zeros(count, np.int64), np.zeros(count, np.int64), np.zeros(count, np.int64),
                              np.zeros(count), np.zeros(count), np.zeros(count),
                              np.zeros((count, dim), TURN_DTYPE),
                              (np.zeros(count, np.float32), np.zeros(count, np.float32)), generation)
            cursor = self._conn.execute(
                "SELECT t.id, t.recording_id, COALESCE(t.voice_id, -1), t.start_s, t.end_s, t.speech_s, "
                f"t.embedding, t.cohort_mean, t.cohort_std {joined} ORDER BY t.recording_id, t.start_s",
                params)
            first, has_cohort = 0, True
            while rows := cursor.fetchmany(READ_BLOCK):
                block = slice(first, first + len(rows))
                columns = list(zip(*rows))
                for array, values in zip((table.ids, table.recording_ids, table.voice_ids, table.starts,
                                          table.ends, table.speech), columns):
                    array[block] = values
                table.embeddings[block] = np.frombuffer(b"".join(columns[6]), TURN_DTYPE).reshape(-1, dim)
                has_cohort = has_cohort and columns[7][0] is not None
                if has_cohort:
                    table.cohort[0][block], table.cohort[1][block] = columns[7], columns[8]
                first += len(rows)
        finally:
            self._conn.execute("COMMIT")
        return table if has_cohort and count else dataclasses.replace(table, cohort=None)

    def voices(self, model_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One model's voices: ids, centroids (voices, dim) and seconds of speech."""
        rows = self._conn.execute("SELECT id, centroid, speech_s FROM voices WHERE model_id = ? "
                                  "ORDER BY id", (model_id,)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), np.zeros(0)
        return (np.array([r[0] for r in rows], np.int64),
                np.stack([np.frombuffer(r[1], VOICE_DTYPE) for r in rows]).astype(np.float32),
                np.array([r[2] for r in rows], np.float64))

    def generation(self) -> int:
        """How many recordings were ever written: it grows with every change to the turns."""
        return int(self._one("SELECT value FROM meta WHERE key = 'generation'") or 0)

    def encoder_id_of(self, fingerprint: str) -> str | None:
        return self._one("SELECT encoder_id FROM models WHERE fingerprint = ?", (fingerprint,))

    # --- writing ------------------------------------------------------------------------------
    def remember_model(self, fingerprint: str, encoder_id: str) -> None:
        self.write(lambda conn: conn.execute("INSERT OR REPLACE INTO models VALUES (?, ?)",
                                             (fingerprint, encoder_id)))

    def insert_recording(self, recording: dict[str, Any], turns: Sequence[NewTurn],
                         voices: Sequence[VoiceUpdate], replaces: int | None = None) -> int:
        """One recording with its turns and its voices' centroids, in one transaction (and, with
        ``replaces``, that recording's older rows deleted in the same one: a re-index for a new
        model). ``turns[i].voice`` indexes ``voices``. Returns the recording's id."""
        def write(conn: sqlite3.Connection) -> int:
            if replaces is not None:
                conn.execute("DELETE FROM recordings WHERE id = ?", (replaces,))
            cursor = conn.execute(
                "INSERT INTO recordings (source, title, media, sha256, duration_s, speech_s, model_id, "
                "added_at) VALUES (:source, :title, :media, :sha256, :duration_s, :speech_s, "
                ":model_id, :added_at)", {**recording, "added_at": datetime.now(UTC).isoformat()})
            recording_id = int(cursor.lastrowid)
            voice_ids = [_write_voice(conn, voice, recording["model_id"]) for voice in voices]
            conn.executemany(
                "INSERT INTO turns (recording_id, start_s, end_s, speech_s, embedding, cohort_mean, "
                "cohort_std, voice_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(recording_id, t.start_s, t.end_s, t.speech_s,
                  np.asarray(t.embedding, TURN_DTYPE).tobytes(),
                  *(t.cohort if t.cohort is not None else (None, None)),
                  None if t.voice is None else voice_ids[t.voice]) for t in turns])
            _drop_orphans(conn)
            conn.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key) DO UPDATE "
                         "SET value = CAST(value AS INTEGER) + 1")
            return recording_id
        return self.write(write)

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction: all of it is committed, or none of it."""
        result = retry_if_locked(lambda: transaction(self._conn, work))
        self._own_writes += 1
        return result

    def _one(self, sql: str, params: tuple = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return row[0] if row else None


def _write_voice(conn: sqlite3.Connection, voice: VoiceUpdate, model_id: str) -> int:
    blob = np.asarray(voice.centroid, VOICE_DTYPE).tobytes()
    if voice.id is None:
        return int(conn.execute("INSERT INTO voices (model_id, centroid, speech_s) VALUES (?, ?, ?)",
                                (model_id, blob, voice.speech_s)).lastrowid)
    conn.execute("UPDATE voices SET centroid = ?, speech_s = ? WHERE id = ?",
                 (blob, voice.speech_s, voice.id))
    return voice.id


def _drop_orphans(conn: sqlite3.Connection) -> None:
    """Voices no turn belongs to any more (a re-indexed recording's old ones)."""
    conn.execute("DELETE FROM voices WHERE NOT EXISTS (SELECT 1 FROM turns t WHERE t.voice_id = voices.id)")


def _create_schema(conn: sqlite3.Connection) -> None:
    create_tables(conn, SCHEMA, SCHEMA_VERSION)


def _check_schema(conn: sqlite3.Connection, label: Path) -> None:
    """Our tables and format, and no trigger or view (SQL stored in the file would run on our writes)."""
    refuse_stored_sql(conn, label, "a speakerid archive")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"meta", "models", "recordings", "voices", "turns"} <= tables:
        raise SpeakerIDError(_("{label} is not a speakerid archive (its tables are missing)").format(
            label=label))
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version is None or version[0] != str(SCHEMA_VERSION):
        raise SpeakerIDError(_("{label} has archive format {version}; this "
                               "speakerid reads format {schema_version}").format(
                                   label=label, version=version[0] if version else '?',
                                   schema_version=SCHEMA_VERSION))
