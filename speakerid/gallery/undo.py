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


def undo(store: Store, user: str, change_id: int) -> int:
    """Undo change ``change_id`` as a new change by ``user``; the new change's id.

    Raises:
        SpeakerIDError: no such change, it was undone already, or it conflicts with a later change
            (nothing is written then).
    """
    # a change is never rewritten: safe to read before the write
    _action, edits = store.read_snapshot(lambda conn, _version: history.load(conn, change_id))
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
        return conn.execute("SELECT MAX(id) FROM history").fetchone()[0]  # this undo's, being written

    return history.write(store, user, "undo", write, keep, undoes=change_id)


class Conflict(Exception):
    """Why a change cannot be undone now, in words."""


def refused(change_id: int, reason: str) -> SpeakerIDError:
    return SpeakerIDError(_("Change {id} cannot be undone: {reason}.").format(id=change_id, reason=reason))


def restore(conn: sqlite3.Connection, change_id: int, edits: Edits) -> None:
    """Write back every row as it was before the change, checking first that each is still as the
    change left it. Inside the undo's transaction: a conflict found half-way rolls all back."""
    for speaker_id, _before, after in edits.speakers:
        if after is not None:
            require_as_left(conn, speaker_id, after)
    restore_settings(conn, edits.meta)
    restore_vectors(conn, change_id, edits.revectored)
    missing = set(edits.added) - {row[0] for row in conn.execute(
        f"SELECT id FROM clips WHERE id IN ({marks(edits.added)})", edits.added)}
    if missing:
        raise Conflict(_("a clip it added was removed since"))
    conn.execute(f"DELETE FROM clips WHERE id IN ({marks(edits.added)})", edits.added)
    new_ids = restore_speakers(conn, edits.speakers)
    restore_clips(conn, change_id, edits.removed, new_ids)


def require_as_left(conn: sqlite3.Connection, speaker_id: int, after: list) -> None:
    now = conn.execute(f"SELECT {history.SPEAKER_COLUMNS} FROM speakers WHERE id = ?",
                       (speaker_id,)).fetchone()
    if now is None:
        raise Conflict(_("{name} was removed since").format(name=after[0]))
    if list(now[1:]) != after:
        raise Conflict(_("{name} was changed since; undo that change first").format(name=after[0]))


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


def restore_speakers(conn: sqlite3.Connection, speakers: list[list]) -> dict[int, int]:
    """Speakers the change created removed, those it changed changed back, those it removed put
    back (under their old id unless another speaker holds it since); old id -> id now."""
    for speaker_id, before, after in speakers:
        if before is None:
            if conn.execute("SELECT 1 FROM clips WHERE speaker_id = ?", (speaker_id,)).fetchone():
                raise Conflict(_("{name} has clips added since").format(name=after[0]))
            conn.execute("DELETE FROM speakers WHERE id = ?", (speaker_id,))
    new_ids = {}
    for speaker_id, before, after in speakers:
        if before is None:
            continue
        taken = conn.execute("SELECT id FROM speakers WHERE name = ?", (before[0],)).fetchone()
        if taken is not None and (after is None or taken[0] != speaker_id):
            raise Conflict(_("the name {name} is taken now").format(name=before[0]))
        if after is not None:
            conn.execute("UPDATE speakers SET name = ?, gender = ?, party = ?, notes = ?, created = ? "
                         "WHERE id = ?", (*before, speaker_id))
            continue
        free = conn.execute("SELECT 1 FROM speakers WHERE id = ?", (speaker_id,)).fetchone() is None
        new_ids[speaker_id] = conn.execute(
            "INSERT INTO speakers (id, name, gender, party, notes, created) VALUES (?, ?, ?, ?, ?, ?)",
            (speaker_id if free else None, *before)).lastrowid
    return new_ids


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
