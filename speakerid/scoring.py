"""Turning two embeddings into a score, and a score into a decision that means something.

A :class:`Calibration` holds the decision threshold on the score and a logistic map from the score
to the probability that two clips share a speaker, fitted on trials from held-out speakers.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


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
    """Threshold and score-to-probability map, with a sentence that says how they were obtained."""

    threshold: float
    slope: float = 1.0
    offset: float = 0.0
    method: str = "uncalibrated default"
    eer: float | None = None
    false_accept_rate: float | None = None  # of held-out different-speaker trials, at the threshold
    miss_rate: float | None = None  # of held-out same-speaker trials, at the threshold

    def probability(self, value: float | np.ndarray) -> float | np.ndarray:
        """P(same speaker | score) from the fitted logistic map: 0.5 at the threshold, more above
        it (see :func:`fit_calibration`)."""
        z = self.slope * np.asarray(value, dtype=np.float64) + self.offset
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        return float(p) if np.ndim(p) == 0 else p

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read calibration.json; ValueError unless it holds exactly these fields as plain values."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or not set(data) <= {f.name for f in dataclasses.fields(cls)}:
            raise ValueError("expected an object with threshold, slope, offset, method and error rates")
        for key in ("threshold", "slope", "offset", "eer", "false_accept_rate", "miss_rate"):
            value = data.get(key, 0.0)
            if key not in ("threshold", "slope", "offset") and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) < 1e300:
                raise ValueError(f"{key} must be a finite number, not {str(value)[:40]!r}")
        if not isinstance(data.get("method", ""), str):
            raise ValueError("method must be text")
        return cls(**data)


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
    method = f"{description}; probabilities for a prior of {prior:.1%}, at which the threshold is even odds"
    return Calibration(threshold=float(threshold), slope=float(slope), offset=float(-slope * threshold),
                       method=method, eer=eer, false_accept_rate=false_accept_rate, miss_rate=miss_rate)


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
        scores = score_matrix(embeddings, self.cohort, self.metric)
        top = -np.partition(-scores, self.top_k - 1, axis=1)[:, :self.top_k]
        return top.mean(axis=1), top.std(axis=1) + 1e-6

    def normalise(self, raw: np.ndarray, a: np.ndarray, b: np.ndarray,
                  b_statistics: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """AS-norm of ``raw`` (n, m) scores between rows of ``a`` and rows of ``b``."""
        mean_a, std_a = self.statistics(a)
        mean_b, std_b = b_statistics if b_statistics is not None else self.statistics(b)
        return 0.5 * ((raw - mean_a[:, None]) / std_a[:, None] + (raw - mean_b[None, :]) / std_b[None, :])


class RawScorer:
    """Scores without normalisation, for systems that have no cohort (baselines)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def score_matrix(self, a: np.ndarray, b: np.ndarray, b_statistics: None = None) -> np.ndarray:
        return score_matrix(a, b, self.metric)

    def cohort_statistics(self, embeddings: np.ndarray) -> None:
        return None
