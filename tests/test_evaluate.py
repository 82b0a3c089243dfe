"""Evaluation figures and the calibrated threshold, on trials whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from speakerid.scoring import Calibration, DurationBand, RawScorer, fit_calibration
from speakerid.training.evaluate import TestItem as Item  # not "Test...": pytest would try to collect it
from speakerid.training.evaluate import (
    calibrate,
    calibration_from_trials,
    evaluate_items,
    probe_trials,
    same_corpus,
)
from speakerid.training.metrics import equal_error_rate, false_accept_threshold, min_dcf


def test_equal_error_rate_of_separated_and_of_overlapping_scores():
    same = np.ones(100, bool)
    assert equal_error_rate(np.r_[np.arange(100) + 200.0, np.arange(100.0)], np.r_[same, ~same])[0] == 0
    # same-speaker scores 50..149 against different-speaker 0..99: a quarter of each side overlaps
    eer, threshold = equal_error_rate(np.r_[np.arange(100) + 50.0, np.arange(100.0)], np.r_[same, ~same])
    assert eer == pytest.approx(0.25, abs=0.01) and 70 <= threshold <= 80
    assert min_dcf(np.r_[np.arange(100) + 200.0, np.arange(100.0)], np.r_[same, ~same])[0] == 0


def test_false_accept_threshold_lets_through_the_target_share_of_impostors():
    scores = np.r_[np.arange(100) + 50.5, np.arange(100.0)]  # same 50.5..149.5, different 0..99
    labels = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    threshold, false_accepts, misses = false_accept_threshold(scores, labels, 0.01)
    assert threshold == 98.5 and false_accepts == pytest.approx(0.01) and misses == pytest.approx(0.48)
    assert false_accept_threshold(scores, labels, 0.0) == (99.5, 0.0, pytest.approx(0.49))


def test_tied_scores_are_accepted_or_rejected_together():
    """A threshold cannot split trials of equal score, whatever order they come in."""
    labels = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    for order in (labels, labels[::-1]):  # every score the same: nobody can be told apart
        assert equal_error_rate(np.full(100, 0.3), order)[0] == 0.5
        assert min_dcf(np.full(100, 0.3), order)[0] == 1.0
    scores, labels = np.array([0.0, 1.0, 1.0, 2.0]), np.array([False, False, True, True])
    # an impostor ties a true speaker at 1.0: accepting no impostor means rejecting both
    assert false_accept_threshold(scores, labels, 0.0) == (2.0, 0.0, 0.5)


def test_probability_map_stays_finite_on_perfectly_separated_trials():
    same, different = np.linspace(0.6, 0.9, 100), np.linspace(0.0, 0.4, 300)
    calibration = fit_calibration(same, different, "separated trials", threshold=0.5)
    assert np.isfinite(calibration.slope) and calibration.slope > 0
    assert calibration.probability(0.5) == pytest.approx(0.5)
    probabilities = calibration.probability(np.r_[same, different])
    assert 0.0 < probabilities.min() and probabilities.max() < 1.0  # no trial is called certain


def speakers_items(rng: np.random.Generator, speakers: int = 30, clips: int = 4,
                   spread: float = 0.9) -> list[Item]:
    """Clips scattered around each speaker's direction: the same speaker's clips score higher."""
    centres = rng.normal(size=(speakers, 16))
    return [Item(f"s{s}", f"s{s}-{c}", (centres[s] + spread * rng.normal(size=16)).astype(np.float32))
            for s in range(speakers) for c in range(clips)]


def test_calibrated_threshold_accepts_one_percent_of_impostors_not_the_equal_error_share(tmp_path):
    items = speakers_items(np.random.default_rng(0))
    scorer = RawScorer("cosine")
    calibration = calibrate(items, scorer, "synthetic held-out speakers")
    report = evaluate_items(items, scorer, calibration.threshold)
    assert report.eer > 0.02  # overlapping: the equal-error point would accept > 2 % of impostors
    assert calibration.false_accept_rate <= 0.01 and calibration.threshold > report.eer_threshold
    assert calibration.eer == pytest.approx(report.eer)
    assert "1.0% of different-speaker trials" in calibration.method
    # the probability agrees with the verdict: even odds at the threshold
    assert calibration.probability(calibration.threshold) == pytest.approx(0.5)
    assert calibration.probability(calibration.threshold + 0.01) > 0.5 > calibration.probability(
        calibration.threshold - 0.01)
    assert "at which the threshold is even odds" in calibration.method
    calibration.save(tmp_path / "calibration.json")
    assert Calibration.load(tmp_path / "calibration.json") == calibration


def test_top1_identification_enrols_each_speakers_first_clip():
    items = speakers_items(np.random.default_rng(1), speakers=10, clips=3, spread=0.2)
    assert evaluate_items(items, RawScorer("cosine")).top1_identification == 1.0
    # every clip but the enrolled first ones carries the next speaker's voice
    moved = [i if k % 3 == 0 else Item(i.speaker, i.name, items[(k + 3) % len(items)].embedding)
             for k, i in enumerate(items)]
    assert evaluate_items(moved, RawScorer("cosine")).top1_identification == 0.0


def test_probe_trials_pair_each_probe_with_the_other_recordings():
    enrolled = [Item("a", "a1", np.array([1.0, 0.0])), Item("a", "a2", np.array([1.0, 0.1])),
                Item("b", "b1", np.array([0.0, 1.0]))]
    probes = [Item("a", "a1", np.array([1.0, 0.0]))]  # a crop of a1: never scored against a1 itself
    scores, same, _ = probe_trials(RawScorer("cosine"), probes, enrolled)
    assert list(same) == [True, False] and scores[0] > 0.99 and scores[1] == pytest.approx(0.0)


def banded() -> Calibration:
    short = Calibration(threshold=0.3, slope=10.0, offset=-3.0, method="3 s probes")
    medium = Calibration(threshold=0.4, slope=10.0, offset=-4.0, method="6 s probes")
    return Calibration(threshold=0.5, slope=10.0, offset=-5.0, method="full",
                       bands=(DurationBand(4.24, short), DurationBand(8.49, medium)))


def test_a_probe_is_judged_by_the_band_of_its_length(tmp_path):
    calibration = banded()
    assert calibration.for_duration(2.0).threshold == 0.3
    assert calibration.for_duration(4.24).threshold == 0.3
    assert calibration.for_duration(6.0).threshold == 0.4
    assert calibration.for_duration(30.0).threshold == 0.5 and calibration.for_duration(30.0).bands == ()
    assert calibration.for_duration(None).threshold == 0.5
    assert calibration.for_duration(3.0).probability(0.3) == pytest.approx(0.5)
    calibration.save(tmp_path / "calibration.json")
    assert Calibration.load(tmp_path / "calibration.json") == calibration


@pytest.mark.parametrize("bands", [
    [{"up_to_s": "4", "calibration": {"threshold": 0.3}}],
    [{"up_to_s": 4.0}],
    [{"up_to_s": 4.0, "calibration": {"threshold": 0.3, "bands": [{"up_to_s": 1.0,
                                                                    "calibration": {"threshold": 0}}]}}],
    "not a list",
])
def test_malformed_bands_are_refused(tmp_path, bands):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"threshold": 0.5, "bands": bands}))
    with pytest.raises(ValueError):
        Calibration.load(path)


def test_old_calibration_files_without_bands_still_load(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"threshold": 3.6, "slope": 1.3, "offset": -4.9, "method": "old"}))
    calibration = Calibration.load(path)
    assert calibration.bands == () and calibration.for_duration(3.0) == calibration


def test_a_larger_gallery_needs_a_higher_threshold_so_outsiders_stay_unnamed():
    """An outsider meets every enrolled voice: with N voices each comparison may pass 1/N as often."""
    rng = np.random.default_rng(3)
    different, same = rng.normal(0, 1, 20000), rng.normal(5, 1, 500)
    scores, labels = np.r_[same, different], np.r_[np.ones(500, bool), np.zeros(20000, bool)]
    calibration = calibration_from_trials(scores, labels, "synthetic", 100)
    assert calibration.tail is not None and calibration.for_gallery(1) == calibration
    for speakers in (10, 50):
        judged = calibration.for_gallery(speakers)
        outsiders = rng.normal(0, 1, (20000, speakers)).max(axis=1)
        assert np.mean(outsiders >= judged.threshold) <= 0.013  # ~1 % of outsiders named, not 10-50 %
        assert judged.probability(judged.threshold) == pytest.approx(0.5)
    thresholds = [calibration.for_gallery(n).threshold for n in (1, 10, 50)]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 3


def test_calibration_counts_different_speakers_only_within_a_corpus():
    """A telephone call against an audiobook is an easy "different": such pairs are left out."""
    vector = np.array([1.0, 0.0])
    enrolled = [Item("phone/a", "a1", vector), Item("studio/b", "b1", vector), Item("phone/c", "c1", vector)]
    probes = [Item("phone/a", "a2", vector)]
    scores, same, _ = probe_trials(RawScorer("cosine"), probes, enrolled)
    assert list(same) == [True, False] and len(scores) == 2  # studio/b is not a trial
    firsts, seconds = np.array(["phone/a", "x", "phone/a"]), np.array(["phone/c", "y", "studio/b"])
    assert list(same_corpus(firsts, seconds)) == [True, True, False]


def test_the_threshold_holds_in_the_corpus_whose_impostors_score_highest():
    rng = np.random.default_rng(5)
    studio, phone = rng.normal(0, 1, 5000), rng.normal(1.5, 1, 500)  # telephone voices sound alike
    same = rng.normal(6, 1, 300)
    scores = np.r_[same, studio, phone]
    labels = np.r_[np.ones(300, bool), np.zeros(5500, bool)]
    corpora = np.array(["studio"] * 5300 + ["phone"] * 500)
    pooled = calibration_from_trials(scores, labels, "synthetic", 50)
    strict = calibration_from_trials(scores, labels, "synthetic", 50, corpora=corpora)
    assert np.mean(phone >= pooled.threshold) > 0.02  # the average lets phone impostors through
    assert np.mean(phone >= strict.threshold) <= 0.01 and "set by phone" in strict.method
