"""Re-enrolment: every stored clip embedded again with another model, and the gallery switched to
those vectors in one transaction.

Vectors from two encoders are never mixed: the gallery records which encoder produced its vectors
and refuses another one (:func:`claim_encoder`) until a re-enrolment has staged the new vectors
beside the current ones (:func:`stage`: other processes keep identifying with the current ones
meanwhile) and switched to them once every clip has one (:func:`adopt`). A gallery whose staged set
is complete adopts it when that encoder next uses it (see :func:`speakerid.training.runs.activate`).
Clip ids are never reused (AUTOINCREMENT), so a staged vector cannot land on a clip enrolled after
it was computed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import Progress
from . import history
from .clip_storage import as_blob, decode_stored
from .history import Keep
from .store import Store, open_snapshot

if TYPE_CHECKING:
    from ..models.base import SpeakerModel as Encoder

# The clips that still need a vector from an encoder (its id twice).
UNSTAGED = ("SELECT id FROM clips c WHERE encoder_id != ? AND NOT EXISTS "
             "(SELECT 1 FROM staged s WHERE s.clip_id = c.id AND s.encoder_id = ?)")


def claim_encoder(conn: sqlite3.Connection, encoder_id: str) -> None:
    """Inside a write: refuse vectors from another encoder unless the gallery is empty or holds a
    complete staged set of this encoder's vectors (then adopted)."""
    stored = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
    if (stored and stored[0] != encoder_id and conn.execute("SELECT 1 FROM clips LIMIT 1").fetchone()
            and adopt(conn, encoder_id) is None):
        raise encoder_mismatch(stored[0], encoder_id)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_id', ?)", (encoder_id,))


def switchable(encoder_id: str) -> Keep:
    """The clips whose vectors a switch to ``encoder_id`` (:func:`adopt`) would replace: a change
    that may claim the encoder keeps their vectors for its undo (none once the gallery is on it)."""
    return Keep("encoder_id != ?", (encoder_id,), audio=False,
                when=("SELECT 1 FROM meta WHERE key = 'encoder_id' AND value != ?", (encoder_id,)))


def claim(store: Store, user: str, encoder_id: str) -> None:
    """:func:`claim_encoder` in a transaction of its own, recorded under ``user``: adopting a
    complete staged set switches every clip's vector, a change an undo can take back."""
    history.write(store, user, "reenroll", lambda conn: claim_encoder(conn, encoder_id),
                  [switchable(encoder_id)])


def vectors_encoder_id(conn: sqlite3.Connection) -> str | None:
    """Which encoder produced the stored vectors (None while no clip is stored)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id' "
                       "AND EXISTS (SELECT 1 FROM clips)").fetchone()
    return row[0] if row else None


def require_encoder(store: Store, user: str, encoder_id: str) -> None:
    """Stored vectors from another encoder: adopt ``encoder_id``'s staged set if it is complete (an
    activation killed between the model's switch and the gallery's, see :func:`claim`), else raise
    (asking for a re-enrolment). Lets a caller refuse early, before it records or decodes anything."""
    stored_id = store.read(vectors_encoder_id)
    if stored_id is not None and stored_id != encoder_id:
        claim(store, user, encoder_id)


def insert_staged(conn: sqlite3.Connection, row: tuple[int, str, float | None, bytes | None]) -> None:
    """One staged vector (clip id, encoder id, seconds of speech, embedding), unless its clip was
    removed meanwhile."""
    conn.execute("INSERT OR REPLACE INTO staged SELECT ?, ?, ?, ? WHERE EXISTS "
                 "(SELECT 1 FROM clips WHERE id = ?)", (*row, row[0]))


def adopt(conn: sqlite3.Connection, encoder_id: str) -> int | None:
    """Inside a write: make the staged vectors of ``encoder_id`` the gallery's, if every clip has
    one (refused clips keep their old vector, unused); the number of clips switched, or None
    (nothing written) while some clip is not staged yet."""
    if conn.execute(UNSTAGED + " LIMIT 1", (encoder_id,) * 2).fetchone():
        return None
    switched = conn.execute(
        "UPDATE clips SET embedding = s.embedding, speech_s = s.speech_s, encoder_id = s.encoder_id "
        "FROM staged s WHERE s.clip_id = clips.id AND s.encoder_id = ? AND s.embedding IS NOT NULL",
        (encoder_id,)).rowcount
    conn.execute("DELETE FROM staged")
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_id', ?)", (encoder_id,))
    return switched


def stage(store: Store, encoder: Encoder, progress: Progress | None = None,
          on_refused: Callable[[SpeakerIDError], None] | None = None) -> None:
    """Embed with ``encoder`` every clip that has neither a vector nor a staged one of it yet,
    each stored in its own short transaction beside the current vectors: nothing the gallery
    answers changes, and a re-enrolment killed half-way goes on from where it stopped."""
    encoder_id = encoder.encoder_id
    with closing(open_snapshot(store.path)) as snapshot:
        todo = [row[0] for row in snapshot.execute(UNSTAGED + " ORDER BY id", (encoder_id,) * 2)]
        for done, clip_id in enumerate(todo, start=1):
            try:
                vector, speech_s = embed_clip(snapshot, clip_id, encoder)
                staged = (clip_id, encoder_id, speech_s, as_blob(vector))
            except SpeakerIDError as exc:
                if on_refused:
                    on_refused(exc)
                staged = (clip_id, encoder_id, None, None)
            store.write(partial(insert_staged, row=staged))
            if progress:
                progress(done, len(todo))


def reenroll(store: Store, encoder: Encoder, user: str, progress: Progress | None = None,
             on_refused: Callable[[SpeakerIDError], None] | None = None) -> int:
    """Stage, then switch (:func:`adopt`, recorded as a change by ``user``), again while clips
    enrolled meanwhile lack a vector; the number of clips switched."""
    switched = None
    while switched is None:
        stage(store, encoder, progress, on_refused)
        switched = history.write(store, user, "reenroll", lambda conn: adopt(conn, encoder.encoder_id),
                                 [switchable(encoder.encoder_id)])
    return switched


def embed_clip(conn: sqlite3.Connection, clip_id: int, encoder: Encoder) -> tuple[np.ndarray, float]:
    """One stored clip's (vector, seconds of speech) from ``encoder``; a refusal names the clip."""
    name, source, rate, audio = conn.execute(
        "SELECT s.name, c.source, c.sample_rate, c.audio FROM clips c JOIN speakers s "
        "ON s.id = c.speaker_id WHERE c.id = ?", (clip_id,)).fetchone()
    prepared = encoder.prepare(decode_stored(audio, rate, f"{name}/{source}"))
    return encoder.embed_prepared(prepared), prepared.speech_s


def encoder_mismatch(stored_id: str, encoder_id: str) -> SpeakerIDError:
    return SpeakerIDError(
        _("the gallery was enrolled with encoder {stored_id}, but the model in use is {encoder_id}; "
          "re-enrol it from the stored audio with gallery.reenroll(encoder) "
          "(CLI: python -m speakerid gallery reenroll)").format(stored_id=stored_id, encoder_id=encoder_id))
