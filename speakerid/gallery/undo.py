"""Undoing one recorded change (:mod:`.history`): a new change that writes back the rows as they
were before it. It is refused, with the reason in one sentence, when something the change wrote
was changed again since (an undo never overwrites a later edit: undo that one first) or when
putting a row back would clash with the gallery as it is now (a name taken since)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from ..errors import SpeakerIDError
from ..i18n import _
from . import history
from .history import CLIP_COLUMNS, Edits, Keep, marks
from .store import Store


def undo(store: Store, user: str, change_id: int) -> history.Change:
    """Undo change ``change_id`` as a new change by ``user``; the new change.

    Raises:
        SpeakerIDError: no such change, it was undone already, or it conflicts with a later change
            (nothing is written then).
    """
    # a change is never rewritten: safe to read before the write
    _action, edits = store.read(lambda conn: history.load(conn, change_id))
    ids = [json.dumps(edits.added), json.dumps([row[0] for row in edits.revectored])]
    keep = [Keep("id IN (SELECT value FROM json_each(?))", (ids[0],)),
            Keep("id IN (SELECT value FROM json_each(?))", (ids[1],), audio=False)]

    def write(conn: sqlite3.Connection) -> int:
        done = history.undone_by(conn, change_id)
        if done is not None:
            raise refused(change_id, _("it was undone already, by change {id}").format(id=done))
        try:
            restore(conn, change_id, edits)
        except Conflict as conflict:
            raise refused(change_id, str(conflict)) from None
        except sqlite3.IntegrityError:  # a uniqueness the checks above do not know of (a name's key)
            raise refused(change_id, _("a name it would put back is taken now")) from None
        return conn.execute("SELECT MAX(id) FROM history").fetchone()[0]  # this undo's, being written

    new_id = history.write(store, user, "undo", write, keep, undoes=change_id)
    return store.read(lambda conn: history.changes(conn, 1, up_to=new_id))[0]


class Conflict(Exception):
    """Why a change cannot be undone now, in words."""


def refused(change_id: int, reason: str) -> SpeakerIDError:
    return SpeakerIDError(_("Change {id} cannot be undone: {reason}.").format(id=change_id, reason=reason))


def restore(conn: sqlite3.Connection, change_id: int, edits: Edits) -> None:
    """Write back every row as it was before the change, checking first that each is still as the
    change left it. Inside the undo's transaction: a conflict found half-way rolls all back."""
    for table, rowid, _before, after in edits.rows:
        if after is not None:
            require_as_left(conn, table, rowid, after)
    restore_settings(conn, edits.meta)
    restore_vectors(conn, change_id, edits.revectored)
    missing = set(edits.added) - {row[0] for row in conn.execute(
        f"SELECT id FROM clips WHERE id IN ({marks(edits.added)})", edits.added)}
    if missing:
        raise Conflict(_("a clip it added was removed since"))
    conn.execute(f"DELETE FROM clips WHERE id IN ({marks(edits.added)})", edits.added)
    delete_created(conn, edits.rows)
    new_ids = put_back(conn, edits.rows)
    restore_clips(conn, change_id, edits.removed, new_ids)


def require_as_left(conn: sqlite3.Connection, table: str, rowid: int, after: dict) -> None:
    now = history.table_rows(conn, table, rowid).get(rowid)
    if table != "speakers" and now != after:
        raise Conflict(_("what it wrote in {table} was changed since; undo that change first").format(
            table=table))
    if now is None:
        raise Conflict(_("{name} was removed since").format(name=after["name"]))
    if now != after:
        raise Conflict(_("{name} was changed since; undo that change first").format(name=after["name"]))


def delete_created(conn: sqlite3.Connection, rows: list[list]) -> None:
    """The rows the change added, deleted: speakers last, once nothing else refers to them (a
    speaker's clips or other rows added since would go with them)."""
    created = [(table, rowid, after) for table, rowid, before, after in rows if before is None]
    for table, rowid, after in sorted(created, key=lambda row: row[0] == "speakers"):
        if table == "speakers":
            for other, column in speaker_references(conn):
                if conn.execute(f'SELECT 1 FROM "{other}" WHERE "{column}" = ?', (rowid,)).fetchone():
                    raise Conflict(_("{name} has {what} added since").format(
                        name=after["name"], what=_("clips") if other == "clips" else other))
        conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))


def put_back(conn: sqlite3.Connection, rows: list[list]) -> dict[int, int]:
    """The rows the change changed, changed back, and those it removed, put back (under their
    old rowid unless another row holds it since), speakers first; old speaker id -> id now."""
    new_ids: dict[int, int] = {}
    for table, rowid, before, after in sorted(rows, key=lambda row: row[0] != "speakers"):
        if before is None:
            continue
        values = {**before, **{column: new_ids.get(before[column], before[column])
                               for _table, column in speaker_references(conn) if _table == table}}
        if table == "speakers":
            taken = conn.execute("SELECT id FROM speakers WHERE name = ?", (before["name"],)).fetchone()
            if taken is not None and taken[0] != rowid:
                raise Conflict(_("the name {name} is taken now").format(name=before["name"]))
        if after is not None:
            conn.execute(f'UPDATE "{table}" SET {", ".join(f"{quoted(column)} = ?" for column in values)} '
                         "WHERE rowid = ?", (*values.values(), rowid))
            continue
        free = conn.execute(f'SELECT 1 FROM "{table}" WHERE rowid = ?', (rowid,)).fetchone() is None
        values[rowid_column(conn, table)] = rowid if free else None
        inserted = conn.execute(f'INSERT INTO "{table}" ({", ".join(map(quoted, values))}) '
                                f"VALUES ({marks(values)})", tuple(values.values())).lastrowid
        if table == "speakers":
            new_ids[rowid] = inserted
    return new_ids


def quoted(column: str) -> str:
    """A column's name as an SQL identifier (names come from the file's own schema)."""
    return '"' + column.replace('"', '""') + '"'


def speaker_references(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column that refers to a speaker, clips first."""
    tables = ["clips", *(table for table in history.row_tables(conn) if table != "speakers")]
    return [(table, key[3]) for table in tables
            for key in conn.execute(f'PRAGMA foreign_key_list("{table}")') if key[2] == "speakers"]


def rowid_column(conn: sqlite3.Connection, table: str) -> str:
    """The column that is ``table``'s rowid (its INTEGER PRIMARY KEY), else ``rowid`` itself."""
    keys = [column for column in conn.execute(f'PRAGMA table_info("{table}")') if column[5]]
    return keys[0][1] if len(keys) == 1 and keys[0][2].upper() == "INTEGER" else "rowid"


def restore_settings(conn: sqlite3.Connection, meta: list[list]) -> None:
    for key, before, after in meta:
        now = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if (now[0] if now else None) != after:
            raise Conflict(_("the threshold was changed since") if key.startswith("calibration:")
                           else _("the gallery was re-enrolled with another model since"))
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        if before is not None:
            conn.execute("INSERT INTO meta VALUES (?, ?)", (key, before))


def restore_vectors(conn: sqlite3.Connection, change_id: int, revectored: list[list]) -> None:
    """The vectors a re-enrolment replaced, back on their clips."""
    for clip_id, encoder_id, speech_s in revectored:
        now = conn.execute("SELECT encoder_id, speech_s FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if now is None or list(now) != [encoder_id, speech_s]:
            raise Conflict(_("its clips were removed or re-enrolled since"))
        conn.execute("UPDATE clips SET encoder_id = k.encoder_id, speech_s = k.speech_s, "
                     "embedding = k.embedding FROM history_clips k "
                     "WHERE k.history_id = ? AND k.clip_id = ? AND clips.id = ?",
                     (change_id, clip_id, clip_id))


def restore_clips(conn: sqlite3.Connection, change_id: int, removed: list[int], new_ids: dict[int, int]
                  ) -> None:
    """The clips the change removed, back under their own ids (never reused: AUTOINCREMENT), with
    their speakers; the gallery must not have moved to another model's vectors meanwhile."""
    if not removed:
        return
    encoders = Counter()
    for clip_id, speaker_id, encoder_id in conn.execute(
            "SELECT clip_id, speaker_id, encoder_id FROM history_clips WHERE history_id = ? "
            f"AND clip_id IN ({marks(removed)})", (change_id, *removed)).fetchall():
        speaker_id = new_ids.get(speaker_id, speaker_id)
        if conn.execute("SELECT 1 FROM speakers WHERE id = ?", (speaker_id,)).fetchone() is None:
            raise Conflict(_("the speaker of the clips it removed was removed since"))
        conn.execute(f"INSERT INTO clips (id, {CLIP_COLUMNS}) SELECT clip_id, ?, source, url, speech_s, "
                     "sample_rate, encoder_id, embedding, audio FROM history_clips "
                     "WHERE history_id = ? AND clip_id = ?", (speaker_id, change_id, clip_id))
        encoders[encoder_id] += 1
    stored = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
    if stored is not None and stored[0] in encoders:
        return
    if conn.execute(f"SELECT 1 FROM clips WHERE id NOT IN ({marks(removed)}) LIMIT 1", removed).fetchone():
        raise Conflict(_("the gallery was re-enrolled with another model since"))
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_id', ?)", (encoders.most_common(1)[0][0],))
