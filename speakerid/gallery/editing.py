"""Changing the gallery's speakers and settings: an enrolment's write, a rename, new details, a
removal and the threshold in use, each one transaction recorded in the history (:mod:`.history`)
under the person making it. Names and details come in cleaned, clips embedded: nothing here can
fail for a reason a caller could have checked first, except what the file holds now."""

from __future__ import annotations

import json
import sqlite3

from ..errors import SpeakerIDError
from ..scoring import Calibration
from . import history, rows, staging
from .history import Keep
from .ranking import calibration_key
from .rows import StoredClip
from .store import Store


def enrol(store: Store, user: str, name: str, details: dict[str, str | None], clips: list[StoredClip],
          encoder_id: str) -> None:
    """Create the speaker with ``clips`` and ``details``, or add them to one enrolled."""
    speech_s = sum(clip.speech_s for clip in clips)

    def write(conn: sqlite3.Connection) -> None:
        staging.claim_encoder(conn, encoder_id)
        speaker_id = rows.speaker_id(conn, name)
        if speaker_id is None:
            rows.require_enough_speech(speech_s)
            speaker_id = rows.insert_speaker(conn, name, details)
        else:
            rows.set_details(conn, speaker_id, rows.given(details))
        rows.insert_clips(conn, speaker_id, clips, encoder_id)

    history.write(store, user, "enrol", write, [staging.switchable(encoder_id)], facts={"name": name})


def rename(store: Store, user: str, old: str, new: str) -> None:
    def write(conn: sqlite3.Connection) -> None:
        speaker_id = rows.existing_speaker_id(conn, old)
        if new != old and rows.speaker_id(conn, new) is not None:
            raise SpeakerIDError(f"cannot rename {old!r}: {new!r} is already enrolled")
        conn.execute("UPDATE speakers SET name = ? WHERE id = ?", (new, speaker_id))

    history.write(store, user, "rename", write)


def update(store: Store, user: str, name: str, changes: dict[str, str | None]) -> None:
    history.write(store, user, "edit",
                  lambda conn: rows.set_details(conn, rows.existing_speaker_id(conn, name), changes))


def remove(store: Store, user: str, name: str) -> None:
    """The speaker and their clips deleted; the history keeps the clips whole for an undo."""
    history.write(store, user, "remove",
                  lambda conn: conn.execute("DELETE FROM speakers WHERE id = ?",
                                            (rows.existing_speaker_id(conn, name),)),
                  [Keep("speaker_id IN (SELECT id FROM speakers WHERE name = ?)", (name,))])


def set_calibration(store: Store, user: str, encoder_id: str, calibration: Calibration | None) -> None:
    """``calibration`` in use with ``encoder_id`` from now on (None: back to the encoder's own)."""
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM meta WHERE key LIKE 'calibration:%'")  # stale for other encoders
        if calibration is not None:
            conn.execute("INSERT INTO meta VALUES (?, ?)",
                         (calibration_key(encoder_id), json.dumps(calibration.to_dict())))

    history.write(store, user, "calibrate", write)
