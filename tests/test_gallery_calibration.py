"""Refitting the threshold on a gallery's own voices: which trials, when it is allowed, and that an
applied refit is what identification then uses (for this encoder only, until reset)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.audio import AudioClip, from_array
from speakerid.cli import main
from speakerid.gallery import Gallery
from speakerid.gallery.calibration import MIN_SPEAKERS_WITH_TWO_CLIPS, fit_gallery_calibration, gallery_trials

RATE = 16000


def clip(speaker: int, seed: int) -> AudioClip:
    return from_array(synth_voice(speaker, 5.0, RATE, seed), RATE, f"spk{speaker}_{seed}.wav")


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, untrained_encoder):
    """Ten speakers of two clips each and one of a single clip."""
    path = tmp_path_factory.mktemp("gallery") / "gallery.sqlite"
    with Gallery(path, untrained_encoder) as gallery:
        for speaker in range(MIN_SPEAKERS_WITH_TWO_CLIPS):
            gallery.enroll(f"speaker {speaker}", [clip(speaker, 0), clip(speaker, 1)])
        gallery.enroll("single", [clip(40, 0)])
    return path


def test_each_clip_meets_every_speaker_and_its_own_without_itself(enrolled, untrained_encoder):
    with Gallery(enrolled, untrained_encoder) as gallery:
        scores, same, repeated = gallery_trials(gallery)
        names, vectors = gallery.clip_embeddings()
    assert repeated == 10 and len(names) == 21
    # 20 clips of repeated speakers: 1 own-speaker trial and 10 others each; the single clip: 10 others
    assert same.sum() == 20 and (~same).sum() == 20 * 10 + 10
    first = names.index("speaker 0")
    own_other_clip = untrained_encoder.score_matrix(vectors[first][None], vectors[first + 1][None])[0, 0]
    assert np.isclose(scores[same][0], own_other_clip, atol=1e-5)  # centroid of one clip is that clip


def test_an_applied_refit_is_used_until_reset(enrolled, untrained_encoder):
    with Gallery(enrolled, untrained_encoder) as gallery:
        refit = fit_gallery_calibration(gallery)
        assert refit.previous_threshold == untrained_encoder.threshold
        assert "this gallery's enrolled clips" in refit.calibration.method
        assert refit.calibration.false_accept_rate <= 0.01
        gallery.set_calibration(refit.calibration)
        found = gallery.identify(clip(3, 2))
        assert found.threshold == pytest.approx(refit.calibration.threshold)
    with Gallery(enrolled, untrained_encoder) as reopened:
        assert reopened.calibration == refit.calibration
        reopened.set_calibration(None)
        assert reopened.calibration == untrained_encoder.calibration


def test_too_few_repeated_speakers_are_refused(tmp_path, untrained_encoder):
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        for speaker in range(3):
            gallery.enroll(f"speaker {speaker}", [clip(speaker, 0), clip(speaker, 1)])
        with pytest.raises(SpeakerIDError, match="at least 10 speakers with two or more clips; it has 3"):
            fit_gallery_calibration(gallery)


def test_the_cli_shows_then_applies_then_resets(enrolled, untrained_encoder, tmp_path, capsys):
    weights = untrained_encoder.save(tmp_path / "model")
    common = ["gallery", "calibrate", "--gallery", str(enrolled), "--weights", str(weights)]
    assert main(common) == 0
    assert "not applied" in capsys.readouterr().out
    assert main([*common, "--apply"]) == 0
    assert "applied" in capsys.readouterr().out
    assert main([*common, "--reset"]) == 0
    assert "back to the model's calibration" in capsys.readouterr().out

