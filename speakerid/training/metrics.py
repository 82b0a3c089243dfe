"""Verification and identification figures: EER, minDCF, precision/recall, ROC/DET points."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve


def error_rates(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every threshold (accept when score >= threshold), lowest
    threshold first. scikit-learn's ``roc_curve`` places thresholds only at distinct scores, so
    tied trials are accepted or rejected together: no rate counts half of a tie."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("need both same-speaker and different-speaker trials")
    false_alarms, hits, thresholds = roc_curve(labels, np.asarray(scores, dtype=np.float64),
                                               drop_intermediate=False)
    thresholds[0] = np.nextafter(thresholds[1], np.inf)  # its "reject all" is +inf: keep it finite
    return (1 - hits)[::-1], false_alarms[::-1], thresholds[::-1]


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(EER, threshold at the EER)."""
    misses, false_alarms, thresholds = error_rates(scores, labels)
    i = int(np.argmin(np.abs(misses - false_alarms)))
    return float((misses[i] + false_alarms[i]) / 2), float(thresholds[i])


def false_accept_threshold(scores: np.ndarray, labels: np.ndarray, target: float
                           ) -> tuple[float, float, float]:
    """The lowest threshold that accepts at most ``target`` of the different-speaker trials:
    (threshold, false-accept rate, miss rate) there."""
    misses, false_alarms, thresholds = error_rates(scores, labels)
    # false alarms only fall as the threshold rises; 1e-9 absorbs the rounding of count ratios
    i = int(np.argmax(false_alarms <= target + 1e-9))
    return float(thresholds[i]), float(false_alarms[i]), float(misses[i])


def min_dcf(scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01,
            c_miss: float = 1.0, c_fa: float = 1.0) -> tuple[float, float]:
    """Normalised minimum detection cost (NIST SRE) and its threshold."""
    misses, false_alarms, thresholds = error_rates(scores, labels)
    cost = c_miss * p_target * misses + c_fa * (1 - p_target) * false_alarms
    best = min(c_miss * p_target, c_fa * (1 - p_target))
    i = int(np.argmin(cost))
    return float(cost[i] / best), float(thresholds[i])


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """Precision and recall of "same speaker" decisions at ``threshold``."""
    accepted = np.asarray(scores) >= threshold
    labels = np.asarray(labels).astype(bool)
    true_accepts = np.sum(accepted & labels)
    precision = true_accepts / max(1, accepted.sum())
    recall = true_accepts / max(1, labels.sum())
    return float(precision), float(recall)


def precision_recall_curve(scores: np.ndarray, labels: np.ndarray, points: int = 50) -> list[dict]:
    thresholds = np.quantile(scores, np.linspace(0.01, 0.99, points))
    return [dict(zip(("threshold", "precision", "recall"), (float(t), *precision_recall(scores, labels, t))))
            for t in thresholds]


def det_points(scores: np.ndarray, labels: np.ndarray, points: int = 200) -> dict[str, list[float]]:
    """ROC/DET curve, thinned to ``points`` thresholds: false-alarm and miss rates."""
    misses, false_alarms, thresholds = error_rates(scores, labels)
    keep = np.unique(np.linspace(0, len(misses) - 1, points).astype(int))
    return {"threshold": thresholds[keep].tolist(), "false_alarm": false_alarms[keep].tolist(),
            "miss": misses[keep].tolist()}


def pair_scores(score_matrix: np.ndarray, speakers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and same-speaker labels of all distinct pairs (upper triangle) of a square matrix."""
    rows, cols = np.triu_indices(len(speakers), k=1)
    return score_matrix[rows, cols], speakers[rows] == speakers[cols]


def cllr(llrs: np.ndarray, labels: np.ndarray) -> float:
    """Log-likelihood-ratio cost (Brümmer and du Preez, 2006) of natural-log likelihood ratios, in
    bits: 0 for perfect, 1 for a system that always says "no idea" (LR 1); above 1 misleads.
    It charges both poor discrimination and poor calibration; :func:`min_cllr` the first alone."""
    llrs = np.asarray(llrs, dtype=np.float64)
    labels = _both_classes(labels)
    # log2(1 + 1/LR) for same-speaker trials, log2(1 + LR) for the others, each class averaged
    same = np.logaddexp(0.0, -llrs[labels]).mean()
    different = np.logaddexp(0.0, llrs[~labels]).mean()
    return float((same + different) / (2 * np.log(2)))


def min_cllr(scores: np.ndarray, labels: np.ndarray) -> float:
    """The lowest :func:`cllr` any monotonic map from ``scores`` to likelihood ratios could reach:
    that of the pool-adjacent-violators (PAV) fit of same-speaker posteriors to the scores,
    converted to likelihood ratios by removing the trials' own prior."""
    labels = _both_classes(labels)
    posteriors = pav(np.asarray(scores, dtype=np.float64), labels.astype(np.float64))
    prior_log_odds = np.log(labels.mean() / (1 - labels.mean()))
    with np.errstate(divide="ignore"):
        llrs = np.log(posteriors) - np.log1p(-posteriors) - prior_log_odds
    return cllr(llrs, labels)


def pav(scores: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The non-decreasing fit of ``values`` to ``scores`` that is closest in squared error (pool
    adjacent violators); trials with equal scores get one value."""
    order = np.argsort(scores, kind="stable")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    sums = np.add.reduceat(values[order], first)
    blocks: list[list[float]] = []  # [sum, count] of each pooled block
    for total, count in zip(sums, counts):
        blocks.append([float(total), float(count)])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    pooled = np.repeat([t / c for t, c in blocks], [int(c) for _, c in blocks])
    fitted = np.empty_like(values)
    fitted[order] = pooled
    return fitted


def _both_classes(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("need both same-speaker and different-speaker trials")
    return labels
