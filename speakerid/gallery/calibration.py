"""Refit the decision threshold on a gallery's own voices.

The shipped calibration comes from held-out speakers of the training corpora (Indian telephone
speech, US audiobooks); a newsroom's voices come through other channels and languages, where the
same score may mean something else. Once enough enrolled speakers have two or more clips, their
clips are trials with known answers. Each clip is compared as identification compares a clip:
with the centroid of each speaker's clips (for its own speaker, the centroid of the *other* clips),
so the refit threshold is fitted on the comparisons the app makes.

Only full-length clips are refit (enrolment clips are 5-30 s); the bands for shorter probes keep
the model's calibration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import SpeakerIDError
from ..scoring import Calibration
from ..training.evaluate import calibration_from_trials
from .facade import Gallery
from .ranking import centroids

MIN_SPEAKERS_WITH_TWO_CLIPS = 10  # fewer give too few trials to place a 1 % false-accept threshold


@dataclass(frozen=True)
class GalleryCalibration:
    """A refit calibration and what it rests on, to show before it is applied."""

    calibration: Calibration
    speakers: int
    same_trials: int
    different_trials: int
    previous_threshold: float

    def summary(self) -> str:
        return (f"{self.same_trials} same-speaker and {self.different_trials} different-speaker trials "
                f"from {self.speakers} enrolled speakers: threshold {self.previous_threshold:.3f} -> "
                f"{self.calibration.threshold:.3f} (at it, {self.calibration.false_accept_rate:.1%} of "
                f"different-speaker trials pass and {self.calibration.miss_rate:.1%} of same-speaker "
                "trials are missed)")


def gallery_trials(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, same, speakers with two or more clips) of every clip against every speaker's
    centroid, its own speaker's computed without it."""
    names, vectors = gallery.clip_embeddings()
    speakers = sorted(set(names))
    labels = np.array([speakers.index(n) for n in names])
    repeated = sum(1 for k in range(len(speakers)) if (labels == k).sum() >= 2)
    if repeated < MIN_SPEAKERS_WITH_TWO_CLIPS:
        raise SpeakerIDError(
            f"calibrating on the gallery needs at least {MIN_SPEAKERS_WITH_TWO_CLIPS} speakers with two or "
            f"more clips; it has {repeated}. Add a second clip to more speakers first.")
    encoder, metric = gallery.encoder, gallery.encoder.metric
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    everyone = centroids(vectors, starts, metric)
    scores, same = [], []
    for row, (vector, label) in enumerate(zip(vectors, labels)):
        others = np.flatnonzero((labels == label) & (np.arange(len(labels)) != row))
        targets = everyone.copy()
        if len(others):
            targets[label] = centroids(vectors[others], np.array([0]), metric)[0]
        keep = np.ones(len(speakers), bool) if len(others) else np.arange(len(speakers)) != label
        scores.append(encoder.score_matrix(vector[None], targets[keep])[0])
        same.append((np.arange(len(speakers)) == label)[keep])
    return np.concatenate(scores), np.concatenate(same), repeated


def fit_gallery_calibration(gallery: Gallery) -> GalleryCalibration:
    """The calibration refit on ``gallery`` (not applied: see :meth:`Gallery.set_calibration`)."""
    scores, same, repeated = gallery_trials(gallery)
    current = gallery.encoder.calibration
    refit = calibration_from_trials(scores, same, "this gallery's enrolled clips, each against every "
                                    "speaker's centroid (its own without it)", repeated)
    method = (f"full-length clips: {refit.method}; shorter clips: the model's calibration "
              f"({current.method.split(';')[0]})")
    calibration = dataclasses.replace(refit, method=method, bands=current.bands)
    return GalleryCalibration(calibration, repeated, int(same.sum()), int((~same).sum()),
                              gallery.calibration.threshold)
