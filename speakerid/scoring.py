"""Turning two embeddings into a score, and a score into a decision that means something.

A :class:`Calibration` holds the decision threshold on the score and a logistic map from the score
to the probability that two clips share a speaker, fitted on trials from held-out speakers. It also
gives the likelihood ratio that forensic speaker comparison reports: how many times more likely
the score is for one speaker than for two, whatever the prior (:meth:`Calibration.log10_lr`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .calibration_text import PRIOR, UNCALIBRATED


def score(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """Higher means more likely the same speaker: cosine, or minus the Euclidean distance."""
    return float(score_matrix(np.asarray(a)[None], np.asarray(b)[None], metric)[0, 0])


def score_matrix(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """All scores between rows of ``a`` (n, d) and rows of ``b`` (m, d), shape (n, m)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if metric == "cosine":
        return unit(a) @ unit(b).T
    if metric == "euclidean":
        squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
        return -np.sqrt(np.maximum(squared, 0.0))
    raise ValueError(f"unknown metric {metric!r}")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Calibration:
    """Threshold and score-to-probability map, with a sentence that says how they were obtained.

    A short clip scores lower against its own speaker than a long one, so one threshold cannot
    mean the same at 3 s and at 30 s. ``bands`` hold a threshold and map fitted on probes of each
    length (:meth:`for_duration` picks one); the top-level fields are those of full-length clips
    and serve any probe longer than every band.
    """

    threshold: float
    slope: float = 1.0
    offset: float = 0.0
    method: str = UNCALIBRATED.write()
    eer: float | None = None
    false_accept_rate: float | None = None  # of held-out different-speaker trials, at the threshold
    miss_rate: float | None = None  # of held-out same-speaker trials, at the threshold
    bands: tuple[DurationBand, ...] = ()
    tail: ImpostorTail | None = None  # the highest different-speaker scores, for larger galleries
    # The natural-log likelihood ratio is slope * score + llr_offset: the probability's log-odds
    # less the prior's (see fit_calibration). It does not move with the threshold (for_gallery).
    llr_offset: float | None = None  # None: not known (a calibration from before it was kept)
    # The base-10 log likelihood ratios its trials can support (supported_log10_lr); None: not known.
    llr_bounds: tuple[float, float] | None = None

    def log10_lr(self, value: float | np.ndarray) -> float | np.ndarray | None:
        """The base-10 log of the likelihood ratio P(score | same speaker) / P(score | different
        speakers), the scale forensic reports use (2: a hundred times likelier for one speaker);
        None when this calibration does not know its prior."""
        if self.llr_offset is None:
            return None
        llr = (self.slope * np.asarray(value, dtype=np.float64) + self.llr_offset) / math.log(10)
        return float(llr) if np.ndim(llr) == 0 else llr

    def supported_log10_lr(self, value: float | np.ndarray) -> float | np.ndarray | None:
        """:meth:`log10_lr` limited to what the trials it was fitted on can support, the figure a
        report may state. Fitted on 71 same-speaker and 1 090 different-speaker trials, a logistic
        map still extrapolates to ratios of 10^14, yet no ratio over about 1 090 (or under 1/71)
        has ever been tested against a trial: stating one would claim more than the calibration
        knows (the bound in the spirit of Vergeer et al.'s empirical lower and upper bounds,
        Forensic Science International 2016). The benchmarks' Cllr reads the unlimited ratio."""
        llr = self.log10_lr(value)
        if llr is None or self.llr_bounds is None:
            return llr
        bounded = np.clip(llr, *self.llr_bounds)
        return float(bounded) if np.ndim(bounded) == 0 else bounded

    def probability(self, value: float | np.ndarray) -> float | np.ndarray:
        """P(same speaker | score) from the fitted logistic map: 0.5 at the threshold, more above
        it (see :func:`fit_calibration`). Its log-odds are the likelihood ratio's plus the prior's,
        so it is limited where the ratio is (:meth:`supported_log10_lr`): no surer than the trials
        behind it support (the shipped model, full length: 0.97 % to 99.87 %; never "100 %")."""
        z = self.slope * np.asarray(value, dtype=np.float64) + self.offset
        if self.llr_bounds is not None and self.llr_offset is not None:
            prior_log_odds = self.offset - self.llr_offset
            low, high = (bound * math.log(10) + prior_log_odds for bound in self.llr_bounds)
            z = np.clip(z, low, high)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        return float(p) if np.ndim(p) == 0 else p

    def for_duration(self, speech_s: float | None) -> Calibration:
        """The calibration fitted for probes with ``speech_s`` seconds of speech (None: full length)."""
        if speech_s is not None:
            for band in self.bands:
                if speech_s <= band.up_to_s:
                    return band.calibration
        return dataclasses.replace(self, bands=())

    def for_gallery(self, speakers: int) -> Calibration:
        """The calibration for naming one of ``speakers`` enrolled voices.

        The threshold lets ``false_accept_rate`` of single comparisons through. A voice nobody
        enrolled is compared with every enrolled one and named if its best score passes, so in a
        gallery of 20 it would be named up to 20 times as often. Each comparison may therefore pass
        only ``false_accept_rate / speakers``, a rate too small to count in the held-out trials:
        it is read off the exponential fitted to their highest different-speaker scores (``tail``).
        The probability map moves with the threshold, so that it stays even odds there.
        """
        if self.tail is None or speakers <= 1 or not self.false_accept_rate:
            return self
        threshold = max(self.threshold, self.tail.threshold(self.false_accept_rate / speakers))
        return dataclasses.replace(self, threshold=threshold, offset=self.offset - self.slope * (
            threshold - self.threshold))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: Any) -> Calibration:
        """From calibration.json; ValueError unless it holds exactly these fields as plain values."""
        if not isinstance(data, dict) or not set(data) <= {f.name for f in dataclasses.fields(cls)}:
            raise ValueError("expected an object with threshold, slope, offset, method, error rates and "
                             "duration bands")
        for key in ("threshold", "slope", "offset", "eer", "false_accept_rate", "miss_rate", "llr_offset"):
            value = data.get(key, 0.0)
            if key not in ("threshold", "slope", "offset") and value is None:
                continue
            _require_finite(key, value)
        if not isinstance(data.get("method", ""), str):
            raise ValueError("method must be text")
        bands = data.get("bands", [])
        if not isinstance(bands, list) or len(bands) > MAX_BANDS:
            raise ValueError(f"bands must be a list of at most {MAX_BANDS}")
        tail = data.get("tail")
        bounds = data["llr_bounds"] if "llr_bounds" in data else _stated_llr_bounds(data)
        return cls(**{**data, "bands": tuple(DurationBand.from_dict(band) for band in bands),
                      "tail": None if tail is None else ImpostorTail.from_dict(tail),
                      "llr_offset": data.get("llr_offset", _stated_llr_offset(data)),
                      "llr_bounds": None if bounds is None else _checked_bounds(bounds)})


@dataclass(frozen=True)
class ImpostorTail:
    """The top ``share`` of different-speaker scores as an exponential tail (peaks over a
    threshold): P(score > t) = share * exp(-(t - start) / scale) for t above ``start``."""

    start: float
    scale: float
    share: float

    def threshold(self, false_accepts: float) -> float:
        """The score that this share of different-speaker comparisons exceeds."""
        return self.start + self.scale * math.log(self.share / false_accepts)

    def passing(self, scores: np.ndarray) -> np.ndarray:
        """The share of different-speaker comparisons over each score (the exponential, at most 1)."""
        excess = np.asarray(scores, np.float64) - self.start
        return np.minimum(1.0, self.share * np.exp(-excess / self.scale))

    @classmethod
    def fit(cls, different_scores: np.ndarray, share: float = 0.05,
            min_points: int = 20) -> ImpostorTail | None:
        """Fitted to the top ``share`` of the scores; None when that is fewer than ``min_points``."""
        scores = np.asarray(different_scores, dtype=np.float64)
        start = float(np.quantile(scores, 1 - share))
        excess = scores[scores > start] - start
        if len(excess) < min_points or excess.mean() <= 0:
            return None
        return cls(start, float(excess.mean()), share)

    @classmethod
    def from_dict(cls, data: Any) -> ImpostorTail:
        if not isinstance(data, dict) or set(data) != {"start", "scale", "share"}:
            raise ValueError("tail must hold start, scale and share")
        for key, value in data.items():
            _require_finite(key, value)
        if not (data["scale"] > 0 and 0 < data["share"] <= 1):
            raise ValueError("tail scale must be positive and share within (0, 1]")
        return cls(float(data["start"]), float(data["scale"]), float(data["share"]))


@dataclass(frozen=True)
class PooledImpostors:
    """Few different-speaker trials steadied by a calibration's impostor tail, counted as
    ``trials`` trials more.

    A gallery of 12 speakers with two clips each gives 264 different-speaker trials: its 1 %
    threshold is its third-highest impostor score, which one unlucky pair moves by a whole point
    (the draws in ``benchmarks/conditions.py`` put it anywhere from 2.3 to 4.5 for the shipped
    model). Pooled with the model's own tail, the gallery's trials move the threshold as far as
    their number warrants: a little with a few hundred, most of the way with many thousand.
    """

    tail: ImpostorTail
    trials: int

    def false_accepts(self, different_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        """The pooled share of different-speaker trials at or over each threshold."""
        return self._pooled(np.sort(np.asarray(different_scores, np.float64)), thresholds)

    def _pooled(self, own_sorted: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        at_or_over = len(own_sorted) - np.searchsorted(own_sorted, thresholds, side="left")
        return (at_or_over + self.trials * self.tail.passing(thresholds)) / (len(own_sorted) + self.trials)

    def threshold(self, different_scores: np.ndarray, false_accepts: float) -> float:
        """The lowest threshold whose pooled share of false accepts is at most ``false_accepts``
        (bisection: the share only falls as the threshold rises)."""
        own = np.sort(np.asarray(different_scores, np.float64))
        low = float(own.min(initial=self.tail.start)) - 1.0
        high = max(float(own.max(initial=self.tail.start)) + 1e-6,
                   self.tail.threshold(false_accepts * (len(own) + self.trials) / self.trials))
        for _step in range(60):
            middle = (low + high) / 2
            if self._pooled(own, np.array([middle]))[0] <= false_accepts:
                high = middle
            else:
                low = middle
        return high


@dataclass(frozen=True)
class DurationBand:
    """The calibration for probes with at most ``up_to_s`` seconds of speech."""

    up_to_s: float
    calibration: Calibration

    @classmethod
    def from_dict(cls, data: Any) -> DurationBand:
        if not isinstance(data, dict) or set(data) != {"up_to_s", "calibration"}:
            raise ValueError("each band must hold up_to_s and calibration")
        _require_finite("up_to_s", data["up_to_s"])
        calibration = Calibration.from_dict(data["calibration"])
        if calibration.bands:
            raise ValueError("a band's calibration cannot hold bands of its own")
        return cls(float(data["up_to_s"]), calibration)


MAX_BANDS = 16
STATED_PRIOR = re.compile(r"probabilities for a prior of (\d+(?:\.\d+)?)%")


def _stated_llr_offset(data: dict[str, Any]) -> float | None:
    """The likelihood ratio's offset of a calibration saved before it was kept, from the prior its
    ``method`` states (:func:`fit_calibration` writes it to 0.1 %); None when it states none."""
    stated = STATED_PRIOR.search(str(data.get("method", "")))
    prior = float(stated.group(1)) / 100 if stated else 0.0
    if not 0 < prior < 1:
        return None
    return float(data.get("offset", 0.0)) - math.log(prior / (1 - prior))


STATED_TRIALS = re.compile(r"on (\d+) same / (\d+) different trials")


def llr_bounds(same_trials: int, different_trials: int) -> tuple[float, float] | None:
    """The log10 likelihood ratios that this many trials can support: from 1/``same_trials`` to
    ``different_trials`` (see :meth:`Calibration.supported_log10_lr`); None without trials."""
    if same_trials < 1 or different_trials < 1:
        return None
    return -math.log10(same_trials), math.log10(different_trials)


def _stated_llr_bounds(data: dict[str, Any]) -> tuple[float, float] | None:
    """The bounds of a calibration saved before they were kept, from the trials its ``method``
    states (the first count: a gallery refit's own, before the model's shorter-clip text)."""
    stated = STATED_TRIALS.search(str(data.get("method", "")))
    return llr_bounds(int(stated.group(1)), int(stated.group(2))) if stated else None


def _checked_bounds(bounds: Any) -> tuple[float, float]:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise ValueError("llr_bounds must be a pair of numbers")
    for value in bounds:
        _require_finite("llr_bounds", value)
    low, high = float(bounds[0]), float(bounds[1])
    if not low <= 0 <= high:
        raise ValueError("llr_bounds must hold a lower bound at most 0 and an upper bound at least 0")
    return low, high


def _require_finite(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) < 1e300:
        raise ValueError(f"{key} must be a finite number, not {str(value)[:40]!r}")


def default_calibration(metric: str) -> Calibration:
    """What an untrained or uncalibrated model uses until :func:`fit_calibration` runs."""
    return Calibration(threshold=0.5 if metric == "cosine" else -1.5)


def fit_calibration(same_scores: np.ndarray, different_scores: np.ndarray, description: str,
                    threshold: float, eer: float | None = None, false_accept_rate: float | None = None,
                    miss_rate: float | None = None) -> Calibration:
    """Logistic regression of same/different on the score, classes weighted equally, then moved
    to the prior at which ``threshold`` is even odds.

    The equal-weight fit estimates the log-likelihood ratio. With equal priors, a voice just
    below a strict threshold would read "unknown speaker, 80 % probability"; at the prior the
    threshold implies, a probability over 50 % means exactly what the verdict says. The fit is
    scikit-learn's, L2-regularised: on trials that a threshold separates perfectly, an
    unregularised slope grows without bound and every probability becomes 0 or 1.
    """
    from sklearn.linear_model import LogisticRegression  # here: loading a model does not need it

    scores = np.concatenate([same_scores, different_scores]).astype(np.float64)
    labels = np.concatenate([np.ones(len(same_scores)), np.zeros(len(different_scores))])
    mean, spread = scores.mean(), scores.std() + 1e-9
    fitted = LogisticRegression(class_weight="balanced").fit(((scores - mean) / spread)[:, None], labels)
    w, b = fitted.coef_[0, 0], fitted.intercept_[0]
    slope = w / spread
    log_likelihood_ratio_at_threshold = slope * (threshold - mean) + b
    prior = 1.0 / (1.0 + np.exp(log_likelihood_ratio_at_threshold))
    method = PRIOR.write(method=description, prior=prior)
    return Calibration(threshold=float(threshold), slope=float(slope), offset=float(-slope * threshold),
                       method=method, eer=eer, false_accept_rate=false_accept_rate, miss_rate=miss_rate,
                       llr_offset=float(b - slope * mean),
                       llr_bounds=llr_bounds(len(same_scores), len(different_scores)))


class ScoreNormaliser:
    """Adaptive symmetric score normalisation (AS-norm) against a cohort of impostor embeddings.

    A raw score means different things for different voices and recordings: a clip with strong
    channel colouring scores high against everyone. AS-norm rescales each score by how the two
    sides score against their ``top_k`` closest cohort voices, so scores read the same across
    clips and one threshold fits all (Matejka et al., Interspeech 2017).
    """

    def __init__(self, cohort: np.ndarray, metric: str, top_k: int = 100) -> None:
        self.cohort = np.asarray(cohort, dtype=np.float32)
        self.metric = metric
        self.top_k = min(top_k, len(self.cohort))

    def statistics(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread of each embedding's ``top_k`` highest cohort scores."""
        scores = self.cohort_scores(embeddings)
        top = -np.partition(-scores, self.top_k - 1, axis=1)[:, :self.top_k]
        return top.mean(axis=1), top.std(axis=1) + 1e-6

    def cohort_scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Every embedding's score against every cohort voice, (embeddings, cohort)."""
        return score_matrix(embeddings, self.cohort, self.metric)

    def normalise(self, raw: np.ndarray, a: np.ndarray, b: np.ndarray,
                  b_statistics: tuple[np.ndarray, np.ndarray] | None = None,
                  a_statistics: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """AS-norm of ``raw`` (n, m) scores between rows of ``a`` and rows of ``b`` (statistics
        given for either side are used rather than computed again)."""
        mean_a, std_a = a_statistics if a_statistics is not None else self.statistics(a)
        mean_b, std_b = b_statistics if b_statistics is not None else self.statistics(b)
        # 0.5 * ((raw - mean_a) / std_a + (raw - mean_b) / std_b), with one (n, m) temporary: an
        # archive's search normalises millions of rows (speakerid/archive/labels.py)
        half_a, half_b = 0.5 / std_a, 0.5 / std_b
        scores = half_a[:, None] + half_b[None, :]
        scores *= raw
        scores -= (mean_a * half_a)[:, None]
        scores -= (mean_b * half_b)[None, :]
        return scores


class RawScorer:
    """Scores without normalisation, for systems that have no cohort (baselines)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def score_matrix(self, a: np.ndarray, b: np.ndarray, b_statistics: None = None) -> np.ndarray:
        return score_matrix(a, b, self.metric)

    def cohort_statistics(self, embeddings: np.ndarray) -> None:
        return None
