"""Ranking the enrolled speakers for one embedding: each speaker's centroid (cached while the file
is unchanged), a top-k search over them, the model's scores (AS-normalised when it ships a cohort)
and the calibration that turns a score into a verdict and a probability."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpeakerIDError
from ..i18n import _
from ..results import Identification, Match
from ..scoring import Calibration, unit
from ..search import SpeakerIndex
from . import staging
from .clip_storage import as_vector
from .names import not_enrolled

if TYPE_CHECKING:
    from ..models.base import SpeakerModel as Encoder
    from .store import Store

# Raw-score candidates re-scored with the model's score normalisation: AS-norm can reorder
# speakers, but not lift one from outside the raw top 50 over the threshold in practice.
SHORTLIST = 50


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
class Centroids:
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


class CentroidCache:
    """One gallery file's centroids, loaded again only when this or another connection wrote."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._centroids: Centroids | None = None

    def current(self, encoder: Encoder, user: str) -> Centroids:
        """The centroids of ``encoder``'s vectors. Stored vectors from another encoder adopt its
        complete staged set first (:func:`.staging.claim`, a change by ``user``), or raise."""
        current = self._cached(encoder)
        if current.encoder_id is not None and current.encoder_id != encoder.encoder_id:
            staging.claim(self._store, user, encoder.encoder_id)
            current = self._cached(encoder)  # this connection wrote: reloaded
        return current

    def _cached(self, encoder: Encoder) -> Centroids:
        def load(conn: sqlite3.Connection, version: tuple[int, int]) -> Centroids:
            if self._centroids is None or self._centroids.version != version:
                self._centroids = load_centroids(conn, version, encoder)
            return self._centroids

        return self._store.read_snapshot(load)


def scores(encoder: Encoder, probe: np.ndarray, ranked: Centroids, rows: np.ndarray) -> np.ndarray:
    """The model's scores (AS-normalised when it ships a cohort, as its threshold expects)
    of ``probe`` against the centroids in ``rows``."""
    statistics = ranked.statistics
    if statistics is not None:
        statistics = (statistics[0][rows], statistics[1][rows])
    return encoder.score_matrix(probe[None], ranked.matrix[rows], statistics)[0]


def rank(encoder: Encoder, ranked: Centroids, embedding: np.ndarray, top_k: int,
         speech_s: float | None) -> Identification:
    """The ``top_k`` speakers closest to ``embedding``, judged with the calibration for
    ``speech_s`` seconds of speech and this many enrolled speakers (see
    :meth:`~speakerid.scoring.Calibration.for_gallery`).

    Raises:
        SpeakerIDError: ``top_k`` below 1, or a vector of another size or not finite.
    """
    if top_k < 1:
        raise SpeakerIDError(_("top_k must be at least 1, not {top_k}").format(top_k=top_k))
    calibration = ranked.calibration.for_duration(speech_s).for_gallery(len(ranked.names))
    if not ranked.names:
        return Identification([], calibration.threshold)
    probe = query(embedding, ranked.matrix.shape[1])
    rows = ranked.index.search(probe, max(top_k, SHORTLIST)).indices[0]
    found = scores(encoder, probe, ranked, rows)
    best = np.argsort(-found, kind="stable")[:top_k]
    return Identification([match(ranked.names[rows[i]], found[i], calibration) for i in best],
                          calibration.threshold)


def verify(encoder: Encoder, ranked: Centroids, name: str, embedding: np.ndarray, speech_s: float | None,
           enrolled: Callable[[str], bool]) -> Match:
    """``embedding`` scored against the centroid of the speaker stored as ``name``, judged with
    the calibration for ``speech_s`` seconds of speech.

    Raises:
        SpeakerIDError: ``name`` has no centroid: no clip the model in use accepts, or (as
            ``enrolled(name)`` says) nobody of that name is enrolled now.
    """
    row = ranked.rows.get(name)
    if row is None and enrolled(name):
        raise SpeakerIDError(_("{name!r} has no clip the model in use accepts (they were refused "
                               "when the gallery was re-enrolled); enrol another recording").format(
                                   name=name))
    if row is None:
        raise not_enrolled(name)
    probe = query(embedding, ranked.matrix.shape[1])
    return match(name, scores(encoder, probe, ranked, np.array([row]))[0],
                 ranked.calibration.for_duration(speech_s))


def match(name: str, score: float, calibration: Calibration) -> Match:
    return Match(name, float(score), float(calibration.probability(float(score))), calibration.threshold,
                 calibration.supported_log10_lr(float(score)))


def query(embedding: np.ndarray, dim: int) -> np.ndarray:
    """One embedding as a float32 vector that can be compared with the gallery's."""
    embedding = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if embedding.shape[0] != dim:
        raise SpeakerIDError(_("a {size}-dimensional embedding cannot be compared "
                               "with this gallery's {dim}-dimensional ones").format(
                                   size=embedding.shape[0], dim=dim))
    if not np.isfinite(embedding).all():
        raise SpeakerIDError(_("the embedding is not finite (NaN or infinity); it cannot be compared"))
    return embedding


def centroids(vectors: np.ndarray, starts: np.ndarray, metric: str) -> np.ndarray:
    """One centroid per group of consecutive rows (groups begin at ``starts``).

    Cosine: the unit-normalised mean of the unit clip vectors, so that a long clip does not
    outweigh a short one; Euclidean: the plain mean.
    """
    if metric == "cosine":
        return unit(np.add.reduceat(unit(vectors), starts, axis=0)).astype(np.float32)
    counts = np.diff(np.append(starts, len(vectors)))
    return (np.add.reduceat(vectors, starts, axis=0) / counts[:, None]).astype(np.float32)


def calibration_key(encoder_id: str) -> str:
    return f"calibration:{encoder_id}"


def stored_calibration(conn: sqlite3.Connection, encoder: Encoder) -> Calibration:
    """The calibration applied to this gallery for ``encoder``, else the encoder's own. A stored one
    that does not read (a damaged or foreign file) is ignored: the encoder's is always valid."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?",
                       (calibration_key(encoder.encoder_id),)).fetchone()
    if row is not None:
        try:
            return Calibration.from_dict(json.loads(row[0]))
        except (ValueError, TypeError, RecursionError):
            pass
    return encoder.calibration


def load_centroids(conn: sqlite3.Connection, version: tuple[int, int], encoder: Encoder) -> Centroids:
    metric = encoder.model_config.metric
    calibration = stored_calibration(conn, encoder)
    encoder_id = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
    rows = conn.execute("SELECT c.speaker_id, s.name, c.embedding FROM clips c JOIN speakers s "
                        "ON s.id = c.speaker_id WHERE c.encoder_id = (SELECT value FROM meta WHERE "
                        "key = 'encoder_id') ORDER BY c.speaker_id").fetchall()
    if not rows:
        empty = np.zeros((0, 0), np.float32)
        return Centroids(version, None, [], empty, {}, SpeakerIndex(empty, metric), None, calibration)
    ids = np.array([row[0] for row in rows])
    vectors = np.stack([as_vector(row[2]) for row in rows])
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    names = [rows[i][1] for i in starts]
    matrix = centroids(vectors, starts, metric)
    return Centroids(version, encoder_id[0] if encoder_id else None, names, matrix,
                      {name: i for i, name in enumerate(names)}, SpeakerIndex(matrix, metric),
                      encoder.cohort_statistics(matrix), calibration)
