"""The scores of an archive's turns against the enrolled speakers, a block of turns at a time.

Relabelling after an enrolment scores every turn of the archive again (1.8 M turns for 10 000
hours). A cosine model's turns are kept unit-normalised (see turn_cache.py), so a block costs one
float16 -> float32 conversion into a buffer kept between blocks, one matrix product with the
enrolled centroids (normalised once) and AS-norm with the turns' stored cohort statistics: no
normalising of the turns and no cohort product at search time. Other turns go through
``model.score_matrix`` as they are.
"""

from __future__ import annotations

import numpy as np

from ..gallery import EnrolledCentroids
from ..models.scorer import ModelScoring
from ..scoring import unit
from .store import TurnTable


class TurnScores:
    """``scores(rows)``: the rows' scores against every enrolled speaker, as
    ``model.score_matrix(embeddings, enrolled.matrix, enrolled.statistics, cohort)`` gives them."""

    def __init__(self, turns: TurnTable, enrolled: EnrolledCentroids, model: ModelScoring) -> None:
        self.turns, self.enrolled, self.model = turns, enrolled, model
        self.short_way = turns.unit and model.metric == "cosine"
        self.enrolled_t = np.ascontiguousarray(unit(np.asarray(enrolled.matrix, np.float32)).T)
        self.buffer = np.zeros((0, turns.embeddings.shape[1]), np.float32)

    def __call__(self, rows: slice) -> np.ndarray:
        turns, enrolled = self.turns, self.enrolled
        cohort = None if turns.cohort is None else (turns.cohort[0][rows], turns.cohort[1][rows])
        embeddings = turns.embeddings[rows]
        if not self.short_way:
            return self.model.score_matrix(embeddings.astype(np.float32), enrolled.matrix,
                                           enrolled.statistics, cohort)
        if len(self.buffer) < len(embeddings):
            self.buffer = np.empty(embeddings.shape, np.float32)
        block = self.buffer[:len(embeddings)]
        np.copyto(block, embeddings)
        raw = block @ self.enrolled_t
        normaliser = self.model.normaliser
        return raw if normaliser is None else normaliser.normalise(raw, block, enrolled.matrix,
                                                                   enrolled.statistics, cohort)
