"""Speakers and clips as rows: what the gallery reads back (:class:`~speakerid.results.SpeakerInfo`,
:class:`ClipSource`, stored audio and vectors) and the statements that write them, each run inside a
caller's transaction; details cleaned as they are stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import SpeakerInfo
from .aliases import aliases_by_speaker, find_id
from .clip_storage import as_blob, as_vector, decode_stored
from .names import clean_text, name_key

if TYPE_CHECKING:
    from ..audio import AudioClip
    from .store import Store

DETAIL_FIELDS = ("gender", "party", "notes")
UNCHANGED: Any = object()  # a detail an update leaves as it is (None clears it)
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


def speaker_info(conn: sqlite3.Connection, speaker_id: int) -> SpeakerInfo:
    return speaker_infos(conn, speaker_id)[0]


def every_speaker(conn: sqlite3.Connection) -> list[SpeakerInfo]:
    """Every speaker, sorted by name ignoring case."""
    return sorted(speaker_infos(conn), key=lambda s: (s.name.casefold(), s.name))


def speaker_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM speakers").fetchone()[0]


def find_info(conn: sqlite3.Connection, name: str) -> SpeakerInfo | None:
    """The speaker a name or alias names, however it is spaced or cased ("prachanda",
    "Pushpa  Kamal Dahal"); None when nobody has it.

    Raises:
        SpeakerIDError: the name is not a valid one, or matches two names kept apart (see
            :func:`.aliases.clashes`).
    """
    speaker_id = find_id(conn, name)
    return None if speaker_id is None else speaker_info(conn, speaker_id)


def clip_audio(store: Store, name: str) -> list[AudioClip]:
    """The stored enrolment audio of the speaker stored as ``name``, in the order it was enrolled;
    read in one transaction, decoded after it (other threads never wait on decoding)."""
    stored = store.read(lambda conn: _clip_rows(conn, name, "c.source, c.sample_rate, c.audio"))
    return [decode_stored(audio, rate, f"{name}/{source}") for source, rate, audio in stored]


def clip_sources(conn: sqlite3.Connection, name: str) -> list[ClipSource]:
    """Where each clip of the speaker stored as ``name`` came from, in the order they were enrolled,
    so that a voice taken from the web can be traced back to its page."""
    return [ClipSource(*row) for row in _clip_rows(conn, name, "c.source, c.url, c.speech_s")]


def clip_embeddings(conn: sqlite3.Connection, dim: int) -> tuple[list[str], np.ndarray]:
    """Every clip's speaker name and embedding (rows in the same order; ``dim`` wide when none)."""
    found = conn.execute("SELECT s.name, c.embedding FROM clips c JOIN speakers s "
                         "ON s.id = c.speaker_id ORDER BY c.speaker_id, c.id").fetchall()
    return [row[0] for row in found], (np.stack([as_vector(row[1]) for row in found]) if found
                                       else np.zeros((0, dim), np.float32))


def _clip_rows(conn: sqlite3.Connection, name: str, columns: str) -> list[tuple]:
    """``columns`` (of ``clips c``, a fixed list from this module) of the clips of the speaker
    stored as ``name``, in enrolment order."""
    return conn.execute(f"SELECT {columns} FROM clips c JOIN speakers s "
                        "ON s.id = c.speaker_id WHERE s.name = ? ORDER BY c.id", (name,)).fetchall()


def clean_details(gender: str | None, party: str | None, notes: str | None) -> dict[str, str | None]:
    """The details by field, as stored (:func:`.names.clean_text`); one given as :data:`UNCHANGED`
    is left out."""
    return {key: clean_text(value, key) for key, value in zip(DETAIL_FIELDS, (gender, party, notes))
            if value is not UNCHANGED}


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
