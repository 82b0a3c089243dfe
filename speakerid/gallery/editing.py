"""Changing the gallery's speakers and settings: an enrolment's write, a rename, new details or
aliases, a removal and the threshold in use, each one transaction recorded in the history (:mod:`.history`)
under the person making it. Names and details come in cleaned, clips embedded: nothing here can
fail for a reason a caller could have checked first, except what the file holds now. A speaker
is named by their name or any alias (:func:`.aliases.find_id`); an enrolment or an edit returns
the speaker as now stored."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import SpeakerInfo
from ..scoring import Calibration
from . import aliases, history, rows, staging
from .history import Keep
from .ranking import calibration_key
from .rows import StoredClip
from .store import Store


def enrol(store: Store, user: str, name: str, details: dict[str, str | None], clips: list[StoredClip],
          encoder_id: str) -> SpeakerInfo:
    """Create the speaker with ``clips`` and ``details`` (under the clean ``name``), or add them
    to the one ``name`` names. The same audio given twice is written once, and counted once
    towards a new speaker's minimum of speech."""
    clips = rows.distinct(clips)
    speech_s = sum(clip.speech_s for clip in clips)

    def write(conn: sqlite3.Connection) -> int:
        staging.claim_encoder(conn, encoder_id)
        speaker_id = aliases.find_id(conn, name)
        if speaker_id is None:
            rows.require_enough_speech(speech_s)
            speaker_id = rows.insert_speaker(conn, name, details)
        else:
            rows.set_details(conn, speaker_id, rows.given(details))
        rows.insert_clips(conn, speaker_id, clips, encoder_id)
        return speaker_id

    speaker_id = history.write(store, user, "enrol", write, [staging.switchable(encoder_id)],
                               facts={"name": name})
    return store.read(lambda conn: rows.speaker_info(conn, speaker_id))


def edit(store: Store, user: str, action: str, name: str, change: Callable[[sqlite3.Connection, int], None]
         ) -> SpeakerInfo:
    """``change(conn, speaker_id)`` on the speaker ``name`` names, recorded as ``action``
    (rename, edit, alias)."""
    facts = {"name": name}  # the name the history shows: the speaker's own, once found

    def write(conn: sqlite3.Connection) -> int:
        speaker_id = aliases.require_id(conn, name)
        change(conn, speaker_id)
        facts["name"] = aliases.speaker_name(conn, speaker_id)
        return speaker_id

    speaker_id = history.write(store, user, action, write, facts=facts)
    return store.read(lambda conn: rows.speaker_info(conn, speaker_id))


def remove(store: Store, user: str, name: str) -> None:
    """The speaker, their clips and aliases deleted; the history keeps the clips whole for an undo."""
    speaker_id = store.read(lambda conn: aliases.require_id(conn, name))

    def write(conn: sqlite3.Connection) -> None:
        if aliases.require_id(conn, name) != speaker_id:
            raise SpeakerIDError(_("{name} was changed by someone else meanwhile; try again")
                                 .format(name=name))
        conn.execute("DELETE FROM speakers WHERE id = ?", (speaker_id,))
        aliases.settle_keys(conn)  # a name that clashed with theirs is free now

    history.write(store, user, "remove", write, [Keep("speaker_id = ?", (speaker_id,))])


def set_calibration(store: Store, user: str, encoder_id: str, calibration: Calibration | None) -> None:
    """``calibration`` in use with ``encoder_id`` from now on (None: back to the encoder's own)."""
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM meta WHERE key LIKE 'calibration:%'")  # stale for other encoders
        if calibration is not None:
            conn.execute("INSERT INTO meta VALUES (?, ?)",
                         (calibration_key(encoder_id), json.dumps(calibration.to_dict())))

    history.write(store, user, "calibrate", write)
