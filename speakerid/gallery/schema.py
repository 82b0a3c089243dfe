"""The gallery file's format: its tables, the check that a file is one of ours, and the migrations
from older formats (each inside one write: all or nothing)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ..errors import SpeakerIDError
from ..i18n import _
from .aliases import settle_keys

# 1: no AUTOINCREMENT on clips, no staged table; 2: no clips.url; 3: no name keys, no aliases;
# 4: no history (all migrated)
SCHEMA_VERSION = 5
URL_FORMAT = 3  # the first format whose clips keep the web address they were fetched from
ALIAS_FORMAT = 4  # the first format with speakers.name_key and the aliases table
HISTORY_FORMAT = 5  # the first format that records every change, with what undoing it needs

log = logging.getLogger(__name__)

# How a name is matched (:func:`~speakerid.gallery.names.name_key`), for the speaker's name (NULL
# only where a migrated name clashes with another's: both kept, see aliases.settle_keys) and for
# each alias; no key is held twice, across names and aliases alike (aliases.py checks names against
# aliases inside each write).
ALIAS_SCHEMA = (
    "CREATE UNIQUE INDEX speakers_by_key ON speakers(name_key)",
    """CREATE TABLE aliases (
        speaker_id INTEGER NOT NULL REFERENCES speakers(id) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        normalised TEXT NOT NULL UNIQUE)""",
    "CREATE INDEX aliases_by_speaker ON aliases(speaker_id)",
)

# The audio is the last column of `clips`: reading the embeddings then never walks the audio's
# overflow pages, so loading 10 000 speakers' vectors stays fast however much audio is stored.
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE speakers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        gender TEXT,
        party TEXT,
        notes TEXT,
        created TEXT NOT NULL,
        name_key TEXT)""",
    """CREATE TABLE clips (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        speaker_id INTEGER NOT NULL REFERENCES speakers(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        url TEXT,
        speech_s REAL NOT NULL,
        sample_rate INTEGER NOT NULL,
        encoder_id TEXT NOT NULL,
        embedding BLOB NOT NULL,
        audio BLOB NOT NULL)""",
    "CREATE INDEX clips_by_speaker ON clips(speaker_id)",
    # Vectors of a re-enrolment in progress, one per clip and encoder; no embedding: the encoder's
    # pipeline refused the clip (it is kept, with its current vector, unused under that encoder).
    """CREATE TABLE staged (
        clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
        encoder_id TEXT NOT NULL,
        speech_s REAL,
        embedding BLOB,
        PRIMARY KEY (clip_id, encoder_id))""",
    *ALIAS_SCHEMA,
)
# Every change to the gallery, who made it and when, with what undoing it needs (appended to, never
# rewritten: an undo is a change of its own). `edits`: the rows before and after, as JSON (see
# speakerid.gallery.history); the clips a change removed or re-embedded are kept whole in
# `history_clips` (audio NULL: only the vector was replaced), so that an undo can put them back.
HISTORY_SCHEMA = (
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        undoes INTEGER REFERENCES history(id),
        edits TEXT NOT NULL)""",
    """CREATE TABLE history_clips (
        history_id INTEGER NOT NULL REFERENCES history(id),
        clip_id INTEGER NOT NULL,
        speaker_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        url TEXT,
        speech_s REAL NOT NULL,
        sample_rate INTEGER NOT NULL,
        encoder_id TEXT NOT NULL,
        embedding BLOB NOT NULL,
        audio BLOB,
        PRIMARY KEY (history_id, clip_id))""",
)
COLUMNS = {
    "meta": {"key", "value"},
    "speakers": {"id", "name", "gender", "party", "notes", "created", "name_key"},
    "clips": {"id", "speaker_id", "source", "url", "speech_s", "sample_rate", "encoder_id",
              "embedding", "audio"},
    "staged": {"clip_id", "encoder_id", "speech_s", "embedding"},
    "aliases": {"speaker_id", "alias", "normalised"},
    "history": {"id", "at", "user", "action", "undoes", "edits"},
    "history_clips": {"history_id", "clip_id", "speaker_id", "source", "url", "speech_s", "sample_rate",
                      "encoder_id", "embedding", "audio"},
}
SINCE = {"staged": 2, "clips.url": URL_FORMAT, "speakers.name_key": ALIAS_FORMAT, "aliases": ALIAS_FORMAT,
         "history": HISTORY_FORMAT, "history_clips": HISTORY_FORMAT}
"""The format that added a table or column; older formats lack it."""
READABLE_VERSIONS = (1, 2, 3, 4, SCHEMA_VERSION)  # an exported file of any format can be imported


def create_schema(conn: sqlite3.Connection) -> None:
    create_tables(conn, SCHEMA + HISTORY_SCHEMA, SCHEMA_VERSION)


def create_tables(conn: sqlite3.Connection, statements: Sequence[str], version: int) -> None:
    """Create a new file's tables and record its format in ``meta`` (the gallery's and the
    archive's files are made the same way), unless another process made them first."""
    if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        return  # another process created it while we waited for the lock
    for statement in statements:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))


def refuse_stored_sql(conn: sqlite3.Connection, label: Path, what: str) -> None:
    """Refuse a file holding a trigger or a view: SQL stored in the file would run on our own
    writes (a trigger) or stand in for a table (a view). ``what``: "a speakerid gallery", ..."""
    stored_sql = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')").fetchone()
    if stored_sql:
        raise SpeakerIDError(_("{label} is not {what} (it holds a {stored}, "
                               "{expected!r}; speakerid never creates one)").format(
                                   label=label, what=what, stored=stored_sql[0], expected=stored_sql[1]))


def check_schema(conn: sqlite3.Connection, label: Path, versions: Sequence[int] = (SCHEMA_VERSION,)
                  ) -> int:
    """Our tables with our columns, and no trigger or view: SQL stored in the file would run on
    this gallery's own writes (a trigger) or stand in for a table (a view). Returns the format,
    which must be one of ``versions`` (older formats lack what :data:`SINCE` lists)."""
    refuse_stored_sql(conn, label, "a speakerid gallery")
    _require_tables(conn, label, ["meta"])
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version is None or not str(version[0]).isdigit():
        raise SpeakerIDError(_("{label} is not a speakerid gallery (no schema version)").format(label=label))
    if int(version[0]) not in versions:
        raise SpeakerIDError(_("{label} has gallery format {version}; this speakerid reads format "
                               "{schema_version} (a newer version may have written it)").format(
                                   label=label, version=version[0], schema_version=SCHEMA_VERSION))
    _require_tables(conn, label, [table for table in ("speakers", "clips", "staged", "aliases", "history",
                                                      "history_clips")
                                  if SINCE.get(table, 0) <= int(version[0])], int(version[0]))
    return int(version[0])


def _require_tables(conn: sqlite3.Connection, label: Path, tables: list[str],
                    version: int = SCHEMA_VERSION) -> None:
    for table in tables:
        found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        expected = {column for column in COLUMNS[table] if SINCE.get(f"{table}.{column}", 0) <= version}
        if not expected <= found:
            raise SpeakerIDError(_("{label} is not a speakerid gallery (table {table!r} is missing "
                                   "or incomplete)").format(label=label, table=table))


def migrate(conn: sqlite3.Connection) -> None:
    """Older formats to this one inside one write (all or nothing), a step per format."""
    version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    if version == SCHEMA_VERSION:
        return  # another process migrated it while we waited for the lock
    if version < URL_FORMAT:
        _to_format_3(conn, version)
    if version < ALIAS_FORMAT:
        _to_format_4(conn)
    if version < HISTORY_FORMAT:
        add_history(conn)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def add_history(conn: sqlite3.Connection) -> None:
    """Format 4 to 5: the history tables added, empty (what happened before is not known)."""
    for statement in HISTORY_SCHEMA:
        conn.execute(statement)


def _to_format_3(conn: sqlite3.Connection, version: int) -> None:
    """Format 1: clips rebuilt with AUTOINCREMENT and the url column, as SQLite's documentation says
    to change a table (new table, copy, drop, rename; this rewrites all stored audio once), and the
    staged table added. Format 2: the url column added in place (after the audio: only a clip's
    source listing reads it)."""
    if version == 1:
        clips, index, staged = SCHEMA[2:5]
        columns = "id, speaker_id, source, speech_s, sample_rate, encoder_id, embedding, audio"
        conn.execute(clips.replace("CREATE TABLE clips (", "CREATE TABLE clips_new (", 1))
        conn.execute(f"INSERT INTO clips_new ({columns}) SELECT {columns} FROM clips")
        conn.execute("DROP TABLE clips")
        conn.execute("ALTER TABLE clips_new RENAME TO clips")
        conn.execute(index)
        conn.execute(staged)
    else:
        conn.execute("ALTER TABLE clips ADD COLUMN url TEXT")


def _to_format_4(conn: sqlite3.Connection) -> None:
    """Names normalised and keyed, and the aliases table added. Two names that are one name typed
    two ways ("Ann  Lee", "ann lee") are both kept, never merged: one keeps its name as it was,
    without a key, is logged here and listed by ``Gallery.name_clashes`` until one is renamed."""
    conn.execute("ALTER TABLE speakers ADD COLUMN name_key TEXT")
    for statement in ALIAS_SCHEMA:
        conn.execute(statement)
    for name, other in settle_keys(conn):
        log.warning("gallery: %r and %r are one name written two ways; both are kept, rename one",
                    other, name)


def url_column(conn: sqlite3.Connection) -> str:
    """What to select for a clip's address: the column, or NULL in a file from before it."""
    return "url" if any(row[1] == "url" for row in conn.execute("PRAGMA table_info(clips)")) else "NULL"


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the file has ``table`` (an older format lacks those :data:`SINCE` lists)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None
