"""Incremental linking: a new recording's voices join the archive's voices, or become new ones.

Nothing already linked is clustered again: recording 201 costs one comparison of its few voices with
the archive's voice centroids. A recording's voice joins an archive voice only when the model's
calibrated score says they are one speaker: the score of the two pooled embeddings must reach the
calibration's threshold for the shorter of the two stretches of speech (a mean of many windows is a
surer sample of a voice than one clip: the same rule :func:`speakerid.voices.merge_groups`
joins groups within a recording by), raised for the number of archive voices it is compared with
(:meth:`~speakerid.scoring.Calibration.for_gallery`: with 1 000 voices to choose from, a chance
match is 1 000 times as likely). Pairs are taken best margin first and one-to-one, because the
recording's own voices were already found to be different people. A joined voice's centroid becomes
the speech-weighted mean of the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models.scorer import ModelScoring
from ..scoring import unit
from .indexer import LocalVoice
from .store import VoiceUpdate


def link_voices(local: Sequence[LocalVoice], ids: np.ndarray, centroids: np.ndarray,
                speech_s: np.ndarray, model: ModelScoring) -> list[VoiceUpdate]:
    """One update per voice of ``local``, in order: an archive voice it joins (``ids`` and
    ``centroids`` are the archive's voices of this model, ``speech_s`` their seconds) with its new
    centroid, or a new voice (id None)."""
    links: dict[int, int] = {}
    if len(local) and len(ids):
        vectors = np.stack([voice.embedding for voice in local])
        scores = model.score_matrix(vectors, centroids, model.cohort_statistics(centroids))
        calibration = model.calibration
        thresholds = np.array([[calibration.for_duration(min(voice.speech_s, seconds)).for_gallery(
            len(ids)).threshold for seconds in speech_s] for voice in local])
        margins = scores - thresholds
        while True:
            i, j = np.unravel_index(int(np.argmax(margins)), margins.shape)
            if not margins[i, j] >= 0:  # taken pairs are -inf
                break
            links[int(i)] = int(j)
            margins[i, :] = -np.inf
            margins[:, j] = -np.inf
    updates = []
    for i, voice in enumerate(local):
        j = links.get(i)
        if j is None:
            updates.append(VoiceUpdate(None, voice.embedding, voice.speech_s))
        else:
            total = float(speech_s[j]) + voice.speech_s
            updates.append(VoiceUpdate(int(ids[j]), pooled(centroids[j], float(speech_s[j]), voice.embedding,
                                                            voice.speech_s, model.metric), total))
    return updates


def pooled(a: np.ndarray, a_s: float, b: np.ndarray, b_s: float, metric: str) -> np.ndarray:
    """Two voices' embeddings as one, weighted by their seconds of speech (unit again for cosine)."""
    total = max(a_s + b_s, 1e-9)
    mean = (np.asarray(a, np.float64) * a_s + np.asarray(b, np.float64) * b_s) / total
    return (unit(mean) if metric == "cosine" else mean).astype(np.float32)
