"""Moving speakers between gallery files: a consistent copy out (:func:`export`), and another file's
speakers merged in or put in place of this one's (:func:`import_file`).

The file to import is validated in full and, if another encoder made its vectors, re-embedded from
its stored audio, all before this gallery is touched; the change itself is one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import Progress
from . import aliases, history, rows
from .clip_storage import as_vector
from .history import Keep
from .names import clean_name, name_key
from .rows import DETAIL_FIELDS, StoredClip
from .schema import has_table, url_column
from .staging import claim_encoder, embed_clip, require_encoder, switchable
from .store import Store, open_snapshot
from .validation import validate_gallery

if TYPE_CHECKING:
    from ..models.base import SpeakerModel as Encoder


def export(store: Store, path: str | Path) -> Path:
    """Write a consistent copy (SQLite's backup API) of ``store``'s file, as one self-contained file."""
    target = Path(path)
    if target.exists() and target.resolve() == store.path.resolve():
        raise SpeakerIDError(_("{target} is this gallery itself; export to another file").format(
            target=target))
    if not target.parent.is_dir():
        raise SpeakerIDError(_("{parent}: no such folder").format(parent=target.parent))
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(partial)) as copy:
            store.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file to forget beside it
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def import_file(store: Store, path: Path, encoder: Encoder, replace: bool, user: str,
                progress: Progress | None = None) -> list[str]:
    """Merge the gallery file ``path`` into ``store`` (or replace its content), recorded as one
    change by ``user``; the imported speakers' names. Merging adds new speakers, and merges a
    speaker whose name or alias names one of ours into them: their clips, and their name and
    aliases as aliases (stored details win over imported ones; identical clips are not added twice).
    Merging first requires ``store``'s vectors to be ``encoder``'s (:func:`.staging.require_encoder`)."""
    if path.exists() and path.resolve() == store.path.resolve():
        raise SpeakerIDError(_("{path} is this gallery itself").format(path=path))
    if not replace:
        require_encoder(store, user, encoder.encoder_id)
    with closing(open_snapshot(path)) as source:
        validate_gallery(source, path, encoder)
        replaced = embed_stored(source, encoder, progress)
        speakers = source.execute("SELECT id, name, gender, party, notes FROM speakers").fetchall()
        refuse_clashes(path, [row[1] for row in speakers])
        their_aliases = aliases.aliases_by_speaker(source) if has_table(source, "aliases") else {}

        facts = {"file": path.name, "speakers": len(speakers)}  # for the history's description

        def write(conn: sqlite3.Connection) -> None:
            if replace:
                facts["replaced"] = conn.execute("DELETE FROM speakers").rowcount
            claim_encoder(conn, encoder.encoder_id)
            for source_id, name, *values in speakers:
                details = dict(zip(DETAIL_FIELDS, values))
                names = [name, *their_aliases.get(source_id, ())]
                speaker_id = ours(conn, path, names)
                if speaker_id is None:
                    speaker_id = rows.insert_speaker(conn, clean_name(name), details)
                else:
                    rows.set_details(conn, speaker_id, rows.given(details), only_missing=True)
                rows.insert_clips(conn, speaker_id, stored_clips(source, source_id, replaced),
                                  encoder.encoder_id)
                try:
                    for alias in names:  # their own name is no alias of theirs: left out
                        aliases.add_alias(conn, speaker_id, alias)
                except SpeakerIDError as exc:
                    raise SpeakerIDError(_("{path}: {exc}").format(path=path, exc=exc)) from None

        keep = Keep("1") if replace else switchable(encoder.encoder_id)  # replacing removes every clip
        history.write(store, user, "import", write, [keep], facts)
    return [row[1] for row in speakers]


def ours(conn: sqlite3.Connection, path: Path, names: list[str]) -> int | None:
    """The speaker of this gallery an imported speaker's name and aliases (``names``) name, None
    for nobody; refused when they name several."""
    found = {speaker_id for speaker_id in (aliases.find_id(conn, name) for name in names)
             if speaker_id is not None}
    if len(found) > 1:
        raise SpeakerIDError(_("{path}: the name and aliases of {name!r} there name {count} speakers "
                               "here ({names}); make them agree before importing")
                             .format(path=path, name=names[0], count=len(found),
                                     names=", ".join(sorted(aliases.speaker_name(conn, i) for i in found))))
    return next(iter(found), None)


def refuse_clashes(path: Path, names: list[str]) -> None:
    """Refuse a file (of a format before name keys) holding one name written two ways: importing
    would merge the two speakers."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name_key(name), name)
        if other != name:
            raise SpeakerIDError(_("{path} holds {first!r} and {second!r}, one name written two ways; "
                                   "rename one of them there before importing it")
                                 .format(path=path, first=other, second=name))


def embed_stored(conn: sqlite3.Connection, encoder: Encoder, progress: Progress | None = None
                  ) -> dict[int, tuple[np.ndarray, float]]:
    """Embed every clip whose vector is not from ``encoder``: clip id -> (vector, seconds of speech)."""
    todo = conn.execute("SELECT id FROM clips WHERE encoder_id != ? ORDER BY id",
                        (encoder.encoder_id,)).fetchall()
    result: dict[int, tuple[np.ndarray, float]] = {}
    for done, (clip_id,) in enumerate(todo, start=1):
        try:
            result[clip_id] = embed_clip(conn, clip_id, encoder)
        except SpeakerIDError as exc:
            raise SpeakerIDError(_("cannot re-enrol with this encoder: {exc}").format(exc=exc)) from None
        if progress:
            progress(done, len(todo))
    return result


def stored_clips(conn: sqlite3.Connection, speaker_id: int,
                  replaced: dict[int, tuple[np.ndarray, float]]) -> Iterator[StoredClip]:
    """A speaker's clips as stored, with the vectors of ``replaced`` where it has one (one clip in
    memory at a time)."""
    ids = [row[0] for row in conn.execute("SELECT id FROM clips WHERE speaker_id = ? ORDER BY id",
                                          (speaker_id,))]
    url = url_column(conn)
    for clip_id in ids:
        source, url_value, speech_s, rate, embedding, audio = conn.execute(
            f"SELECT source, {url}, speech_s, sample_rate, embedding, audio FROM clips WHERE id = ?",
            (clip_id,)).fetchone()
        vector, speech_s = replaced.get(clip_id) or (as_vector(embedding), speech_s)
        yield StoredClip(source, speech_s, rate, vector, audio, url_value)
