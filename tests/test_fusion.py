"""Fused encoders: one cosine that is the weighted sum of the members' cosines, saved and loaded
as one model, usable wherever an encoder is (gallery, timeline windows)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import Encoder, Gallery
from speakerid.audio import from_array
from speakerid.config import ModelConfig, PipelineConfig, PreprocessConfig, ecapa_pipeline
from speakerid.errors import SpeakerIDError
from speakerid.models.fusion import FusedEncoder
from speakerid.scoring import score_matrix
from speakerid.training.settings import TrainSettings

RATE = 16000


@pytest.fixture(scope="module")
def members():
    """A small ECAPA on SpeechBrain's Fbank and a small thin ResNet on our log-mel."""
    ecapa = Encoder.create(ModelConfig(backbone="ecapa", channels=(16, 16, 16, 16, 48), embedding_dim=12,
                                       attention_channels=8, se_channels=8), ecapa_pipeline())
    resnet = Encoder.create(ModelConfig(channels=(8, 8, 16, 16), blocks=(1, 1, 1, 1), embedding_dim=10))
    return ecapa, resnet


@pytest.fixture(scope="module")
def fused(members, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fused")
    for name, member in zip(("ecapa", "fast"), members):
        member.save(folder / name)
    FusedEncoder(members, [0.7, 0.3], ["ecapa", "fast"]).save(folder)
    return Encoder.load(folder)


def test_the_fused_cosine_is_the_weighted_sum_of_the_members(fused):
    features = [fused.features(fused.prepare(from_array(synth_voice(i, 3.0, RATE), RATE))) for i in (1, 2)]
    a, b = (fused.embed_features(f) for f in features)
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5) and a.shape == (22,)
    ecapa = [fused.members[0].embed_features(f[:, :80]) for f in features]
    resnet = [fused.members[1].embed_features(f[:, 80:]) for f in features]
    expected = 0.7 * cosine(*ecapa) + 0.3 * cosine(*resnet)
    assert float(a @ b) == pytest.approx(expected, abs=1e-5)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(score_matrix(a[None], b[None], "cosine")[0, 0])


def test_a_fused_folder_loads_as_one_model(fused):
    assert isinstance(fused, FusedEncoder)
    assert dict(zip(fused.names, fused.weights)) == {"ecapa": 0.7, "fast": 0.3}
    assert fused.model_config.backbone == "fusion" and fused.model_config.embedding_dim == 22
    assert fused.encoder_id != FusedEncoder(fused.members, [0.5, 0.5], fused.names).encoder_id


def test_features_sit_side_by_side_on_one_frame_axis(fused):
    prepared = fused.prepare(from_array(synth_voice(3, 4.0, RATE), RATE))
    features = fused.features(prepared)
    assert features.shape[1] == 80 + 64
    half = features.shape[0] // 2
    windows = np.stack([features[:half], features[half // 2:half // 2 + half]])
    vectors = fused.embed_windows(windows)
    assert vectors.shape == (2, 22)
    np.testing.assert_allclose(vectors[0], fused.embed_features(features[:half]), atol=1e-5)


def test_each_front_end_is_shown_apart_with_the_network_that_reads_it(fused, untrained_encoder):
    """The Identify page draws one spectrogram per front end, not one 144-band image with a seam."""
    from speakerid.app.analysis import front_ends

    features = fused.features(fused.prepare(from_array(synth_voice(3, 4.0, RATE), RATE)))
    ecapa, resnet = front_ends(features, fused)
    assert (ecapa.reader, ecapa.description) == ("ECAPA-TDNN (70% of the score)", "Fbank, 80 bands")
    assert (resnet.reader, resnet.description) == ("thin ResNet (30% of the score)", "log-mel, 64 bands")
    np.testing.assert_array_equal(np.concatenate([ecapa.features, resnet.features], axis=1), features)
    [alone] = front_ends(features[:, 80:], untrained_encoder)
    assert alone.reader == "thin ResNet" and alone.features.shape == (features.shape[0], 64)


def test_a_gallery_enrols_and_identifies_with_a_fused_model(fused, tmp_path):
    with Gallery(tmp_path / "gallery.sqlite", fused) as gallery:
        gallery.enroll("One", [from_array(synth_voice(1, 6.0, RATE), RATE)])
        gallery.enroll("Two", [from_array(synth_voice(2, 6.0, RATE), RATE)])
        found = gallery.identify(from_array(synth_voice(1, 6.0, RATE), RATE))
    assert [m.name for m in found.matches] == ["One", "Two"]


@pytest.mark.parametrize("member", ["../elsewhere", "/etc", "a/b", "", 3])
def test_members_outside_the_model_folder_are_refused(fused, tmp_path, member):
    meta = json.loads((fused.path / "config.json").read_text())
    meta["fusion"]["members"][0]["path"] = member
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SpeakerIDError, match="malformed fusion entry"):
        Encoder.load(folder)


def test_members_that_prepare_audio_differently_are_refused(members):
    other = Encoder.create(members[1].model_config,
                           PipelineConfig(preprocess=PreprocessConfig(sample_rate=8000)))
    with pytest.raises(SpeakerIDError, match="prepare audio alike"):
        FusedEncoder([members[0], other], [0.5, 0.5], ["a", "b"])
    with pytest.raises(SpeakerIDError, match="sum to 1"):
        FusedEncoder(list(members), [0.5, 0.6], ["a", "b"])


def test_a_fused_model_is_not_fine_tuned_as_one(fused):
    with pytest.raises(SpeakerIDError, match="member folders"):
        TrainSettings(init_from=str(fused.path)).model()
