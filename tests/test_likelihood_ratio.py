"""Likelihood ratios: the calibration's, their cost (Cllr) and the best cost reachable (minCllr)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from speakerid.scoring import Calibration, ImpostorTail, fit_calibration
from speakerid.training.metrics import cllr, min_cllr, pav


def test_cllr_of_hand_computed_likelihood_ratios():
    labels = np.array([1, 1, 0, 0])
    assert cllr(np.zeros(4), labels) == pytest.approx(1.0)  # LR 1 everywhere: no information
    # LR 3 for both same-speaker trials, 1/3 for both others: log2(1 + 1/3) for each class
    assert cllr(np.log([3, 3, 1 / 3, 1 / 3]), labels) == pytest.approx(math.log2(4 / 3))
    # the same trials with the ratios swapped mislead: log2(1 + 3)
    assert cllr(np.log([1 / 3, 1 / 3, 3, 3]), labels) == pytest.approx(2.0)


def test_min_cllr_of_hand_computed_scores():
    # sorted labels 0, 1, 0, 1: PAV pools the middle pair to 0.5, so the likelihood ratios are
    # 0, 1, 1, inf; each class then costs log2(2) = 1 on one trial of two
    assert min_cllr(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 0, 1])) == pytest.approx(0.5)
    assert min_cllr(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1])) == pytest.approx(0.0)


def test_pav_pools_violators_and_ties():
    fitted = pav(np.array([3.0, 1.0, 2.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_allclose(fitted, [1.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(pav(np.arange(4.0), np.array([1.0, 0.0, 1.0, 0.0])), [0.5, 0.5, 0.5, 0.5])


def test_min_cllr_ignores_monotonic_maps_and_bounds_cllr():
    rng = np.random.default_rng(0)
    same, different = rng.normal(2, 1, 300), rng.normal(0, 1, 3000)
    scores = np.concatenate([same, different])
    labels = np.concatenate([np.ones(300), np.zeros(3000)])
    assert min_cllr(np.exp(scores), labels) == pytest.approx(min_cllr(scores, labels))
    calibration = fit_calibration(same, different, "test", threshold=2.5)
    llrs = calibration.log10_lr(scores) * math.log(10)
    assert min_cllr(scores, labels) <= cllr(llrs, labels) < 1.2 * min_cllr(scores, labels)
    # doubling the likelihood ratios' log (overconfidence) costs more
    assert cllr(2 * llrs, labels) > cllr(llrs, labels)


def test_likelihood_ratio_is_the_equal_prior_fit_and_ignores_the_threshold():
    """Two unit-variance Gaussians 2 apart: the true log LR is 2 * score - 2 (natural log)."""
    rng = np.random.default_rng(1)
    same, different = rng.normal(2, 1, 20000), rng.normal(0, 1, 20000)
    strict = fit_calibration(same, different, "test", threshold=3.0)
    lenient = fit_calibration(same, different, "test", threshold=0.5)
    for score in (0.0, 1.0, 3.0):
        assert strict.log10_lr(score) * math.log(10) == pytest.approx(2 * score - 2, abs=0.1)
        assert strict.log10_lr(score) == pytest.approx(lenient.log10_lr(score))
    # the probability is the likelihood ratio at the prior where the threshold is even odds
    assert strict.probability(3.0) == pytest.approx(0.5)
    assert strict.probability(1.0) < 1 / (1 + 10 ** -strict.log10_lr(1.0))


def test_likelihood_ratio_stays_when_the_gallery_raises_the_threshold():
    calibration = fit_calibration(np.array([3.0, 3.5, 4.0, 2.5] * 10), np.linspace(-1, 2.6, 400), "t", 2.0)
    tailed = dataclasses.replace(calibration, tail=ImpostorTail(1.5, 0.3, 0.05), false_accept_rate=0.01)
    larger = tailed.for_gallery(50)
    assert larger.threshold > tailed.threshold
    assert larger.log10_lr(3.0) == pytest.approx(tailed.log10_lr(3.0))


def test_a_saved_calibration_keeps_its_likelihood_ratio(tmp_path):
    calibration = fit_calibration(np.array([3.0, 3.5, 4.0, 2.5]), np.array([0.0, 1.0, 2.0, 2.8]), "t", 2.9)
    calibration.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json").log10_lr(3.0) == pytest.approx(calibration.log10_lr(3.0))


def test_an_older_calibration_gets_its_likelihood_ratio_from_the_prior_it_states():
    """Calibrations saved before llr_offset was kept state their prior in ``method``."""
    fitted = fit_calibration(np.array([3.0, 3.5, 4.0, 2.5] * 5), np.linspace(-1, 2.9, 100), "t", 2.9)
    old = json.loads(json.dumps(fitted.to_dict()))  # as read from a file
    del old["llr_offset"]
    restored = Calibration.from_dict(old)
    assert restored.log10_lr(3.0) == pytest.approx(fitted.log10_lr(3.0), abs=0.01)
    assert Calibration.from_dict({"threshold": 0.5}).log10_lr(0.7) is None


def test_stated_likelihood_ratios_stay_within_what_the_trials_support():
    """Ten same-speaker and a thousand different-speaker trials support ratios from 1/10 to 1 000:
    the fitted map goes further, the stated ratio does not; the bounds survive saving."""
    rng = np.random.default_rng(2)
    fitted = fit_calibration(rng.normal(4, 1, 10), rng.normal(0, 1, 1000), "t", threshold=2.0)
    assert fitted.llr_bounds == pytest.approx((-1.0, 3.0))
    assert fitted.log10_lr(12.0) > 3.5 and fitted.supported_log10_lr(12.0) == pytest.approx(3.0)
    assert fitted.log10_lr(-8.0) < -1.5 and fitted.supported_log10_lr(-8.0) == pytest.approx(-1.0)
    assert fitted.supported_log10_lr(2.0) == pytest.approx(fitted.log10_lr(2.0))
    restored = Calibration.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert restored.supported_log10_lr(12.0) == pytest.approx(3.0)


def test_the_probability_is_no_surer_than_the_likelihood_ratio_it_rests_on():
    """The probability's log-odds are the stated ratio's plus the prior's: far above the threshold
    it stops where the ratio stops (never 100 %), and it is untouched between the bounds."""
    rng = np.random.default_rng(2)
    fitted = fit_calibration(rng.normal(4, 1, 10), rng.normal(0, 1, 1000), "t", threshold=2.0)
    prior_odds = math.exp(fitted.offset - fitted.llr_offset)
    assert fitted.probability(12.0) == pytest.approx(1000 * prior_odds / (1 + 1000 * prior_odds))
    assert fitted.probability(-8.0) == pytest.approx(0.1 * prior_odds / (1 + 0.1 * prior_odds))
    assert fitted.probability(12.0) < 1.0 and fitted.probability(-8.0) > 0.0
    assert fitted.probability(fitted.threshold) == pytest.approx(0.5)
    unbounded = dataclasses.replace(fitted, llr_bounds=None)
    assert fitted.probability(2.5) == pytest.approx(unbounded.probability(2.5))
    assert unbounded.probability(12.0) > fitted.probability(12.0)


def test_an_older_calibration_gets_its_bounds_from_the_trials_it_states():
    """The shipped calibrations state their trials in ``method`` ("... on 71 same / 1090
    different trials ..."); a gallery refit's first count is its own."""
    stated = {"threshold": 0.5, "method": "x, probability by logistic regression on 71 same / 1090 "
              "different trials from 26 speakers; shorter clips: ... on 142 same / 2180 different trials"}
    assert Calibration.from_dict(stated).llr_bounds == pytest.approx((-math.log10(71), math.log10(1090)))
    assert Calibration.from_dict({"threshold": 0.5}).llr_bounds is None
    with pytest.raises(ValueError, match="llr_bounds"):
        Calibration.from_dict({"threshold": 0.5, "llr_bounds": [1.0, 2.0]})


def test_the_shipped_model_states_no_ratio_beyond_its_trials():
    shipped = Calibration.load(Path(__file__).resolve().parents[1] / "weights" / "calibration.json")
    assert shipped.llr_bounds is not None and shipped.log10_lr(30.0) > 6
    assert shipped.supported_log10_lr(30.0) == pytest.approx(shipped.llr_bounds[1])
    assert shipped.llr_bounds[1] < 3.5
    for band in shipped.bands:
        assert band.calibration.llr_bounds is not None


# --- what the user sees ---------------------------------------------------------------------------
TEST_CALIBRATION = Calibration(threshold=0.5, slope=8.0, offset=-4.0, llr_offset=-2.0,
                               method="test trials; probabilities for a prior of 11.9%")


@pytest.fixture(scope="module")
def calibrated_model(tmp_path_factory, untrained_encoder):
    """The small untrained model with a calibration that knows its likelihood ratios."""
    folder = untrained_encoder.save(tmp_path_factory.mktemp("model"))
    TEST_CALIBRATION.save(folder / "calibration.json")
    return folder


def test_identify_gives_the_likelihood_ratio_in_text_and_json(calibrated_model, voice_file, capsys):
    from speakerid.cli import main

    weights = ["--weights", str(calibrated_model)]
    assert main(["enroll", "--name", "Ann", *weights, str(voice_file(0, 8.0, "ann.wav"))]) == 0
    clip = voice_file(0, 6.0, "probe.wav", seed=4)
    capsys.readouterr()
    assert main(["identify", *weights, str(clip), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    best = row["matches"][0]
    expected = (8.0 * best["score"] - 2.0) / math.log(10)
    assert row["llr"] == best["llr"] == pytest.approx(expected, abs=1e-3)
    assert main(["identify", *weights, str(clip)]) == 0
    out = capsys.readouterr().out
    assert f"log10 LR {row['llr']:+5.1f}" in out
    assert "evidence: likelihood ratio" in out and "support for" in out


def test_how_it_was_decided_says_how_strong_the_evidence_is():
    from speakerid.gallery import Identification, Match
    from speakerid.verdict import evidence_strength, explain

    found = Identification([Match("Ann", 0.9, 0.97, 0.5, 2.5)], 0.5)
    text = " ".join(explain(found, 12.0))
    assert "320 times more likely if the clip is Ann's voice" in text and "log10 LR +2.5" in text
    assert "moderately strong support for the same speaker" in text
    unknown_ratio = Identification([Match("Ann", 0.9, 0.97, 0.5)], 0.5)
    assert "likelihood ratio" not in " ".join(explain(unknown_ratio, 12.0))
    assert [evidence_strength(x) for x in (0.5, 1.0, 3.9, 4.0, 6.5, -2.2)] == [
        "weak support for the same speaker", "moderate support for the same speaker",
        "strong support for the same speaker", "very strong support for the same speaker",
        "extremely strong support for the same speaker", "moderately strong support for different speakers"]
