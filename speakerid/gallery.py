"""The enrolled-speaker store: one SQLite file with every speaker's clips, audio and embeddings.

SQLite because the gallery must be one file a person can copy, must survive a crash in the middle
of an enrolment, and must let the app and the CLI enrol and identify at the same time: the file is
in WAL mode and every write is a single ``BEGIN IMMEDIATE`` transaction that is either all there
or not there at all. Everything is validated and embedded *before* a write starts.

Each clip keeps its embedding (speaker scores use the centroid of all of them) and its audio
(mono FLAC, at most 48 kHz and 60 s), so that a new encoder can re-enrol everyone from the stored
audio without asking for recordings again. Vectors from two encoders are never mixed: the gallery
records which encoder produced its vectors and refuses another one until :meth:`Gallery.reenroll`,
which stages the new vectors beside the current ones and switches to them in one transaction once
every clip has one (a gallery whose staged set is complete adopts it when that encoder next uses
it: see :func:`speakerid.training.runs.activate`). Clip ids are never reused (AUTOINCREMENT), so a staged
vector cannot land on a clip enrolled after it was computed.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import soundfile as sf

from . import paths
from .audio import AudioClip, load_audio
from .config import LIMITS
from .datasets import discover
from .errors import SpeakerIDError
from .fetch import FetchedAudio, is_link
from .longform import LongRecording, is_long
from .preprocess import resample, to_mono
from .scoring import Calibration, unit
from .search import SpeakerIndex

if TYPE_CHECKING:
    from .models.encoder import Encoder

SCHEMA_VERSION = 3  # 1: no AUTOINCREMENT on clips, no staged table; 2: no clips.url (both migrated)
URL_FORMAT = 3  # the first format whose clips keep the web address they were fetched from
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 10_000
MIN_NEW_SPEAKER_SPEECH_S = 3.0
MAX_STORED_RATE = 48_000
MAX_STORED_S = 60.0
# Mono 16-bit FLAC of MAX_STORED_S at MAX_STORED_RATE is at most the PCM size plus FLAC's framing;
# an imported clip larger than this was not written by speakerid.
MAX_STORED_AUDIO_BYTES = int(MAX_STORED_RATE * MAX_STORED_S * 2 * 1.05) + 2 ** 16
FLAC_HEADER_BYTES = 2 ** 16  # enough for the metadata blocks before the first audio frame
BUSY_TIMEOUT_S = 30.0
LOCK_RETRIES = 5
EMBEDDING_DTYPE = np.dtype("<f4")
# Raw-score candidates re-scored with the model's score normalisation: AS-norm can reorder
# speakers, but not lift one from outside the raw top 50 over the threshold in practice.
SHORTLIST = 50
FLAC_MAGIC = b"fLaC"

ClipInput = str | Path | AudioClip | FetchedAudio
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each unit of long work."""
T = TypeVar("T")

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
        created TEXT NOT NULL)""",
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
)
COLUMNS = {
    "meta": {"key", "value"},
    "speakers": {"id", "name", "gender", "party", "notes", "created"},
    "clips": {"id", "speaker_id", "source", "url", "speech_s", "sample_rate", "encoder_id",
              "embedding", "audio"},
    "staged": {"clip_id", "encoder_id", "speech_s", "embedding"},
}
READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)  # an exported file of any format can be imported
DETAIL_FIELDS = ("gender", "party", "notes")
_UNCHANGED: Any = object()


@dataclass(frozen=True)
class SpeakerInfo:
    name: str
    gender: str | None
    party: str | None
    notes: str | None
    clips: int
    seconds: float  # of speech, summed over the clips


@dataclass(frozen=True)
class ClipSource:
    """Where an enrolled clip came from: a file's name, or a web page's title and address."""

    source: str
    url: str | None
    speech_s: float


@dataclass(frozen=True)
class Match:
    name: str
    score: float
    probability: float  # calibrated P(same speaker), for a clip of this length
    threshold: float | None = None  # the score that means "same speaker" for a clip of this length
    llr: float | None = None  # log10 likelihood ratio (Calibration.log10_lr); None: not known


@dataclass(frozen=True)
class Identification:
    matches: list[Match]  # best first
    threshold: float

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def speaker(self) -> str | None:
        """The identified speaker, or None for "unknown speaker" (no match reaches the threshold)."""
        best = self.best
        return best.name if best is not None and best.score >= self.threshold else None

    def to_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "threshold": self.threshold,
                "matches": [asdict(match) for match in self.matches]}


@dataclass(frozen=True)
class _Clip:
    """One clip ready to be written: nothing about it can fail once a transaction has started."""

    source: str
    speech_s: float
    sample_rate: int
    embedding: np.ndarray
    audio: bytes
    url: str | None = None  # the page it was fetched from, for a clip from a link


@dataclass(frozen=True)
class EnrolledCentroids:
    """Every enrolled speaker's centroid with what scoring against them needs, for a caller that
    scores many stored embeddings at once (:mod:`speakerid.archive`): the rows of ``matrix`` are
    ``names``; ``statistics`` are their AS-norm cohort statistics (None without a cohort). The
    same object comes back while the gallery is unchanged, so a caller may cache by identity."""

    names: list[str]
    matrix: np.ndarray  # (speakers, dim)
    statistics: tuple[np.ndarray, np.ndarray] | None
    calibration: Calibration


@dataclass(frozen=True)
class _Centroids:
    """Every speaker's centroid in one matrix, valid while the database is at ``version``."""

    version: tuple[int, int]
    encoder_id: str | None
    names: list[str]
    matrix: np.ndarray  # (speakers, dim)
    rows: dict[str, int]  # name -> row of matrix
    index: SpeakerIndex  # top-k over matrix: exact, or HNSW for very large galleries
    statistics: tuple[np.ndarray, np.ndarray] | None  # per-row cohort statistics for AS-norm
    calibration: Calibration  # refitted on this gallery for its encoder, else the encoder's

    @cached_property
    def public(self) -> EnrolledCentroids:
        return EnrolledCentroids(self.names, self.matrix, self.statistics, self.calibration)


class Gallery:
    """Enrolled speakers in a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | Path | None = None, encoder: Encoder | None = None) -> None:
        self.path = Path(path) if path is not None else paths.gallery_path()
        self._encoder = encoder
        self._lock = threading.RLock()
        self._own_writes = 0  # PRAGMA data_version does not change for this connection's writes
        self._centroids: _Centroids | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self.path)
        try:
            self._initialise()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise SpeakerIDError(f"{self.path} is not a speakerid gallery ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The model for all audio work; the default one is loaded on first need (imports TensorFlow)."""
        if self._encoder is None:
            from .models.encoder import Encoder

            self._encoder = Encoder.load()
        return self._encoder

    @property
    def encoder_id(self) -> str | None:
        """Which encoder produced the stored vectors (None while the gallery is empty)."""
        return self._read_one("SELECT value FROM meta WHERE key = 'encoder_id' "
                              "AND EXISTS (SELECT 1 FROM clips)")

    def check_encoder(self) -> None:
        """Raise (asking for :meth:`reenroll`) when the stored vectors come from another encoder and
        no complete staged set of this encoder's is there to adopt: lets a caller refuse early,
        before it records or decodes anything."""
        self._check_encoder(self.encoder_id)

    # --- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._read_one("SELECT COUNT(*) FROM speakers")

    def __contains__(self, name: object) -> bool:
        try:
            name = clean_name(name)  # type: ignore[arg-type]
        except SpeakerIDError:
            return False
        return self._read_one("SELECT COUNT(*) FROM speakers WHERE name = ?", (name,)) > 0

    def speakers(self) -> list[SpeakerInfo]:
        """Every enrolled speaker, sorted by name ignoring case."""
        with self._lock:
            rows = self._conn.execute(_INFO_QUERY + " GROUP BY s.id").fetchall()
        return sorted((SpeakerInfo(*row) for row in rows), key=lambda s: (s.name.casefold(), s.name))

    def speaker(self, name: str) -> SpeakerInfo:
        name = clean_name(name)
        with self._lock:
            row = self._conn.execute(_INFO_QUERY + " WHERE s.name = ? GROUP BY s.id", (name,)).fetchone()
        if row is None:
            raise _not_enrolled(name)
        return SpeakerInfo(*row)

    def clip_audio(self, name: str) -> list[AudioClip]:
        """The stored enrolment audio of one speaker, in the order it was enrolled."""
        name = clean_name(name)
        rows = self._clip_rows(name, "c.source, c.sample_rate, c.audio")
        return [_decode_stored(audio, rate, f"{name}/{source}") for source, rate, audio in rows]

    def clip_sources(self, name: str) -> list[ClipSource]:
        """Where each of a speaker's clips came from, in the order they were enrolled, so that a
        voice taken from the web can be traced back to its page."""
        return [ClipSource(*row) for row in self._clip_rows(clean_name(name), "c.source, c.url, c.speech_s")]

    def _clip_rows(self, name: str, columns: str) -> list[tuple]:
        """``columns`` (of ``clips c``, a fixed list from this class) of one speaker's clips, in
        enrolment order; a name nobody has is refused."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns} FROM clips c JOIN speakers s "
                "ON s.id = c.speaker_id WHERE s.name = ? ORDER BY c.id", (name,)).fetchall()
        if not rows and name not in self:
            raise _not_enrolled(name)
        return rows

    # --- enrolment ----------------------------------------------------------------------------
    def enroll(self, name: str, clips: Sequence[ClipInput] | ClipInput, gender: str | None = None,
               party: str | None = None, notes: str | None = None) -> SpeakerInfo:
        """Create the speaker, or add clips to an existing one; all clips are kept.

        A clip identical to one the speaker already has is skipped, so enrolling a folder twice
        does not count its audio twice. Given details replace stored ones; None leaves them.
        """
        name = clean_name(name)
        details = {key: clean_text(value, key)
                   for key, value in zip(DETAIL_FIELDS, (gender, party, notes))}
        new_clips = _distinct(self._embed_inputs(clips))
        speech_s = sum(clip.speech_s for clip in new_clips)
        encoder_id = self.encoder.encoder_id

        def write(conn: sqlite3.Connection) -> None:
            _claim_encoder(conn, encoder_id)
            speaker_id = _speaker_id(conn, name)
            if speaker_id is None:
                _require_enough_speech(speech_s)
                speaker_id = _insert_speaker(conn, name, details)
            else:
                _set_details(conn, speaker_id, _given(details))
            _insert_clips(conn, speaker_id, new_clips, encoder_id)

        self._write(write)
        return self.speaker(name)

    def import_folder(self, folder: str | Path, progress: Progress | None = None,
                      on_error: Callable[[str, SpeakerIDError], None] | None = None
                      ) -> list[SpeakerInfo]:
        """Enrol every speaker of a dataset folder (either layout of :func:`datasets.discover`).

        Each speaker is its own transaction. A speaker whose audio is refused stops the import
        (speakers before it stay enrolled), unless ``on_error(name, error)`` is given: then it is
        reported there and skipped.
        """
        sources = discover(folder)
        enrolled: list[SpeakerInfo] = []
        for done, source in enumerate(sources, start=1):
            try:
                enrolled.append(self.enroll(source.name, source.files, gender=source.gender))
            except SpeakerIDError as exc:
                if on_error is None:
                    raise SpeakerIDError(f"{source.name}: {exc} ({len(enrolled)} speaker(s) before "
                                         "it were enrolled)") from None
                on_error(source.name, exc)
            if progress:
                progress(done, len(sources))
        return enrolled

    # --- identification -----------------------------------------------------------------------
    def identify(self, clip: ClipInput, top_k: int = 5, trim_ends: bool = False) -> Identification:
        """Rank the enrolled speakers for one clip; ``speaker`` is None for an unknown voice.
        ``trim_ends``: leave out the first and last minute of a recording over 5 minutes."""
        embedding, speech_s = self._embed(clip, trim_ends)
        return self.identify_embedding(embedding, top_k, speech_s)

    def identify_embedding(self, embedding: np.ndarray, top_k: int = 5,
                           speech_s: float | None = None) -> Identification:
        """Like :meth:`identify` for a vector from this gallery's encoder: one matrix product.

        ``speech_s``, the seconds of speech the vector was made from, picks the threshold and
        probability map calibrated for clips of that length (None: full-length clips); the
        threshold then rises with the number of enrolled speakers (see
        :meth:`~speakerid.scoring.Calibration.for_gallery`)."""
        if top_k < 1:
            raise SpeakerIDError(f"top_k must be at least 1, not {top_k}")
        centroids = self._current_centroids()
        calibration = centroids.calibration.for_duration(speech_s).for_gallery(len(centroids.names))
        if not centroids.names:
            return Identification([], calibration.threshold)
        query = _query(embedding, centroids.matrix.shape[1])
        rows = centroids.index.search(query, max(top_k, SHORTLIST)).indices[0]
        scores = self._scores(query, centroids, rows)
        best = np.argsort(-scores, kind="stable")[:top_k]
        return Identification([_match(centroids.names[rows[i]], scores[i], calibration) for i in best],
                              calibration.threshold)

    def verify(self, clip: ClipInput, name: str) -> Match:
        """Score one clip against one enrolled speaker (``score`` against ``threshold``)."""
        name = clean_name(name)
        embedding, speech_s = self._embed(clip)
        centroids = self._current_centroids()
        row = centroids.rows.get(name)
        if row is None and name in self:
            raise SpeakerIDError(f"{name!r} has no clip the model in use accepts (they were refused "
                                 "when the gallery was re-enrolled); enrol another recording")
        if row is None:
            raise _not_enrolled(name)
        query = _query(embedding, centroids.matrix.shape[1])
        return _match(name, self._scores(query, centroids, np.array([row]))[0],
                      centroids.calibration.for_duration(speech_s))

    def enrolled_centroids(self) -> EnrolledCentroids:
        """The centroids :meth:`identify_embedding` scores against, as they are now."""
        return self._current_centroids().public

    @property
    def calibration(self) -> Calibration:
        """The threshold and probability map identification uses: refitted on this gallery's own
        voices (:func:`speakerid.gallery_calibration.fit_gallery_calibration`) when that was
        applied for the current encoder, else the encoder's own."""
        return self._current_centroids().calibration

    def clip_embeddings(self) -> tuple[list[str], np.ndarray]:
        """Every enrolled clip's speaker name and embedding (rows in the same order)."""
        self.check_encoder()
        with self._lock:
            rows = self._conn.execute("SELECT s.name, c.embedding FROM clips c JOIN speakers s "
                                      "ON s.id = c.speaker_id ORDER BY c.speaker_id, c.id").fetchall()
        dim = self.encoder.model_config.embedding_dim
        return [row[0] for row in rows], (np.stack([_vector(row[1]) for row in rows]) if rows
                                          else np.zeros((0, dim), np.float32))

    def set_calibration(self, calibration: Calibration | None) -> None:
        """Use ``calibration`` with the current encoder from now on (None: back to the encoder's)."""
        key = _calibration_key(self.encoder.encoder_id)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM meta WHERE key LIKE 'calibration:%'")  # stale for other encoders
            if calibration is not None:
                conn.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(calibration.to_dict())))
        self._write(write)

    # --- editing ------------------------------------------------------------------------------
    def rename(self, old: str, new: str) -> SpeakerInfo:
        old, new = clean_name(old), clean_name(new)

        def write(conn: sqlite3.Connection) -> None:
            speaker_id = _existing_speaker_id(conn, old)
            if new != old and _speaker_id(conn, new) is not None:
                raise SpeakerIDError(f"cannot rename {old!r}: {new!r} is already enrolled")
            conn.execute("UPDATE speakers SET name = ? WHERE id = ?", (new, speaker_id))

        self._write(write)
        return self.speaker(new)

    def remove(self, name: str) -> None:
        """Delete a speaker with all their clips and audio."""
        name = clean_name(name)
        self._write(lambda conn: conn.execute("DELETE FROM speakers WHERE id = ?",
                                              (_existing_speaker_id(conn, name),)))

    def update(self, name: str, gender: str | None = _UNCHANGED, party: str | None = _UNCHANGED,
               notes: str | None = _UNCHANGED) -> SpeakerInfo:
        """Change a speaker's details; a field left out stays, None clears it."""
        name = clean_name(name)
        changes = {key: clean_text(value, key) for key, value in zip(DETAIL_FIELDS, (gender, party, notes))
                   if value is not _UNCHANGED}
        self._write(lambda conn: _set_details(conn, _existing_speaker_id(conn, name), changes))
        return self.speaker(name)

    # --- moving galleries ---------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write a consistent copy (SQLite's backup API), as one self-contained file."""
        target = Path(path)
        if target.exists() and target.resolve() == self.path.resolve():
            raise SpeakerIDError(f"{target} is this gallery itself; export to another file")
        if not target.parent.is_dir():
            raise SpeakerIDError(f"{target.parent}: no such folder")
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        try:
            with closing(sqlite3.connect(partial)) as copy:
                with self._lock:
                    self._conn.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file to forget beside it
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def import_(self, path: str | Path, replace: bool = False, progress: Progress | None = None
                ) -> list[SpeakerInfo]:
        """Merge another gallery file into this one, or replace this one's content by it.

        The file is validated in full (schema, every blob) and, if another encoder made its vectors,
        re-enrolled from its stored audio, all before this gallery is touched; the change itself is
        one transaction. Merging adds new speakers and adds clips to same-named ones (stored details
        win over imported ones; identical clips are not added twice). ``progress`` follows the
        re-enrolment, when there is one.
        """
        path = Path(path)
        if path.exists() and path.resolve() == self.path.resolve():
            raise SpeakerIDError(f"{path} is this gallery itself")
        encoder = self.encoder
        if not replace:
            self.check_encoder()
        with closing(_open_snapshot(path)) as source:
            _validate_gallery(source, path, encoder)
            replaced = _embed_stored(source, encoder, progress)
            speakers = source.execute("SELECT id, name, gender, party, notes FROM speakers").fetchall()

            def write(conn: sqlite3.Connection) -> None:
                if replace:
                    conn.execute("DELETE FROM speakers")
                _claim_encoder(conn, encoder.encoder_id)
                for source_id, name, *values in speakers:
                    details = dict(zip(DETAIL_FIELDS, values))
                    speaker_id = _speaker_id(conn, name)
                    if speaker_id is None:
                        speaker_id = _insert_speaker(conn, name, details)
                    else:
                        _set_details(conn, speaker_id, _given(details), only_missing=True)
                    _insert_clips(conn, speaker_id, _stored_clips(source, source_id, replaced),
                                  encoder.encoder_id)

            self._write(write)
        return [self.speaker(row[1]) for row in speakers]

    def reenroll(self, encoder: Encoder, progress: Progress | None = None,
                 on_refused: Callable[[SpeakerIDError], None] | None = None) -> int:
        """Re-embed from its stored audio every clip whose vector is not from ``encoder``, then
        switch to it atomically.

        The vectors are staged first (:meth:`stage`: other processes keep identifying with the
        current ones meanwhile); the switch is one transaction, once clips enrolled in the meantime
        are staged too. A clip the new pipeline refuses is reported to ``on_refused`` and kept, its
        audio stored and its old vector unused, until a model accepts it. Returns the number of
        clips re-embedded.
        """
        switched = None
        while switched is None:
            self.stage(encoder, progress, on_refused)
            switched = self._write(lambda conn: _adopt(conn, encoder.encoder_id))
        self._encoder = encoder
        return switched

    def stage(self, encoder: Encoder, progress: Progress | None = None,
              on_refused: Callable[[SpeakerIDError], None] | None = None) -> None:
        """Embed with ``encoder`` every clip that has neither a vector nor a staged one of it yet,
        each stored in its own short transaction beside the current vectors: nothing the gallery
        answers changes, and a re-enrolment killed half-way goes on from where it stopped."""
        encoder_id = encoder.encoder_id
        with closing(_open_snapshot(self.path)) as snapshot:
            todo = [row[0] for row in snapshot.execute(_UNSTAGED + " ORDER BY id", (encoder_id,) * 2)]
            for done, clip_id in enumerate(todo, start=1):
                try:
                    vector, speech_s = _embed_clip(snapshot, clip_id, encoder)
                    staged = (clip_id, encoder_id, speech_s, _blob(vector))
                except SpeakerIDError as exc:
                    if on_refused:
                        on_refused(exc)
                    staged = (clip_id, encoder_id, None, None)
                self._write(partial(_insert_staged, row=staged))
                if progress:
                    progress(done, len(todo))

    # --- internals ----------------------------------------------------------------------------
    def _initialise(self) -> None:
        """Create the schema in a new file; check it in an existing one, migrating format 1."""
        if self._read_one("SELECT COUNT(*) FROM sqlite_master") == 0:
            self._write(_create_schema)
        if _check_schema(self._conn, self.path, READABLE_VERSIONS) != SCHEMA_VERSION:
            self._write(_migrate)
        _check_schema(self._conn, self.path)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            result = _retry_if_locked(lambda: _transaction(self._conn, work))
            self._own_writes += 1
            return result

    def _read_one(self, sql: str, params: tuple = ()) -> Any:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def _embed_inputs(self, clips: Sequence[ClipInput] | ClipInput) -> list[_Clip]:
        """Decode, check and embed every clip (raises before anything is written)."""
        items = [clips] if isinstance(clips, str | Path | AudioClip | FetchedAudio) else list(clips)
        if not items:
            raise SpeakerIDError("no clips given: enrolment needs at least one recording")
        result = []
        for item in items:
            clip = _as_clip(item)
            prepared = self.encoder.prepare(clip)
            audio, rate = _storable_audio(clip)
            source, url = (item.title, item.url) if isinstance(item, FetchedAudio) else (clip.name, None)
            result.append(_Clip(source or "clip", prepared.speech_s, rate,
                                self.encoder.embed_prepared(prepared), audio, url))
        return result

    def _embed(self, clip: ClipInput, trim_ends: bool = False) -> tuple[np.ndarray, float]:
        """The clip's embedding and its seconds of speech; a long file is streamed, not decoded whole."""
        if not isinstance(clip, AudioClip) and is_long(clip):
            with LongRecording(clip, self.encoder, trim_ends=trim_ends) as recording:
                return recording.embedding(), recording.speech_s
        prepared = self.encoder.prepare(_as_clip(clip), trim_ends)
        return self.encoder.embed_prepared(prepared), prepared.speech_s

    def _scores(self, query: np.ndarray, centroids: _Centroids, rows: np.ndarray) -> np.ndarray:
        """The model's scores (AS-normalised when it ships a cohort, as its threshold expects)
        of ``query`` against the centroids in ``rows``."""
        statistics = centroids.statistics
        if statistics is not None:
            statistics = (statistics[0][rows], statistics[1][rows])
        return self.encoder.score_matrix(query[None], centroids.matrix[rows], statistics)[0]

    def _check_encoder(self, stored_id: str | None) -> None:
        """Stored vectors from another encoder: adopt this one's staged set if it is complete (an
        activation killed between the model's switch and the gallery's), else raise."""
        encoder_id = self.encoder.encoder_id
        if stored_id is not None and stored_id != encoder_id:
            self._write(lambda conn: _claim_encoder(conn, encoder_id))

    def _current_centroids(self) -> _Centroids:
        """The centroids of the vectors from this encoder (see :meth:`_check_encoder`)."""
        current = self._cached_centroids()
        if current.encoder_id is not None and current.encoder_id != self.encoder.encoder_id:
            self._check_encoder(current.encoder_id)
            current = self._cached_centroids()  # this connection wrote: reloaded
        return current

    def _cached_centroids(self) -> _Centroids:
        """The cached centroid matrix, reloaded only when this or another connection wrote."""
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot for the version and the vectors
            try:
                version = (self._conn.execute("PRAGMA data_version").fetchone()[0], self._own_writes)
                if self._centroids is None or self._centroids.version != version:
                    self._centroids = _load_centroids(self._conn, version, self.encoder)
                return self._centroids
            finally:
                self._conn.execute("COMMIT")


# The clips that still need a vector from an encoder (its id twice).
_UNSTAGED = ("SELECT id FROM clips c WHERE encoder_id != ? AND NOT EXISTS "
             "(SELECT 1 FROM staged s WHERE s.clip_id = c.id AND s.encoder_id = ?)")
_INFO_QUERY = ("SELECT s.name, s.gender, s.party, s.notes, COUNT(c.id), "
               "ROUND(COALESCE(SUM(c.speech_s), 0.0), 3) "
               "FROM speakers s LEFT JOIN clips c ON c.speaker_id = s.id")


# --- names and details ------------------------------------------------------------------------
def clean_name(name: str) -> str:
    """The stored form of a speaker name (NFC, stripped); any Unicode, but one line of it."""
    if not isinstance(name, str):
        raise SpeakerIDError(f"a speaker name must be text, not {type(name).__name__}")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise SpeakerIDError("the speaker name is empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise SpeakerIDError(f"the speaker name has {len(cleaned)} characters; at most "
                             f"{MAX_NAME_CHARS} are allowed")
    if any(unicodedata.category(char) == "Cc" for char in cleaned):
        raise SpeakerIDError("the speaker name must be one line without control characters")
    return cleaned


def clean_text(value: str | None, field: str) -> str | None:
    """A stripped optional detail; blank means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpeakerIDError(f"{field} must be text, not {type(value).__name__}")
    cleaned = value.strip()
    if len(cleaned) > MAX_TEXT_CHARS:
        raise SpeakerIDError(f"{field} is longer than {MAX_TEXT_CHARS} characters")
    return cleaned or None


def _match(name: str, score: float, calibration: Calibration) -> Match:
    return Match(name, float(score), float(calibration.probability(float(score))), calibration.threshold,
                 calibration.log10_lr(float(score)))


def _require_enough_speech(speech_s: float) -> None:
    if speech_s < MIN_NEW_SPEAKER_SPEECH_S:
        raise SpeakerIDError(
            f"only {speech_s:.1f} s of speech in total; a new speaker needs at least "
            f"{MIN_NEW_SPEAKER_SPEECH_S:.0f} s (the app asks for 5-30 s of clear speech)")


def _not_enrolled(name: str) -> SpeakerIDError:
    return SpeakerIDError(f"{name!r} is not enrolled")


def _encoder_mismatch(stored_id: str, encoder_id: str) -> SpeakerIDError:
    return SpeakerIDError(
        f"the gallery was enrolled with encoder {stored_id}, but the model in use is {encoder_id}; "
        "re-enrol it from the stored audio with gallery.reenroll(encoder) "
        "(CLI: python -m speakerid gallery reenroll)")


# --- audio and vectors ------------------------------------------------------------------------
def _as_clip(item: ClipInput) -> AudioClip:
    if isinstance(item, FetchedAudio):
        return item.clip
    return item if isinstance(item, AudioClip) else load_audio(item)


def _storable_audio(clip: AudioClip) -> tuple[bytes, int]:
    """Mono FLAC at most 48 kHz and 60 s long: the middle of a longer clip, away from intros."""
    signal, rate = to_mono(clip.samples), clip.sample_rate
    if rate > MAX_STORED_RATE:
        signal, rate = resample(signal, rate, MAX_STORED_RATE), MAX_STORED_RATE
    keep = int(MAX_STORED_S * rate)
    if len(signal) > keep:
        start = (len(signal) - keep) // 2
        signal = signal[start:start + keep]
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(signal, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue(), rate


def _decode_stored(audio: bytes, sample_rate: int, label: str) -> AudioClip:
    try:
        samples, rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports damage in many ways
        raise SpeakerIDError(f"the stored audio of {label} is damaged: {exc}") from None
    if rate != sample_rate or len(samples) == 0:
        raise SpeakerIDError(f"the stored audio of {label} is damaged")
    return AudioClip(samples, int(rate), label)


def _query(embedding: np.ndarray, dim: int) -> np.ndarray:
    """One embedding as a float32 vector that can be compared with the gallery's."""
    embedding = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if embedding.shape[0] != dim:
        raise SpeakerIDError(f"a {embedding.shape[0]}-dimensional embedding cannot be compared "
                             f"with this gallery's {dim}-dimensional ones")
    if not np.isfinite(embedding).all():
        raise SpeakerIDError("the embedding is not finite (NaN or infinity); it cannot be compared")
    return embedding


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=EMBEDDING_DTYPE).tobytes()


def _distinct(clips: list[_Clip]) -> list[_Clip]:
    """The clips without repeats of the same audio (the same file given twice)."""
    unique: dict[bytes, _Clip] = {}
    for clip in clips:
        unique.setdefault(clip.audio, clip)
    return list(unique.values())


def centroids(vectors: np.ndarray, starts: np.ndarray, metric: str) -> np.ndarray:
    """One centroid per group of consecutive rows (groups begin at ``starts``).

    Cosine: the unit-normalised mean of the unit clip vectors, so that a long clip does not
    outweigh a short one; Euclidean: the plain mean.
    """
    if metric == "cosine":
        return unit(np.add.reduceat(unit(vectors), starts, axis=0)).astype(np.float32)
    counts = np.diff(np.append(starts, len(vectors)))
    return (np.add.reduceat(vectors, starts, axis=0) / counts[:, None]).astype(np.float32)


def _calibration_key(encoder_id: str) -> str:
    return f"calibration:{encoder_id}"


def _stored_calibration(conn: sqlite3.Connection, encoder: Encoder) -> Calibration:
    """The calibration applied to this gallery for ``encoder``, else the encoder's own. A stored one
    that does not read (a damaged or foreign file) is ignored: the encoder's is always valid."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?",
                       (_calibration_key(encoder.encoder_id),)).fetchone()
    if row is not None:
        try:
            return Calibration.from_dict(json.loads(row[0]))
        except (ValueError, TypeError, RecursionError):
            pass
    return encoder.calibration


def _load_centroids(conn: sqlite3.Connection, version: tuple[int, int], encoder: Encoder) -> _Centroids:
    metric = encoder.model_config.metric
    calibration = _stored_calibration(conn, encoder)
    encoder_id = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
    rows = conn.execute("SELECT c.speaker_id, s.name, c.embedding FROM clips c JOIN speakers s "
                        "ON s.id = c.speaker_id WHERE c.encoder_id = (SELECT value FROM meta WHERE "
                        "key = 'encoder_id') ORDER BY c.speaker_id").fetchall()
    if not rows:
        empty = np.zeros((0, 0), np.float32)
        return _Centroids(version, None, [], empty, {}, SpeakerIndex(empty, metric), None, calibration)
    ids = np.array([row[0] for row in rows])
    vectors = np.stack([_vector(row[2]) for row in rows])
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    names = [rows[i][1] for i in starts]
    matrix = centroids(vectors, starts, metric)
    return _Centroids(version, encoder_id[0] if encoder_id else None, names, matrix,
                      {name: i for i, name in enumerate(names)}, SpeakerIndex(matrix, metric),
                      encoder.cohort_statistics(matrix), calibration)


# --- SQLite -----------------------------------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit, see :func:`_transaction`."""
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")  # durable even on power loss, not only on a crash
        _retry_if_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise SpeakerIDError(f"{path} is not a speakerid gallery or cannot be opened ({exc})") from None
    return conn


def _open_snapshot(path: Path) -> sqlite3.Connection:
    """A read-only connection to another gallery file, inside one read transaction."""
    if not path.is_file():
        raise SpeakerIDError(f"{path}: no such file")
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise SpeakerIDError(f"{path} is not a speakerid gallery ({exc})") from None
    return conn


def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one write transaction: all of it is committed, or none of it."""
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock upgrading a read later
    try:
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _retry_if_locked(action: Callable[[], T]) -> T:
    """busy_timeout waits for the lock, yet SQLite still gives up in some cases (a writer holding
    it for longer than the timeout, WAL recovery by another process): back off and try again."""
    for attempt in range(LOCK_RETRIES - 1):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not any(word in str(exc).lower() for word in ("locked", "busy")):
                raise
        time.sleep(0.1 * 2 ** attempt)
    return action()


def _create_schema(conn: sqlite3.Connection) -> None:
    if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        return  # another process created it while we waited for the lock
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _check_schema(conn: sqlite3.Connection, label: Path, versions: Sequence[int] = (SCHEMA_VERSION,)
                  ) -> int:
    """Our tables with our columns, and no trigger or view: SQL stored in the file would run on
    this gallery's own writes (a trigger) or stand in for a table (a view). Returns the format,
    which must be one of ``versions`` (format 1 has no staged table)."""
    stored_sql = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')").fetchone()
    if stored_sql:
        raise SpeakerIDError(f"{label} is not a speakerid gallery (it holds a {stored_sql[0]}, "
                             f"{stored_sql[1]!r}; speakerid never creates one)")
    _require_tables(conn, label, ["meta"])
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version is None or not str(version[0]).isdigit():
        raise SpeakerIDError(f"{label} is not a speakerid gallery (no schema version)")
    if int(version[0]) not in versions:
        raise SpeakerIDError(f"{label} has gallery format {version[0]}; this speakerid reads format "
                             f"{SCHEMA_VERSION} (a newer version may have written it)")
    _require_tables(conn, label, ["speakers", "clips"] + (["staged"] if int(version[0]) > 1 else []),
                    int(version[0]))
    return int(version[0])


def _require_tables(conn: sqlite3.Connection, label: Path, tables: list[str],
                    version: int = SCHEMA_VERSION) -> None:
    for table in tables:
        found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        expected = COLUMNS[table] - ({"url"} if table == "clips" and version < URL_FORMAT else set())
        if not expected <= found:
            raise SpeakerIDError(f"{label} is not a speakerid gallery (table {table!r} is missing "
                                 "or incomplete)")


def _migrate(conn: sqlite3.Connection) -> None:
    """Older formats to this one inside one write (all or nothing). Format 1: clips rebuilt with
    AUTOINCREMENT and the url column, as SQLite's documentation says to change a table (new table,
    copy, drop, rename; this rewrites all stored audio once), and the staged table added. Format 2:
    the url column added in place (after the audio: only a clip's source listing reads it)."""
    version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    if version == SCHEMA_VERSION:
        return  # another process migrated it while we waited for the lock
    if version == 1:
        clips, index, staged = SCHEMA[2:]
        columns = "id, speaker_id, source, speech_s, sample_rate, encoder_id, embedding, audio"
        conn.execute(clips.replace("CREATE TABLE clips (", "CREATE TABLE clips_new (", 1))
        conn.execute(f"INSERT INTO clips_new ({columns}) SELECT {columns} FROM clips")
        conn.execute("DROP TABLE clips")
        conn.execute("ALTER TABLE clips_new RENAME TO clips")
        conn.execute(index)
        conn.execute(staged)
    else:
        conn.execute("ALTER TABLE clips ADD COLUMN url TEXT")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _claim_encoder(conn: sqlite3.Connection, encoder_id: str) -> None:
    """Inside a write: refuse vectors from another encoder unless the gallery is empty or holds a
    complete staged set of this encoder's vectors (then adopted)."""
    stored = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
    if (stored and stored[0] != encoder_id and conn.execute("SELECT 1 FROM clips LIMIT 1").fetchone()
            and _adopt(conn, encoder_id) is None):
        raise _encoder_mismatch(stored[0], encoder_id)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_id', ?)", (encoder_id,))


def _speaker_id(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM speakers WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def _existing_speaker_id(conn: sqlite3.Connection, name: str) -> int:
    speaker_id = _speaker_id(conn, name)
    if speaker_id is None:
        raise _not_enrolled(name)
    return speaker_id


def _insert_speaker(conn: sqlite3.Connection, name: str, details: dict[str, str | None]) -> int:
    cursor = conn.execute(
        "INSERT INTO speakers (name, gender, party, notes, created) VALUES (?, ?, ?, ?, ?)",
        (name, *(details.get(key) for key in DETAIL_FIELDS),
         datetime.now(UTC).isoformat(timespec="seconds")))
    return cursor.lastrowid


def _set_details(conn: sqlite3.Connection, speaker_id: int, details: dict[str, str | None],
                 only_missing: bool = False) -> None:
    """Write the given details (None clears); with ``only_missing``, stored values win."""
    for key, value in details.items():
        if key not in DETAIL_FIELDS:  # column names are never taken from outside
            raise ValueError(key)
        condition = f" AND {key} IS NULL" if only_missing else ""
        conn.execute(f"UPDATE speakers SET {key} = ? WHERE id = ?{condition}", (value, speaker_id))


def _given(details: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in details.items() if value is not None}


def _insert_clips(conn: sqlite3.Connection, speaker_id: int, clips: Iterable[_Clip], encoder_id: str
                  ) -> None:
    for clip in clips:
        if conn.execute("SELECT 1 FROM clips WHERE speaker_id = ? AND audio = ?",
                        (speaker_id, clip.audio)).fetchone():
            continue  # this exact audio is already enrolled for the speaker
        conn.execute(
            "INSERT INTO clips (speaker_id, source, url, speech_s, sample_rate, encoder_id, embedding, "
            "audio) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (speaker_id, clip.source, clip.url, float(clip.speech_s), clip.sample_rate, encoder_id,
             _blob(clip.embedding), clip.audio))


def _insert_staged(conn: sqlite3.Connection, row: tuple[int, str, float | None, bytes | None]) -> None:
    """One staged vector (clip id, encoder id, seconds of speech, embedding), unless its clip was
    removed meanwhile."""
    conn.execute("INSERT OR REPLACE INTO staged SELECT ?, ?, ?, ? WHERE EXISTS "
                 "(SELECT 1 FROM clips WHERE id = ?)", (*row, row[0]))


def _adopt(conn: sqlite3.Connection, encoder_id: str) -> int | None:
    """Inside a write: make the staged vectors of ``encoder_id`` the gallery's, if every clip has
    one (refused clips keep their old vector, unused); the number of clips switched, or None
    (nothing written) while some clip is not staged yet."""
    if conn.execute(_UNSTAGED + " LIMIT 1", (encoder_id,) * 2).fetchone():
        return None
    switched = conn.execute(
        "UPDATE clips SET embedding = s.embedding, speech_s = s.speech_s, encoder_id = s.encoder_id "
        "FROM staged s WHERE s.clip_id = clips.id AND s.encoder_id = ? AND s.embedding IS NOT NULL",
        (encoder_id,)).rowcount
    conn.execute("DELETE FROM staged")
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_id', ?)", (encoder_id,))
    return switched


# --- reading stored clips (re-enrolment and import) ---------------------------------------------
def _embed_stored(conn: sqlite3.Connection, encoder: Encoder, progress: Progress | None = None
                  ) -> dict[int, tuple[np.ndarray, float]]:
    """Embed every clip whose vector is not from ``encoder``: clip id -> (vector, seconds of speech)."""
    rows = conn.execute("SELECT id FROM clips WHERE encoder_id != ? ORDER BY id",
                        (encoder.encoder_id,)).fetchall()
    result: dict[int, tuple[np.ndarray, float]] = {}
    for done, (clip_id,) in enumerate(rows, start=1):
        try:
            result[clip_id] = _embed_clip(conn, clip_id, encoder)
        except SpeakerIDError as exc:
            raise SpeakerIDError(f"cannot re-enrol with this encoder: {exc}") from None
        if progress:
            progress(done, len(rows))
    return result


def _embed_clip(conn: sqlite3.Connection, clip_id: int, encoder: Encoder) -> tuple[np.ndarray, float]:
    """One stored clip's (vector, seconds of speech) from ``encoder``; a refusal names the clip."""
    name, source, rate, audio = conn.execute(
        "SELECT s.name, c.source, c.sample_rate, c.audio FROM clips c JOIN speakers s "
        "ON s.id = c.speaker_id WHERE c.id = ?", (clip_id,)).fetchone()
    prepared = encoder.prepare(_decode_stored(audio, rate, f"{name}/{source}"))
    return encoder.embed_prepared(prepared), prepared.speech_s


def _stored_clips(conn: sqlite3.Connection, speaker_id: int,
                  replaced: dict[int, tuple[np.ndarray, float]]) -> Iterator[_Clip]:
    """A speaker's clips as stored, with the vectors of ``replaced`` where it has one (one clip in
    memory at a time)."""
    ids = [row[0] for row in conn.execute("SELECT id FROM clips WHERE speaker_id = ? ORDER BY id",
                                          (speaker_id,))]
    url = _url_column(conn)
    for clip_id in ids:
        source, url_value, speech_s, rate, embedding, audio = conn.execute(
            f"SELECT source, {url}, speech_s, sample_rate, embedding, audio FROM clips WHERE id = ?",
            (clip_id,)).fetchone()
        vector, speech_s = replaced.get(clip_id) or (_vector(embedding), speech_s)
        yield _Clip(source, speech_s, rate, vector, audio, url_value)


def _url_column(conn: sqlite3.Connection) -> str:
    """What to select for a clip's address: the column, or NULL in a file from before it."""
    return "url" if any(row[1] == "url" for row in conn.execute("PRAGMA table_info(clips)")) else "NULL"


def _validate_gallery(conn: sqlite3.Connection, label: Path, encoder: Encoder) -> None:
    """Refuse a file that is not an intact speakerid gallery (of either readable format). Vectors
    that claim to come from ``encoder`` must have its size (the others are re-embedded)."""
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise SpeakerIDError(f"{label} is damaged ({check})")
        _check_schema(conn, label, READABLE_VERSIONS)
        _validate_speakers(conn, label)
        encoder_id = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
        _validate_clips(conn, label, encoder_id[0] if encoder_id else None,
                        (encoder.encoder_id, encoder.model_config.embedding_dim))
    except sqlite3.DatabaseError as exc:
        raise SpeakerIDError(f"{label} is damaged or not a speakerid gallery ({exc})") from None


def _validate_speakers(conn: sqlite3.Connection, label: Path) -> None:
    """Names and details must be stored as this module would have stored them."""
    for name, *details in conn.execute("SELECT name, gender, party, notes FROM speakers"):
        try:
            valid = clean_name(name) == name and all(
                clean_text(value, field) == value for field, value in zip(DETAIL_FIELDS, details))
        except SpeakerIDError as exc:
            raise SpeakerIDError(f"{label} holds an invalid speaker: {exc}") from None
        if not valid:
            raise SpeakerIDError(f"{label} holds an invalid speaker {name!r}")


def _validate_clips(conn: sqlite3.Connection, label: Path, encoder_id: str | None,
                    ours: tuple[str, int]) -> None:
    """Every clip row sound; the vectors of the file's encoder of one size, those claiming to be
    from ours (id, dimension) of its size. A clip a re-enrolment refused keeps a vector from an
    earlier encoder: it is re-embedded on import like any other vector not from ours."""
    dims = set()
    url = _url_column(conn)
    rows = conn.execute(
        f"SELECT c.id, s.name, c.source, {url}, c.speech_s, c.sample_rate, c.encoder_id, c.embedding, "
        f"length(c.audio), substr(c.audio, 1, {FLAC_HEADER_BYTES}) "
        "FROM clips c LEFT JOIN speakers s ON s.id = c.speaker_id")
    for clip_id, name, source, url_value, speech_s, rate, clip_encoder, embedding, size, head in rows:
        problem = (_clip_problem(name, source, speech_s, rate, clip_encoder, encoder_id)
                   or _url_problem(url_value)
                   or _vector_problem(embedding, ours[1] if clip_encoder == ours[0] else None)
                   or _audio_problem(size, head, rate))
        if problem:
            raise SpeakerIDError(f"{label} is damaged: clip {clip_id}: {problem}")
        if clip_encoder == encoder_id:
            dims.add(len(embedding))
    if len(dims) > 1:
        raise SpeakerIDError(f"{label} is damaged: its embeddings have different sizes")


def _url_problem(url: Any) -> str | None:
    """Why a stored web address cannot be trusted (a page link would show it), or None."""
    if url is None or (isinstance(url, str) and len(url) <= MAX_TEXT_CHARS and is_link(url)):
        return None
    return "invalid web address"


def _clip_problem(name: Any, source: Any, speech_s: Any, rate: Any, clip_encoder: Any,
                  encoder_id: str | None) -> str | None:
    """Why a stored clip row cannot be trusted, or None."""
    if name is None:
        return "it belongs to no speaker"
    if not isinstance(source, str) or len(source) > MAX_TEXT_CHARS:
        return "invalid source name"
    if not isinstance(speech_s, int | float) or not math.isfinite(speech_s) or speech_s < 0:
        return "invalid seconds of speech"
    if not isinstance(rate, int) or not 1000 <= rate <= MAX_STORED_RATE:
        return "invalid sample rate"
    if encoder_id is None:
        return "the gallery does not say which encoder made its vectors"
    if not isinstance(clip_encoder, str) or not clip_encoder or len(clip_encoder) > MAX_NAME_CHARS:
        return "invalid encoder id"
    return None


def _vector_problem(embedding: Any, dim: int | None) -> str | None:
    """Why a stored embedding cannot be used, or None; ``dim``: the size it must have, if known."""
    itemsize = EMBEDDING_DTYPE.itemsize
    if (not isinstance(embedding, bytes) or not embedding or len(embedding) % itemsize
            or len(embedding) > LIMITS["embedding_dim"][1] * itemsize):
        return "invalid embedding"
    if dim is not None and len(embedding) != dim * itemsize:
        return f"its embedding has {len(embedding) // itemsize} values; this encoder makes {dim}"
    if not np.all(np.isfinite(_vector(embedding))):
        return "embedding is not finite"
    return None


def _audio_problem(size: Any, head: Any, rate: int) -> str | None:
    """Why stored audio is not what :func:`_storable_audio` writes (judged from its size and FLAC
    header: ``head`` is the blob's start), or None."""
    if not isinstance(head, bytes) or head[:len(FLAC_MAGIC)] != FLAC_MAGIC or not isinstance(size, int):
        return "stored audio is not FLAC"
    if size > MAX_STORED_AUDIO_BYTES:
        return f"stored audio of {size} bytes; speakerid stores at most {MAX_STORED_AUDIO_BYTES}"
    try:
        info = sf.info(io.BytesIO(head))
    except Exception:  # libsndfile reports damage in many ways
        return "stored audio is not FLAC"
    if info.samplerate != rate or info.channels != 1:
        return "stored audio is not mono at its recorded sample rate"
    if not 0 < info.frames <= (MAX_STORED_S + 1) * rate:
        return f"stored audio is empty or longer than {MAX_STORED_S:g} s"
    return None
