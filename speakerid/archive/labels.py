"""Names for the archive's turns and voices from the gallery as it is now: nothing about who is
enrolled is stored in the archive, so enrolling, renaming, removing or recalibrating shows at once.

A voice (turns linked across recordings) is named when its pooled embedding identifies as an
enrolled speaker at the threshold for all its seconds of speech: many seconds decide far more
surely than one turn. A turn whose voice is not named is named on its own, at the threshold for its
own speech. Both thresholds are raised for the gallery's size as identification raises them
(:meth:`~speakerid.scoring.Calibration.for_gallery`), and scores are the model's (AS-norm with each
turn's stored cohort statistics), so a turn is named exactly as identifying its audio would name
it. Scoring is one matrix product per block of turns against the gallery's centroids, on float16
embeddings held in memory; the result is cached until the archive or the gallery changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..gallery import EnrolledCentroids
from ..models.scorer import ModelScoring
from ..scoring import Calibration
from .store import TurnTable

BLOCK_TURNS = 65_536  # turns scored at once: a (block, speakers) float32 matrix


@dataclass(frozen=True)
class Labels:
    """Each turn's speaker (an index into ``names``, -1: nobody enrolled) and its probability,
    and each named voice's speaker; rows follow the :class:`~.store.TurnTable` they label."""

    names: list[str]
    speaker: np.ndarray  # int32 per turn
    probability: np.ndarray  # float32 per turn: of the speaker given, else of the closest one
    voice_speaker: dict[int, int]  # voice id -> index into names, for the voices named as a whole

    def speaker_of(self, row: int) -> str | None:
        index = int(self.speaker[row])
        return self.names[index] if index >= 0 else None


def label_turns(turns: TurnTable, voice_ids: np.ndarray, voice_centroids: np.ndarray,
                voice_speech: np.ndarray, enrolled: EnrolledCentroids, model: ModelScoring) -> Labels:
    """Every turn's speaker as the gallery names it now (see the module doc)."""
    count = len(turns.ids)
    names = list(enrolled.names)
    if not names or count == 0:
        return Labels(names, np.full(count, -1, np.int32), np.zeros(count, np.float32), {})
    voice_best, voice_probability = _identify(voice_centroids, None, voice_speech, enrolled, model)
    voice_speaker = {int(v): int(b) for v, b in zip(voice_ids, voice_best) if b >= 0}
    speaker = np.full(count, -1, np.int32)
    probability = np.zeros(count, np.float32)
    for first in range(0, count, BLOCK_TURNS):
        rows = slice(first, first + BLOCK_TURNS)
        cohort = None if turns.cohort is None else (turns.cohort[0][rows], turns.cohort[1][rows])
        speaker[rows], probability[rows] = _identify(turns.embeddings[rows].astype(np.float32), cohort,
                                                     turns.speech[rows], enrolled, model)
    # a voice's verdict outweighs a turn's: lookup tables by voice id (-1: no voice, never named)
    named_as = np.full(int(max(voice_ids.max(initial=0), turns.voice_ids.max(initial=0))) + 2, -1, np.int32)
    voice_p = np.zeros(len(named_as), np.float32)
    named_as[voice_ids], voice_p[voice_ids] = np.where(voice_best >= 0, voice_best, -1), voice_probability
    by_voice = named_as[turns.voice_ids]
    rows = by_voice >= 0
    agree = speaker[rows] == by_voice[rows]
    probability[rows] = np.where(agree, np.maximum(probability[rows], voice_p[turns.voice_ids[rows]]),
                                 voice_p[turns.voice_ids[rows]])
    speaker[rows] = by_voice[rows]
    return Labels(names, speaker, probability, voice_speaker)


def _identify(vectors: np.ndarray, cohort: tuple[np.ndarray, np.ndarray] | None, speech_s: np.ndarray,
              enrolled: EnrolledCentroids, model: ModelScoring) -> tuple[np.ndarray, np.ndarray]:
    """For each vector the best enrolled speaker (-1 below its threshold) and the probability of
    the best, as :meth:`Gallery.identify_embedding <speakerid.gallery.Gallery.identify_embedding>`
    would give them for ``speech_s`` seconds of speech."""
    if len(vectors) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    scores = model.score_matrix(vectors, enrolled.matrix, enrolled.statistics, cohort)
    best = np.argmax(scores, axis=1).astype(np.int32)
    top = scores[np.arange(len(best)), best]
    probability = np.zeros(len(best), np.float32)
    for calibration, rows in _by_band(enrolled.calibration, speech_s, len(enrolled.names)):
        probability[rows] = calibration.probability(top[rows])
        best[rows] = np.where(top[rows] >= calibration.threshold, best[rows], -1)
    return best, probability


def _by_band(calibration: Calibration, speech_s: np.ndarray, speakers: int
             ) -> list[tuple[Calibration, np.ndarray]]:
    """The calibration (for the gallery's size) of each duration band, with the rows it serves."""
    limits = np.array([band.up_to_s for band in calibration.bands])
    band = np.searchsorted(limits, speech_s, side="left")  # speech_s <= up_to_s: that band
    return [(calibration.for_duration(float(limits[b]) if b < len(limits) else None).for_gallery(speakers),
             np.flatnonzero(band == b)) for b in np.unique(band)]
