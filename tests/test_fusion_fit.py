"""The fit behind benchmarks/conditions.py: a member that adds nothing gets no weight, one that
helps gets some; and the bootstrap's weighted EER counts trials as the resample draws them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import conditions  # noqa: E402

from speakerid.training.metrics import equal_error_rate  # noqa: E402

DIMS = np.array([0, 16, 32])


def clips(informative: int, seed: int = 0) -> conditions.Clips:
    """Two corpora (telephone and wide) of 12 speakers, 4 recordings each, whole and 3 s crops:
    member ``informative`` hears the speaker through noise, the other member hears only noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for corpus, high_db in (("phone", -45.0), ("studio", -10.0)):
        for speaker in range(12):
            voice = rng.standard_normal(16)
            for recording in range(4):
                for crop in (0.0, 3.0):
                    heard = voice + (0.9 if crop else 0.6) * rng.standard_normal(16)
                    units = [rng.standard_normal(16), rng.standard_normal(16)]
                    units[informative] = heard
                    rows.append((f"{corpus}/{speaker}", f"r{recording}", crop, units, crop or 20.0, high_db))
    unit = [np.array([r[3][k] / np.linalg.norm(r[3][k]) for r in rows]) for k in range(2)]
    return conditions.Clips(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                            np.array([r[2] for r in rows]), unit, np.array([r[4] for r in rows]),
                            np.array([r[5] for r in rows]))


def ecapa_weights(table) -> dict[str, float]:
    return {("narrow" if row.narrowband else "wide"): row.weights[0] for row in table.rows}


def test_a_member_that_hears_only_noise_gets_no_weight():
    table, _ = conditions.fit_table(conditions.Scorer(None, DIMS), clips(informative=0))
    assert ecapa_weights(table) == {"narrow": 1.0, "wide": 1.0}


def test_a_member_that_hears_the_speaker_gets_the_weight():
    table, search = conditions.fit_table(conditions.Scorer(None, DIMS), clips(informative=1))
    assert max(ecapa_weights(table).values()) <= 0.2
    assert all(s["min_cllr"] < s["min_cllr_ecapa_alone"] for s in search.values())


def test_the_bootstrap_eer_counts_each_trial_as_often_as_its_speakers_are_drawn():
    rng = np.random.default_rng(1)
    same = rng.random(400) < 0.3
    llr = rng.standard_normal(400) + 2 * same
    assert conditions.weighted_eer(llr, same, np.ones(400)) == pytest.approx(equal_error_rate(llr, same)[0],
                                                                              abs=1e-9)
    doubled = np.r_[llr, llr[same]], np.r_[same, same[same]]
    weights = np.where(same, 2.0, 1.0)
    expected = equal_error_rate(*doubled)[0]
    assert conditions.weighted_eer(llr, same, weights) == pytest.approx(expected, abs=1e-9)


def test_a_resample_weighs_a_pair_of_speakers_by_the_product_of_their_draws():
    trials = {"a": np.array(["x", "x", "y"]), "b": np.array(["x", "y", "y"])}
    for weights in conditions.speaker_resamples(trials, 20, seed=0):
        draws = {"x": weights[0], "y": weights[2]}  # the same-speaker trials count each speaker's draws
        assert weights[1] == draws["x"] * draws["y"] and sum(draws.values()) == 2
