"""Names for the archive's turns and voices from the gallery as it is now: nothing about who is
enrolled is stored in the archive, so enrolling, renaming, removing or recalibrating shows at once.

A voice (turns linked across recordings) is named when its pooled embedding identifies as an
enrolled speaker at the threshold for all its seconds of speech: many seconds decide far more
surely than one turn. A turn whose voice is not named is named on its own, at the threshold for its
own speech; so is a turn whose own audio gives its voice's person a probability under
``TURN_VETO``, or names another enrolled person (that voice's link to it is then in doubt: two
similar people linked into one voice are told apart again once both are enrolled). Both
thresholds are raised for the gallery's size as identification raises them
(:meth:`~speakerid.scoring.Calibration.for_gallery`), and scores are the model's (AS-norm with
each turn's stored cohort statistics), so a turn is named exactly as identifying its audio would
name it. Scoring is one matrix product per block of turns
against the gallery's centroids, on float16 embeddings held in memory (unit-normalised for a cosine
model, :mod:`.turn_scores`); the result is cached until the archive or the gallery changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..gallery import EnrolledCentroids
from ..models.scorer import ModelScoring
from ..scoring import Calibration
from .store import TurnTable
from .turn_scores import TurnScores

BLOCK_TURNS = 16_384  # turns scored at once: small enough for the block's arrays to stay in cache
# A turn takes its voice's name unless its own audio gives that person less than this probability:
# then the voice's link to this recording is in doubt (two similar voices linked), and the turn
# keeps its own verdict. Turns of the right person scored 0.7-1.0 on the benchmark's seed 0, wrongly
# linked ones 0.04-0.6 (benchmarks/archive_benchmark.py; checked again on seed 1).
TURN_VETO = 0.2


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
    voice_best, voice_probability, _ = _identify(voice_centroids, None, voice_speech, enrolled, model)
    voice_speaker = {int(v): int(b) for v, b in zip(voice_ids, voice_best) if b >= 0}
    # lookup tables by voice id (-1: no voice, never named)
    named_as = np.full(int(max(voice_ids.max(initial=0), turns.voice_ids.max(initial=0))) + 2, -1, np.int32)
    voice_p = np.zeros(len(named_as), np.float32)
    named_as[voice_ids], voice_p[voice_ids] = np.where(voice_best >= 0, voice_best, -1), voice_probability
    speaker = np.full(count, -1, np.int32)
    probability = np.zeros(count, np.float32)
    scores_of = TurnScores(turns, enrolled, model)
    for first in range(0, count, BLOCK_TURNS):
        rows = slice(first, first + BLOCK_TURNS)
        scores = scores_of(rows)
        best, p = _verdicts(scores, turns.speech[rows], enrolled)
        # a voice's verdict outweighs a turn's, unless the turn's own audio is clearly not that person
        # or is clearly someone else
        voices = turns.voice_ids[rows]
        by_voice = named_as[voices]
        named = np.flatnonzero(by_voice >= 0)
        own = _probability(scores[named, by_voice[named]], turns.speech[rows][named], enrolled)
        keep = (own >= TURN_VETO) & ((best[named] < 0) | (best[named] == by_voice[named]))
        taken = named[keep]
        best[taken] = by_voice[taken]
        p[taken] = np.maximum(own[keep], voice_p[voices[taken]])
        speaker[rows], probability[rows] = best, p
    return Labels(names, speaker, probability, voice_speaker)


def _identify(vectors: np.ndarray, cohort: tuple[np.ndarray, np.ndarray] | None, speech_s: np.ndarray,
              enrolled: EnrolledCentroids, model: ModelScoring) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each vector the best enrolled speaker (-1 below its threshold) and the probability of
    the best, as :meth:`Gallery.identify_embedding <speakerid.gallery.Gallery.identify_embedding>`
    would give them for ``speech_s`` seconds of speech; and the scores against every speaker."""
    if len(vectors) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros((0, len(enrolled.names)), np.float32)
    scores = model.score_matrix(vectors, enrolled.matrix, enrolled.statistics, cohort)
    return *_verdicts(scores, speech_s, enrolled), scores


def _verdicts(scores: np.ndarray, speech_s: np.ndarray, enrolled: EnrolledCentroids
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_identify` from the scores of each row against every enrolled speaker."""
    best = np.argmax(scores, axis=1).astype(np.int32)
    top = scores[np.arange(len(best)), best]
    probability = np.zeros(len(best), np.float32)
    for calibration, rows in _by_band(enrolled.calibration, speech_s, len(enrolled.names)):
        probability[rows] = calibration.probability(top[rows])
        best[rows] = np.where(top[rows] >= calibration.threshold, best[rows], -1)
    return best, probability


def _probability(scores: np.ndarray, speech_s: np.ndarray, enrolled: EnrolledCentroids) -> np.ndarray:
    """The calibrated probability of each score, for its seconds of speech and the gallery's size."""
    probability = np.zeros(len(scores), np.float32)
    for calibration, rows in _by_band(enrolled.calibration, speech_s, len(enrolled.names)):
        probability[rows] = calibration.probability(scores[rows])
    return probability


def _by_band(calibration: Calibration, speech_s: np.ndarray, speakers: int
             ) -> list[tuple[Calibration, np.ndarray]]:
    """The calibration (for the gallery's size) of each duration band, with the rows it serves."""
    limits = np.array([band.up_to_s for band in calibration.bands])
    band = np.searchsorted(limits, speech_s, side="left")  # speech_s <= up_to_s: that band
    return [(calibration.for_duration(float(limits[b]) if b < len(limits) else None).for_gallery(speakers),
             np.flatnonzero(band == b)) for b in np.unique(band)]
