"""The enrolled-speaker store as one object: :class:`Gallery` (the jobs themselves live in the
modules of :mod:`speakerid.gallery`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .. import paths
from ..errors import SpeakerIDError
from ..i18n import _
from ..results import Identification, Match, Progress, SpeakerInfo
from ..scoring import Calibration
from . import aliases, editing, history, ranking, rows, staging, transfer, undo
from .clip_storage import ClipInput, as_vector, decode_stored
from .embedding import embed_inputs, embed_one
from .folder_import import import_folder
from .history import Change
from .names import clean_name, clean_text, name_key, not_enrolled
from .rows import DETAIL_FIELDS, ClipSource
from .store import Store

if TYPE_CHECKING:
    from ..audio import AudioClip
    from ..models.base import SpeakerModel

_UNCHANGED: Any = object()
T = TypeVar("T")


class Gallery:
    """Enrolled speakers in one SQLite file; safe to share between threads and processes.

    Each clip keeps its embedding (a speaker is scored by the centroid of all of them) and its
    audio, so that another model can re-enrol everyone without asking for recordings again.

    Example::

        from speakerid import Gallery, load_model

        with Gallery("newsroom.sqlite", load_model()) as gallery:
            gallery.enroll("Ann Lee", ["ann1.wav", "ann2.wav"], party="Greens")
            found = gallery.identify("unknown.mp3")
            print(found.speaker, found.best)  # speaker None: unknown

    Args:
        path: the gallery file, created when missing (default: ``gallery.sqlite`` in
            :func:`speakerid.paths.home`).
        encoder: the model for all audio work; None loads the default one on first need.
        user: who makes the changes through this object, as the history records them (default:
            the operating system's user, :func:`speakerid.gallery.history.os_user`).

    Raises:
        SpeakerIDError: the file is not a speakerid gallery, or one of a newer format.
    """

    def __init__(self, path: str | Path | None = None, encoder: SpeakerModel | None = None,
                 user: str | None = None) -> None:
        self.path = Path(path) if path is not None else paths.gallery_path()
        self.user = history.clean_user(user) if user is not None else history.os_user()
        self._encoder = encoder
        self._centroids: ranking.Centroids | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.path)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def encoder(self) -> SpeakerModel:
        """The model for all audio work; the default one is loaded on first need (imports TensorFlow)."""
        if self._encoder is None:
            from ..models.loader import load_model

            self._encoder = load_model()
        return self._encoder

    @property
    def encoder_id(self) -> str | None:
        """Which encoder produced the stored vectors (None while the gallery is empty)."""
        return self._store.read_one("SELECT value FROM meta WHERE key = 'encoder_id' "
                                    "AND EXISTS (SELECT 1 FROM clips)")

    def check_encoder(self) -> None:
        """Raise (asking for :meth:`reenroll`) when the stored vectors come from another encoder and
        no complete staged set of this encoder's is there to adopt: lets a caller refuse early,
        before it records or decodes anything."""
        self._check_encoder(self.encoder_id)

    # --- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._store.read_one("SELECT COUNT(*) FROM speakers")

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is an enrolled speaker's name or alias (spaces and case aside)."""
        try:
            key = name_key(clean_name(name))  # type: ignore[arg-type]
        except SpeakerIDError:
            return False
        return bool(self._read(lambda conn: aliases.key_holders(conn, key)))

    def speakers(self) -> list[SpeakerInfo]:
        """Every enrolled speaker, sorted by name ignoring case."""
        return sorted(self._read(rows.speaker_infos), key=lambda s: (s.name.casefold(), s.name))

    def find_speaker(self, name: str) -> SpeakerInfo | None:
        """The speaker a name or alias names, however it is spaced or cased ("prachanda",
        "Pushpa  Kamal Dahal"); None when nobody has it.

        Raises:
            SpeakerIDError: the name is not a valid one, or matches two names kept apart (see
                :meth:`name_clashes`).
        """
        def find(conn: sqlite3.Connection) -> SpeakerInfo | None:
            speaker_id = aliases.find_id(conn, name)
            return None if speaker_id is None else rows.speaker_infos(conn, speaker_id)[0]
        return self._read(find)

    def speaker(self, name: str) -> SpeakerInfo:
        """One speaker's details, clip count, seconds of speech and aliases, by name or alias.

        Raises:
            SpeakerIDError: nobody of that name is enrolled (or the name is not a valid one).
        """
        found = self.find_speaker(name)
        if found is None:
            raise not_enrolled(clean_name(name))
        return found

    def name_clashes(self) -> list[tuple[str, str]]:
        """Pairs of speakers whose names are one name written two ways ("Ann  Lee", "ann lee"),
        kept apart when an older gallery file was migrated; a clash ends when one is renamed."""
        return self._read(aliases.clashes)

    def clip_audio(self, name: str) -> list[AudioClip]:
        """The stored enrolment audio of one speaker, in the order it was enrolled."""
        name = self.speaker(name).name
        stored = self._clip_rows(name, "c.source, c.sample_rate, c.audio")
        return [decode_stored(audio, rate, f"{name}/{source}") for source, rate, audio in stored]

    def clip_sources(self, name: str) -> list[ClipSource]:
        """Where each of a speaker's clips came from, in the order they were enrolled, so that a
        voice taken from the web can be traced back to its page."""
        return [ClipSource(*row) for row in self._clip_rows(self.speaker(name).name,
                                                             "c.source, c.url, c.speech_s")]

    def _clip_rows(self, name: str, columns: str) -> list[tuple]:
        """``columns`` (of ``clips c``, a fixed list from this class) of the clips of the speaker
        stored as ``name``, in enrolment order."""
        return self._store.read_all(f"SELECT {columns} FROM clips c JOIN speakers s "
                                    "ON s.id = c.speaker_id WHERE s.name = ? ORDER BY c.id", (name,))

    # --- enrolment ----------------------------------------------------------------------------
    def enroll(self, name: str, clips: Sequence[ClipInput] | ClipInput, gender: str | None = None,
               party: str | None = None, notes: str | None = None) -> SpeakerInfo:
        """Create the speaker, or add clips to an existing one; all clips are kept.

        A clip identical to one the speaker already has is skipped, so enrolling a folder twice
        does not count its audio twice.

        Args:
            name: the speaker's name (any Unicode, one line), or a name or alias of an enrolled
                speaker (spaces and case aside), who then gets the clips.
            clips: files, links already fetched (:class:`~speakerid.fetch.FetchedAudio`) or decoded
                clips; one or several.
            gender, party, notes: details; given ones replace stored ones, None leaves them.

        Returns:
            The speaker as now stored.

        Raises:
            SpeakerIDError: a clip cannot be decoded or holds too little speech, a new speaker has
                under 3 s of speech in all, or the gallery holds another model's vectors. Nothing
                is written then.
        """
        cleaned = clean_name(name)
        details = {key: clean_text(value, key) for key, value in zip(DETAIL_FIELDS, (gender, party, notes))}
        new_clips = rows.distinct(embed_inputs(self.encoder, clips))
        return self._info(editing.enrol(self._store, self.user, cleaned, details, new_clips,
                                        self.encoder.encoder_id))

    def import_folder(self, folder: str | Path, progress: Progress | None = None,
                      on_error: Callable[[str, SpeakerIDError], None] | None = None
                      ) -> list[SpeakerInfo]:
        """Enrol every speaker of a dataset folder (either layout of :func:`datasets.discover`),
        each in its own transaction.

        Args:
            folder: one sub-folder of audio files per speaker, or a metadata file's layout.
            progress: called as ``progress(done, total)`` after each speaker.
            on_error: called as ``on_error(name, error)`` for a speaker whose audio is refused,
                who is then skipped; without it such a speaker stops the import.

        Returns:
            The speakers enrolled, in folder order.

        Raises:
            SpeakerIDError: a refused speaker without ``on_error`` (those before it stay enrolled).
        """
        return import_folder(lambda name, files, gender: self.enroll(name, files, gender=gender),
                             folder, progress, on_error)

    # --- identification -----------------------------------------------------------------------
    def identify(self, clip: ClipInput, top_k: int = 5, trim_ends: bool = False) -> Identification:
        """Rank the enrolled speakers for one clip (a long file is streamed in bounded memory).

        Args:
            clip: a file, a fetched link or a decoded clip.
            top_k: how many speakers to rank.
            trim_ends: leave out the first and last minute of a recording over 5 minutes.

        Returns:
            The ``top_k`` closest speakers, best first; ``speaker`` is None for an unknown voice.

        Raises:
            SpeakerIDError: the clip cannot be decoded or holds too little speech, or the
                gallery's vectors come from another model (see :meth:`reenroll`).
        """
        embedding, speech_s = embed_one(self.encoder, clip, trim_ends)
        return self.identify_embedding(embedding, top_k, speech_s)

    def identify_embedding(self, embedding: np.ndarray, top_k: int = 5,
                           speech_s: float | None = None) -> Identification:
        """Like :meth:`identify` for a vector from this gallery's encoder: one matrix product.

        Args:
            embedding: a vector from :attr:`encoder` (``embed``, ``embed_prepared``).
            top_k: how many speakers to rank (at least 1).
            speech_s: the seconds of speech the vector was made from; picks the threshold and
                probability map calibrated for clips of that length (None: full-length clips). The
                threshold then rises with the number of enrolled speakers (see
                :meth:`~speakerid.scoring.Calibration.for_gallery`).

        Returns:
            The ``top_k`` closest speakers, best first, and the threshold used.

        Raises:
            SpeakerIDError: ``top_k`` below 1, a vector of another size or not finite, or the
                gallery's vectors come from another model.
        """
        if top_k < 1:
            raise SpeakerIDError(_("top_k must be at least 1, not {top_k}").format(top_k=top_k))
        return ranking.rank(self.encoder, self._current_centroids(), embedding, top_k, speech_s)

    def verify(self, clip: ClipInput, name: str) -> Match:
        """Score one clip against one enrolled speaker.

        Returns:
            The match: same speaker when ``score`` reaches ``threshold``.

        Raises:
            SpeakerIDError: ``name`` is not enrolled, or has no clip the model in use accepts; or
                the clip is refused as in :meth:`identify`.
        """
        name = self.speaker(name).name
        embedding, speech_s = embed_one(self.encoder, clip)
        centroids = self._current_centroids()
        row = centroids.rows.get(name)
        if row is None and name in self:
            raise SpeakerIDError(_("{name!r} has no clip the model in use accepts (they were refused "
                                   "when the gallery was re-enrolled); enrol another recording").format(
                                       name=name))
        if row is None:
            raise not_enrolled(name)
        probe = ranking.query(embedding, centroids.matrix.shape[1])
        return ranking.match(name, ranking.scores(self.encoder, probe, centroids, np.array([row]))[0],
                             centroids.calibration.for_duration(speech_s))

    @property
    def calibration(self) -> Calibration:
        """The threshold and probability map identification uses: refitted on this gallery's own
        voices (:func:`speakerid.gallery.calibration.fit_gallery_calibration`) when that was
        applied for the current encoder, else the encoder's own."""
        return self._current_centroids().calibration

    def clip_embeddings(self) -> tuple[list[str], np.ndarray]:
        """Every enrolled clip's speaker name and embedding (rows in the same order)."""
        self.check_encoder()
        found = self._store.read_all("SELECT s.name, c.embedding FROM clips c JOIN speakers s "
                                     "ON s.id = c.speaker_id ORDER BY c.speaker_id, c.id")
        dim = self.encoder.model_config.embedding_dim
        return [row[0] for row in found], (np.stack([as_vector(row[1]) for row in found]) if found
                                           else np.zeros((0, dim), np.float32))

    def set_calibration(self, calibration: Calibration | None) -> None:
        """Use ``calibration`` with the current encoder from now on (None: back to the encoder's)."""
        editing.set_calibration(self._store, self.user, self.encoder.encoder_id, calibration)

    # --- editing ------------------------------------------------------------------------------
    def rename(self, old: str, new: str) -> SpeakerInfo:
        """Give a speaker (named by name or alias) another name; an alias it repeats is dropped.

        Raises:
            SpeakerIDError: ``old`` is not enrolled, or ``new`` is already another speaker's name
                or alias.
        """
        new = clean_name(new)
        return self._edit("rename", old, lambda conn, speaker_id: aliases.rename(conn, speaker_id, new))

    def remove(self, name: str) -> None:
        """Delete a speaker (named by name or alias) with all their clips, audio and aliases; the
        history keeps them, so that :meth:`undo` can bring them back."""
        editing.remove(self._store, self.user, name)

    def update(self, name: str, gender: str | None = _UNCHANGED, party: str | None = _UNCHANGED,
               notes: str | None = _UNCHANGED) -> SpeakerInfo:
        """Change a speaker's details; a field left out stays, None clears it."""
        changes = {key: clean_text(value, key) for key, value in zip(DETAIL_FIELDS, (gender, party, notes))
                   if value is not _UNCHANGED}
        return self._edit("edit", name, lambda conn, speaker_id: rows.set_details(conn, speaker_id, changes))

    def add_alias(self, name: str, alias: str) -> SpeakerInfo:
        """Give a speaker another name to be found by (another spelling or script).

        Raises:
            SpeakerIDError: nobody has ``name``, or ``alias`` already names another speaker.
        """
        return self._edit("alias", name, lambda conn, speaker_id: aliases.add_alias(conn, speaker_id, alias))

    def remove_alias(self, name: str, alias: str) -> SpeakerInfo:
        """Take an alias from a speaker (refused when it is not one of theirs)."""
        return self._edit("alias", name,
                          lambda conn, speaker_id: aliases.remove_alias(conn, speaker_id, alias))

    def set_aliases(self, name: str, new_aliases: Sequence[str]) -> SpeakerInfo:
        """A speaker's aliases become exactly ``new_aliases``, all or none of them (see :meth:`add_alias`)."""
        return self._edit("alias", name,
                          lambda conn, speaker_id: aliases.set_aliases(conn, speaker_id, new_aliases))

    # --- history ------------------------------------------------------------------------------
    def history(self, limit: int | None = None) -> list[Change]:
        """The recorded changes (who, when, what), newest first; ``limit``: at most that many."""
        return self._store.read_snapshot(lambda conn, _version: history.changes(conn, limit))

    def undo(self, change_id: int) -> Change:
        """Undo one change as a new change by :attr:`user` (the history is never rewritten): a
        removed speaker comes back with every clip, a rename is renamed back, an enrolment removed,
        a threshold restored.

        Returns:
            The new change.

        Raises:
            SpeakerIDError: no such change, it was undone already, or something it changed was
                changed again since or clashes with the gallery now (said in one sentence); nothing
                is written then.
        """
        new_id = undo.undo(self._store, self.user, change_id)
        return self._store.read_snapshot(lambda conn, _version: history.changes(conn, 1, up_to=new_id))[0]

    # --- moving galleries ---------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write a consistent copy (SQLite's backup API), as one self-contained file.

        Raises:
            SpeakerIDError: ``path`` is this gallery's own file, or its folder does not exist.
        """
        return transfer.export(self._store, path)

    def import_(self, path: str | Path, replace: bool = False, progress: Progress | None = None
                ) -> list[SpeakerInfo]:
        """Merge another gallery file into this one, or replace this one's content by it.

        The file is validated in full (schema, every blob) and, if another encoder made its vectors,
        re-enrolled from its stored audio, all before this gallery is touched; the change itself is
        one transaction. Merging adds new speakers and adds clips to same-named ones (stored details
        win over imported ones; identical clips are not added twice).

        Args:
            path: a file written by :meth:`export` (any readable format).
            replace: drop this gallery's speakers first.
            progress: follows the re-enrolment, when there is one.

        Returns:
            The imported speakers as now stored.

        Raises:
            SpeakerIDError: the file is damaged, foreign or this gallery itself, a clip of it is
                refused by this model, or (merging) this gallery holds another model's vectors.
        """
        path = Path(path)
        if path.exists() and path.resolve() == self.path.resolve():
            raise SpeakerIDError(_("{path} is this gallery itself").format(path=path))
        encoder = self.encoder
        if not replace:
            self.check_encoder()
        names = transfer.import_file(self._store, path, encoder, replace, self.user, progress)
        return [self.speaker(name) for name in names]

    def reenroll(self, encoder: SpeakerModel, progress: Progress | None = None,
                 on_refused: Callable[[SpeakerIDError], None] | None = None) -> int:
        """Re-embed from its stored audio every clip whose vector is not from ``encoder``, then
        switch to it atomically (see :mod:`speakerid.gallery.staging`).

        Args:
            encoder: the model to use from now on.
            progress: called as ``progress(done, total)`` after each clip.
            on_refused: told of each clip the new pipeline refuses; such a clip is kept, its audio
                stored and its old vector unused, until a model accepts it.

        Returns:
            The number of clips re-embedded.
        """
        switched = staging.reenroll(self._store, encoder, self.user, progress, on_refused)
        self._encoder = encoder
        return switched

    def stage(self, encoder: SpeakerModel, progress: Progress | None = None,
              on_refused: Callable[[SpeakerIDError], None] | None = None) -> None:
        """Embed with ``encoder``, beside the current vectors, every clip not staged for it yet
        (:func:`speakerid.gallery.staging.stage`): nothing the gallery answers changes."""
        staging.stage(self._store, encoder, progress, on_refused)

    def enrolled_centroids(self) -> ranking.EnrolledCentroids:
        """The centroids :meth:`identify_embedding` scores against, as they are now."""
        return self._current_centroids().public

    # --- internals ----------------------------------------------------------------------------
    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` inside one read transaction."""
        return self._store.read_snapshot(lambda conn, _version: work(conn))

    def _info(self, speaker_id: int) -> SpeakerInfo:
        return self._read(lambda conn: rows.speaker_infos(conn, speaker_id)[0])

    def _edit(self, action: str, name: str, change: Callable[[sqlite3.Connection, int], None]) -> SpeakerInfo:
        """``change(conn, speaker_id)`` as one recorded change by :attr:`user`, for the speaker a
        name or alias names."""
        return self._info(editing.edit(self._store, self.user, action, name, change))

    def _check_encoder(self, stored_id: str | None) -> None:
        """Stored vectors from another encoder: adopt this one's staged set if it is complete (an
        activation killed between the model's switch and the gallery's), else raise."""
        encoder_id = self.encoder.encoder_id
        if stored_id is not None and stored_id != encoder_id:
            staging.claim(self._store, self.user, encoder_id)

    def _current_centroids(self) -> ranking.Centroids:
        """The centroids of the vectors from this encoder (see :meth:`_check_encoder`)."""
        current = self._cached_centroids()
        if current.encoder_id is not None and current.encoder_id != self.encoder.encoder_id:
            self._check_encoder(current.encoder_id)
            current = self._cached_centroids()  # this connection wrote: reloaded
        return current

    def _cached_centroids(self) -> ranking.Centroids:
        """The cached centroid matrix, reloaded only when this or another connection wrote."""
        def load(conn: sqlite3.Connection, version: tuple[int, int]) -> ranking.Centroids:
            if self._centroids is None or self._centroids.version != version:
                self._centroids = ranking.load_centroids(conn, version, self.encoder)
            return self._centroids

        return self._store.read_snapshot(load)
