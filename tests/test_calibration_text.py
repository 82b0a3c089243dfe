"""How a calibration was fitted, said in the reader's language: every sentence the shipped models
store and a gallery refit writes reads back clause by clause, in Nepali with no English left but
corpus names and with Nepali digits, in English word for word as stored; a sentence written by
other code is shown as stored, and the stored prior and trial counts are still read by the likelihood
ratio."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_app import ROOT, make_model
from test_gallery_calibration import ALPHABETICAL, enrol_all

from speakerid import load_model
from speakerid.calibration_text import KEPT_WORDS, PRIOR, read_method, say_method
from speakerid.gallery import Gallery
from speakerid.gallery.calibration import fit_gallery_calibration
from speakerid.i18n import in_language
from speakerid.scoring import STATED_PRIOR, STATED_TRIALS, Calibration
from speakerid.training.evaluate import calibration_from_trials

WEIGHTS = [ROOT / "weights", ROOT / "weights" / "ecapa", ROOT / "weights" / "fast"]
CORPUS = re.compile(r"\(set by ([^;()]+)")  # the name that set the threshold, kept as written


def stored_methods(folder: Path) -> list[str]:
    data = json.loads((folder / "calibration.json").read_text())
    return [data["method"], *(band["calibration"]["method"] for band in data["bands"])]


SHIPPED = [method for folder in WEIGHTS for method in stored_methods(folder)]


def assert_all_nepali(english: str) -> None:
    with in_language("ne"):
        nepali = say_method(english)
    left = nepali
    for corpus in set(CORPUS.findall(english)) - set(KEPT_WORDS):
        assert corpus in nepali  # a corpus name stays as it is, its digits too
        left = left.replace(corpus, "")
    assert not re.search(r"[A-Za-z0-9]", left), nepali
    assert re.search("[०-९]", left)


@pytest.mark.parametrize("method", SHIPPED, ids=range(len(SHIPPED)))
def test_every_shipped_method_is_said_in_nepali_with_its_corpus_names_as_written(method):
    assert len(SHIPPED) == 12  # three models, each with its full-length calibration and three bands
    assert_all_nepali(method)


@pytest.mark.parametrize("method", SHIPPED, ids=range(len(SHIPPED)))
def test_in_english_a_method_is_said_as_stored(method):
    with in_language("en"):
        assert say_method(method) == method
    assert not isinstance(read_method(method), str)  # read as clauses, not passed through


def test_what_the_writers_write_is_read_back_whatever_sets_the_threshold():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(60, bool), np.zeros(600, bool)]
    scores = np.r_[rng.normal(2.0, 1.0, 60), rng.normal(0.0, 1.0, 600)]
    named = np.where(np.arange(660) % 2, "corpus-7", "")  # one named corpus, one unnamed
    for corpora, set_by in ((None, "all trials"), (named, "corpus-7")):
        method = calibration_from_trials(scores, same, "held-out speakers, raw scores", 30,
                                         corpora=corpora).method
        assert CORPUS.findall(method) == [set_by]
        assert_all_nepali(method)
        with in_language("en"):
            assert say_method(method) == method


def test_a_gallery_refit_of_a_shipped_calibration_is_said_in_nepali(tmp_path):
    encoder = load_model(make_model(tmp_path / "model", seed=0))
    shipped = json.loads((ROOT / "weights" / "calibration.json").read_text())
    encoder.calibration = Calibration.from_dict(shipped)
    with Gallery(enrol_all(tmp_path / "gallery.sqlite", encoder, ALPHABETICAL), encoder) as gallery:
        method = fit_gallery_calibration(gallery).calibration.method
    assert method.startswith("full-length clips: this gallery's enrolled clips")
    assert_all_nepali(method)
    with in_language("en"):
        assert say_method(method) == method


@pytest.mark.parametrize("method", [
    "test calibration: only identical audio matches",
    "the model's held-out speakers; probabilities for a prior of 12.0%, at which the threshold is odd",
    "",
])
def test_a_sentence_other_code_wrote_is_shown_as_stored(method):
    with in_language("ne"):
        assert say_method(method) == method


def test_the_default_and_a_stated_prior_still_read():
    with in_language("ne"):
        assert say_method(Calibration(threshold=0.5).method) == "क्यालिब्रेसन नगरिएको पूर्वनिर्धारित"
    written = PRIOR.write(method="held-out speakers, raw scores", prior=0.411)
    assert float(STATED_PRIOR.search(written).group(1)) == 41.1
    assert all(STATED_PRIOR.search(method) and STATED_TRIALS.search(method) for method in SHIPPED)
