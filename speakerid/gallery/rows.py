"""Speakers and clips as rows: what the gallery reads back (:class:`~speakerid.results.SpeakerInfo`,
:class:`ClipSource`) and the statements that write them, each run inside a caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import SpeakerInfo
from .aliases import aliases_by_speaker
from .clip_storage import as_blob
from .names import name_key

DETAIL_FIELDS = ("gender", "party", "notes")
MIN_NEW_SPEAKER_SPEECH_S = 3.0
INFO_QUERY = ("SELECT s.id, s.name, s.gender, s.party, s.notes, COUNT(c.id), "
              "ROUND(COALESCE(SUM(c.speech_s), 0.0), 3) "
              "FROM speakers s LEFT JOIN clips c ON c.speaker_id = s.id")


@dataclass(frozen=True)
class ClipSource:
    """Where an enrolled clip came from: a file's name, or a web page's title and address."""

    source: str
    url: str | None
    speech_s: float


@dataclass(frozen=True)
class StoredClip:
    """One clip ready to be written: nothing about it can fail once a transaction has started."""

    source: str
    speech_s: float
    sample_rate: int
    embedding: np.ndarray
    audio: bytes
    url: str | None = None  # the page it was fetched from, for a clip from a link


def speaker_infos(conn: sqlite3.Connection, speaker_id: int | None = None) -> list[SpeakerInfo]:
    """One speaker as stored, or every speaker (in no particular order), with their aliases."""
    where, params = (" WHERE s.id = ?", (speaker_id,)) if speaker_id is not None else ("", ())
    found = conn.execute(INFO_QUERY + where + " GROUP BY s.id", params).fetchall()
    aliases = aliases_by_speaker(conn, speaker_id)
    return [SpeakerInfo(*row[1:], aliases=tuple(aliases.get(row[0], ()))) for row in found]


def insert_speaker(conn: sqlite3.Connection, name: str, details: dict[str, str | None]) -> int:
    """A new speaker under the clean ``name``, which nobody may have (see aliases.find_id)."""
    cursor = conn.execute(
        "INSERT INTO speakers (name, name_key, gender, party, notes, created) VALUES (?, ?, ?, ?, ?, ?)",
        (name, name_key(name), *(details.get(key) for key in DETAIL_FIELDS),
         datetime.now(UTC).isoformat(timespec="seconds")))
    return cursor.lastrowid


def set_details(conn: sqlite3.Connection, speaker_id: int, details: dict[str, str | None],
                only_missing: bool = False) -> None:
    """Write the given details (None clears); with ``only_missing``, stored values win."""
    for key, value in details.items():
        if key not in DETAIL_FIELDS:  # column names are never taken from outside
            raise ValueError(key)
        condition = f" AND {key} IS NULL" if only_missing else ""
        conn.execute(f"UPDATE speakers SET {key} = ? WHERE id = ?{condition}", (value, speaker_id))


def given(details: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in details.items() if value is not None}


def insert_clips(conn: sqlite3.Connection, speaker_id: int, clips: Iterable[StoredClip], encoder_id: str
                 ) -> None:
    for clip in clips:
        if conn.execute("SELECT 1 FROM clips WHERE speaker_id = ? AND audio = ?",
                        (speaker_id, clip.audio)).fetchone():
            continue  # this exact audio is already enrolled for the speaker
        conn.execute(
            "INSERT INTO clips (speaker_id, source, url, speech_s, sample_rate, encoder_id, embedding, "
            "audio) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (speaker_id, clip.source, clip.url, float(clip.speech_s), clip.sample_rate, encoder_id,
             as_blob(clip.embedding), clip.audio))


def distinct(clips: list[StoredClip]) -> list[StoredClip]:
    """The clips without repeats of the same audio (the same file given twice)."""
    unique: dict[bytes, StoredClip] = {}
    for clip in clips:
        unique.setdefault(clip.audio, clip)
    return list(unique.values())


def require_enough_speech(speech_s: float) -> None:
    if speech_s < MIN_NEW_SPEAKER_SPEECH_S:
        raise SpeakerIDError(
            _("only {speech_s:.1f} s of speech in total; a new speaker needs at least "
              "{min_new_speaker_speech_s:.0f} s (the app asks for 5-30 s of clear speech)").format(
                  speech_s=speech_s, min_new_speaker_speech_s=MIN_NEW_SPEAKER_SPEECH_S))
