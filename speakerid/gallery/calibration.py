"""Refit the decision threshold on a gallery's own voices.

The shipped calibration comes from held-out speakers of the training corpora (Indian telephone
speech, US audiobooks); a newsroom's voices come through other channels and languages, where the
same score may mean something else. Once enough enrolled speakers have two or more clips, their
clips are trials with known answers. Each clip is compared as identification compares a clip:
with the centroid of each speaker's clips (for its own speaker, the centroid of the *other* clips),
so the refit threshold is fitted on the comparisons the app makes.

With few speakers those trials place a 1 % threshold badly (a gallery of 12 speakers has 264
different-speaker trials, and its third-highest impostor score is the threshold), so they are
pooled with the model's own impostor tail counted as :data:`PRIOR_TRIALS` trials
(:class:`speakerid.scoring.PooledImpostors`): a gallery moves the threshold as far as its number of
trials warrants. On 24 random galleries of 12 held-out speakers this kept every refit within 2
points of the model's own misses and false accepts or better (the README's figures).

Only full-length clips are refit (enrolment clips are 5-30 s); the bands for shorter probes keep
the model's calibration.

A refit that cannot be right is refused (shown, with the reason, but never applied), so that
calibrating cannot make the verdicts worse. It is refused when either holds:

- **misses**: it misses more than 10 points (:data:`MISS_MARGIN`) more of the gallery's own
  same-speaker trials than the model's calibration does, on its held-out speakers or on these same
  trials at its threshold, whichever is higher. A threshold that loses a speaker's own clips that
  the model's threshold keeps trades too many genuine voices for fewer outsiders.
- **band**: its threshold is a score that the model's own calibration reads as under 1 % or over
  99 % likely to be the same speaker (:data:`PROBABILITY_BAND`; for the shipped model, a band of
  about +/-1.7 around its threshold 3.32). Voices and channels move a threshold by a little; one
  that far from the model's own says the trials are unlike the speech the model knows (mislabelled
  clips, synthetic or heavily processed audio), not that the channel differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..calibration_text import GALLERY_REFIT, GALLERY_TRIALS, GALLERY_TRIALS_POOLED, first_clause
from ..errors import SpeakerIDError
from ..i18n import _
from ..models.base import SpeakerModel
from ..numerals import number, percent
from ..scoring import Calibration, PooledImpostors
from ..training.evaluate import calibration_from_trials
from .facade import Gallery
from .ranking import centroids

# The model's impostor tail weighs as this many of the gallery's different-speaker trials: about
# ten expected false accepts at 1 %, the fewest that place a 1 % threshold to within a third of it.
PRIOR_TRIALS = 1000
MIN_SPEAKERS_WITH_TWO_CLIPS = 10  # fewer give too few trials to place a 1 % false-accept threshold
MISS_MARGIN = 0.10  # the most a refit may add to the share of same-speaker trials missed
PROBABILITY_BAND = (0.01, 0.99)  # where the model's own calibration may read the refit threshold


@dataclass(frozen=True)
class TrialOutcome:
    """What one threshold does on the gallery's own trials."""

    threshold: float
    missed: int  # same-speaker trials under the threshold: a speaker's own clip not recognised
    let_in: int  # different-speaker trials at or over it: a clip taken for someone else

    @classmethod
    def at(cls, threshold: float, scores: np.ndarray, same: np.ndarray) -> TrialOutcome:
        return cls(float(threshold), int((scores[same] < threshold).sum()),
                   int((scores[~same] >= threshold).sum()))


@dataclass(frozen=True)
class GalleryCalibration:
    """A refit calibration and what it rests on, to show before it is applied."""

    calibration: Calibration
    speakers: int
    same_trials: int
    different_trials: int
    previous_threshold: float
    now: TrialOutcome  # at the threshold in use
    after: TrialOutcome  # at the refit threshold
    refusal: str | None  # why it must not be applied (see the module's rules); None: it may be

    def summary(self) -> str:
        return _("{same} same-speaker and {different} different-speaker trials from {speakers} enrolled "
                 "speakers: threshold {before:.3f} -> {after:.3f} (at it, {passed} of different-speaker "
                 "trials pass and {missed} of same-speaker trials are missed)").format(
                     same=number(self.same_trials), different=number(self.different_trials),
                     speakers=number(self.speakers), before=self.previous_threshold,
                     after=self.calibration.threshold,
                     passed=percent(self.calibration.false_accept_rate, ".1%"),
                     missed=percent(self.calibration.miss_rate, ".1%"))

    def change(self) -> str:
        """What applying it would change on the gallery's own trials, in words."""
        def outcome(at: TrialOutcome) -> str:
            return _("{missed} of {same} genuine clips missed and {let_in} of {different} comparisons "
                     "with another speaker let in (threshold {threshold:.3f})").format(
                         missed=number(at.missed), same=number(self.same_trials), let_in=number(at.let_in),
                         different=number(self.different_trials), threshold=at.threshold)
        return _("On this gallery's own clips, now: {now}; after: {after}.").format(
            now=outcome(self.now), after=outcome(self.after))

    def apply(self, gallery: Gallery) -> None:
        """Use the refit for ``gallery`` from now on; a refused refit raises its reason instead."""
        if self.refusal is not None:
            raise SpeakerIDError(self.refusal)
        gallery.set_calibration(self.calibration)


def gallery_trials(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, same, speakers with two or more clips) of every clip against every speaker's
    centroid, its own speaker's computed without it."""
    names, vectors = gallery.clip_embeddings()
    return clip_trials(names, vectors, gallery.encoder)


def clip_trials(names: Sequence[str], vectors: np.ndarray, encoder: SpeakerModel
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`gallery_trials` on clips given as their speakers' names and their embeddings, in any
    order: the trials depend only on which clips belong together."""
    # Labels number the speakers in sorted order and the clips are regrouped in that order, so that
    # row k of the centroids is speaker k whatever order the clips come in (a gallery gives them in
    # enrolment order, which need not be alphabetical).
    speakers, labels = np.unique(np.array(names, dtype=object), return_inverse=True)
    order = np.argsort(labels, kind="stable")
    vectors, labels = vectors[order], labels[order]
    repeated = int((np.bincount(labels, minlength=len(speakers)) >= 2).sum())
    if repeated < MIN_SPEAKERS_WITH_TWO_CLIPS:
        raise SpeakerIDError(
            _("calibrating on the gallery needs at least {min_speakers_with_two_clips} speakers with two or "
              "more clips; it has {repeated}. Add a second clip to more speakers first.").format(
                  min_speakers_with_two_clips=MIN_SPEAKERS_WITH_TWO_CLIPS, repeated=repeated))
    metric = encoder.metric
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
    """The calibration refit on ``gallery``, with what it would change and whether it may be
    applied (not applied: see :meth:`GalleryCalibration.apply`)."""
    scores, same, repeated = gallery_trials(gallery)
    model = gallery.encoder.calibration
    refit = refit_from_trials(scores, same, repeated, model)
    method = GALLERY_REFIT.write(refit=refit.method, model=first_clause(model.method))
    calibration = dataclasses.replace(refit, method=method, bands=model.bands)
    after = TrialOutcome.at(refit.threshold, scores, same)
    model_misses_here = TrialOutcome.at(model.threshold, scores, same).missed / same.sum()
    return GalleryCalibration(calibration, repeated, int(same.sum()), int((~same).sum()),
                              gallery.calibration.threshold,
                              TrialOutcome.at(gallery.calibration.threshold, scores, same), after,
                              refusal(model, refit, float(model_misses_here)))


def refit_from_trials(scores: np.ndarray, same: np.ndarray, speakers: int, model: Calibration) -> Calibration:
    """The refit on a gallery's trials (:func:`clip_trials`): its threshold placed on them pooled
    with ``model``'s impostor tail (:data:`PRIOR_TRIALS`), or on them alone when the model's
    calibration has no tail."""
    if model.tail is None:
        return calibration_from_trials(scores, same, GALLERY_TRIALS.write(), speakers)
    return calibration_from_trials(scores, same, GALLERY_TRIALS_POOLED.write(trials=PRIOR_TRIALS), speakers,
                                   prior=PooledImpostors(model.tail, PRIOR_TRIALS))


def refusal(model: Calibration, refit: Calibration, model_misses_here: float) -> str | None:
    """Why ``refit`` must not replace ``model`` (the module's two rules), or None.

    ``model_misses_here``: the share of the gallery's same-speaker trials that the model's
    threshold misses.
    """
    model_misses = max(model.miss_rate or 0.0, model_misses_here)
    if (refit.miss_rate or 0.0) > model_misses + MISS_MARGIN + 1e-9:  # 1e-9: count ratios' rounding
        return _("the refit threshold {threshold:.3f} misses {refit_misses:.1%} of this gallery's "
                 "same-speaker trials, where the model's calibration misses {model_misses:.1%}: more "
                 "than {margin:.0f} points worse. Check that each speaker's clips are of that speaker, "
                 "or keep the model's threshold").format(
                     threshold=refit.threshold, refit_misses=refit.miss_rate, model_misses=model_misses,
                     margin=MISS_MARGIN * 100)
    low, high = PROBABILITY_BAND
    # Where the threshold sits on the model's fitted curve, not a probability stated to anyone: the
    # curve unlimited by the trials' bounds, so a calibration on few trials still refuses far refits.
    probability = dataclasses.replace(model, llr_bounds=None).probability(refit.threshold)
    if not low <= probability <= high:
        return _("the refit threshold {threshold:.3f} is a score the model's own calibration (threshold "
                 "{model_threshold:.3f}) reads as {probability:.1%} likely to be the same speaker, outside "
                 "the {low:.0%}-{high:.0%} in which a gallery's voices can move it. Its clips are unlike "
                 "the speech the model was calibrated on (mislabelled, synthetic or heavily processed "
                 "audio?); keep the model's threshold").format(
                     threshold=refit.threshold, model_threshold=model.threshold, probability=probability,
                     low=low, high=high)
    return None
