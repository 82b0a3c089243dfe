"""The enrolled-speaker store as one object: :class:`Gallery` (the jobs themselves live in the
modules of :mod:`speakerid.gallery`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from ..errors import SpeakerIDError
from ..results import Identification, Match, Progress, SpeakerInfo
from ..scoring import Calibration
from . import aliases, editing, history, ranking, rows, staging, transfer, undo
from .clip_storage import ClipInput
from .embedding import embed_inputs, embed_one
from .folder_import import import_folder
from .history import Change
from .names import clean_name, near_names, not_enrolled
from .rows import UNCHANGED, ClipSource
from .store import Store

if TYPE_CHECKING:
    from ..audio import AudioClip
    from ..models.base import SpeakerModel


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.path)
        self._centroids = ranking.CentroidCache(self._store)

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
        return self._store.read(staging.vectors_encoder_id)

    def check_encoder(self) -> None:
        """Refuse early (asking for :meth:`reenroll`) stored vectors from another encoder
        (:func:`speakerid.gallery.staging.require_encoder`)."""
        staging.require_encoder(self._store, self.user, self.encoder.encoder_id)

    # --- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._store.read(rows.speaker_count)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is an enrolled speaker's name or alias (spaces and case aside)."""
        return self._store.read(lambda conn: aliases.known(conn, name))

    def speakers(self) -> list[SpeakerInfo]:
        """Every enrolled speaker, sorted by name ignoring case."""
        return self._store.read(rows.every_speaker)

    def find_speaker(self, name: str) -> SpeakerInfo | None:
        """The speaker a name or alias names, or None (:func:`speakerid.gallery.rows.find_info`)."""
        return self._store.read(lambda conn: rows.find_info(conn, name))

    def speaker(self, name: str) -> SpeakerInfo:
        """One speaker's details, clip count, seconds of speech and aliases, by name or alias.

        Raises:
            SpeakerIDError: nobody of that name is enrolled (or the name is not a valid one).
        """
        found = self.find_speaker(name)
        if found is None:
            raise not_enrolled(clean_name(name), self.near_names(name))
        return found

    def near_names(self, name: str) -> list[str]:
        """Enrolled names a shortened or mistyped ``name`` may mean (:func:`names.near_names`)."""
        return near_names(name, [speaker.name for speaker in self.speakers()])

    def name_clashes(self) -> list[tuple[str, str]]:
        """Pairs of speakers whose names are one name written two ways
        (:func:`speakerid.gallery.aliases.clashes`)."""
        return self._store.read(aliases.clashes)

    def clip_audio(self, name: str) -> list[AudioClip]:
        """The stored enrolment audio of one speaker, in the order it was enrolled."""
        return rows.clip_audio(self._store, self.speaker(name).name)

    def clip_sources(self, name: str) -> list[ClipSource]:
        """Where each of a speaker's clips came from (:func:`speakerid.gallery.rows.clip_sources`)."""
        name = self.speaker(name).name
        return self._store.read(lambda conn: rows.clip_sources(conn, name))

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
        cleaned, details = clean_name(name), rows.clean_details(gender, party, notes)  # before any audio
        return editing.enrol(self._store, self.user, cleaned, details, embed_inputs(self.encoder, clips),
                             self.encoder.encoder_id)

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
        """Like :meth:`identify` for a vector from :attr:`encoder` (``embed``, ``embed_prepared``):
        one matrix product (:func:`speakerid.gallery.ranking.rank`).

        Args:
            embedding: a vector from :attr:`encoder`.
            top_k: how many speakers to rank (at least 1).
            speech_s: the seconds of speech the vector was made from; picks the threshold and
                probability map calibrated for clips of that length (None: full-length clips).

        Returns:
            The ``top_k`` closest speakers, best first, and the threshold used.

        Raises:
            SpeakerIDError: ``top_k`` below 1, a vector of another size or not finite, or the
                gallery's vectors come from another model.
        """
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
        return ranking.verify(self.encoder, self._current_centroids(), name, embedding, speech_s,
                              self.__contains__)

    @property
    def calibration(self) -> Calibration:
        """The threshold and probability map identification uses: refitted on this gallery's own
        voices (:func:`speakerid.gallery.calibration.fit_gallery_calibration`) when that was
        applied for the current encoder, else the encoder's own."""
        return self._current_centroids().calibration

    def clip_embeddings(self) -> tuple[list[str], np.ndarray]:
        """Every enrolled clip's speaker name and embedding (rows in the same order)."""
        self.check_encoder()
        dim = self.encoder.model_config.embedding_dim
        return self._store.read(lambda conn: rows.clip_embeddings(conn, dim))

    def set_calibration(self, calibration: Calibration | None) -> None:
        """Use ``calibration`` with the current encoder from now on (None: back to the encoder's)."""
        editing.set_calibration(self._store, self.user, self.encoder.encoder_id, calibration)

    def enrolled_centroids(self) -> ranking.EnrolledCentroids:
        """The centroids :meth:`identify_embedding` scores against, as they are now."""
        return self._current_centroids().public

    def _current_centroids(self) -> ranking.Centroids:
        return self._centroids.current(self.encoder, self.user)

    # --- editing ------------------------------------------------------------------------------
    def rename(self, old: str, new: str) -> SpeakerInfo:
        """Give a speaker (named by name or alias) another name; an alias it repeats is dropped.

        Raises:
            SpeakerIDError: ``old`` is not enrolled, or ``new`` is already another speaker's name
                or alias.
        """
        new = clean_name(new)
        return editing.edit(self._store, self.user, "rename", old,
                            lambda conn, speaker_id: aliases.rename(conn, speaker_id, new))

    def remove(self, name: str) -> None:
        """Delete a speaker (named by name or alias) with all their clips, audio and aliases; the
        history keeps them, so that :meth:`undo` can bring them back.

        Raises:
            SpeakerIDError: nobody of that name is enrolled, or someone changed them meanwhile.
        """
        editing.remove(self._store, self.user, name)

    def update(self, name: str, gender: str | None = UNCHANGED, party: str | None = UNCHANGED,
               notes: str | None = UNCHANGED) -> SpeakerInfo:
        """Change a speaker's details; a field left out stays, None clears it."""
        changes = rows.clean_details(gender, party, notes)
        return editing.edit(self._store, self.user, "edit", name,
                            lambda conn, speaker_id: rows.set_details(conn, speaker_id, changes))

    def add_alias(self, name: str, alias: str) -> SpeakerInfo:
        """Give a speaker another name to be found by (:func:`speakerid.gallery.aliases.add_alias`)."""
        return editing.edit(self._store, self.user, "alias", name,
                            lambda conn, speaker_id: aliases.add_alias(conn, speaker_id, alias))

    def remove_alias(self, name: str, alias: str) -> SpeakerInfo:
        """Take an alias from a speaker (refused when it is not one of theirs)."""
        return editing.edit(self._store, self.user, "alias", name,
                            lambda conn, speaker_id: aliases.remove_alias(conn, speaker_id, alias))

    def set_aliases(self, name: str, new_aliases: Sequence[str]) -> SpeakerInfo:
        """A speaker's aliases become exactly ``new_aliases``, all or none of them (see :meth:`add_alias`)."""
        return editing.edit(self._store, self.user, "alias", name,
                            lambda conn, speaker_id: aliases.set_aliases(conn, speaker_id, new_aliases))

    # --- history ------------------------------------------------------------------------------
    def history(self, limit: int | None = None) -> list[Change]:
        """The recorded changes, newest first.

        Args:
            limit: at most that many (None: all).

        Returns:
            Each change with who made it, when, and what it did in words.
        """
        return self._store.read(lambda conn: history.changes(conn, limit))

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
        return undo.undo(self._store, self.user, change_id)

    # --- moving galleries ---------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write a consistent copy (SQLite's backup API), as one self-contained file.

        Returns:
            The copy's path.

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
        names = transfer.import_file(self._store, Path(path), self.encoder, replace, self.user, progress)
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
        """Embed with ``encoder``, beside the current vectors, what it lacks
        (:func:`speakerid.gallery.staging.stage`): nothing the gallery answers changes."""
        staging.stage(self._store, encoder, progress, on_refused)
