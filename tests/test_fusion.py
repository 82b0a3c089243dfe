"""Fused encoders: one cosine that is the weighted sum of the members' cosines, saved and loaded
as one model, usable wherever an encoder is (gallery, timeline windows)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import Encoder, Gallery, load_model
from speakerid.audio import from_array
from speakerid.config import ModelConfig, PipelineConfig, PreprocessConfig, ecapa_pipeline
from speakerid.errors import SpeakerIDError
from speakerid.models.fusion import FusedEncoder
from speakerid.models.quality import ConditionTable
from speakerid.scoring import ScoreNormaliser, score_matrix
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
    return load_model(folder)


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


def test_one_network_s_loader_refuses_a_fused_folder_and_names_the_loader_that_reads_it(fused):
    with pytest.raises(SpeakerIDError, match="several networks fused.*speakerid.load_model"):
        Encoder.load(fused.path)
    assert isinstance(Encoder.load(fused.path / "fast"), Encoder)  # a member is one network


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
        load_model(folder)


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


# --- weights by condition (band and length) ---------------------------------------------------
TABLE = [{"band": "wide", "up_to_s": 4.24, "weights": [0.9, 0.1]},
         {"band": "wide", "up_to_s": None, "weights": [1.0, 0.0]},
         {"band": "narrow", "up_to_s": 4.24, "weights": [0.5, 0.5]},
         {"band": "narrow", "up_to_s": None, "weights": [0.6, 0.4]}]


@pytest.fixture(scope="module")
def by_condition(members, tmp_path_factory):
    folder = tmp_path_factory.mktemp("by_condition")
    for name, member in zip(("ecapa", "fast"), members):
        member.save(folder / name)
    cohort = np.random.default_rng(0).standard_normal((40, 22)).astype(np.float32)
    FusedEncoder(members, [0.7, 0.3], ["ecapa", "fast"], normaliser=ScoreNormaliser(cohort, "cosine"),
                 conditions=ConditionTable.from_list(TABLE, 2)).save(folder)
    return load_model(folder)


def features_of(model, index: int, seconds: float, rate: int) -> np.ndarray:
    """Features of a synthetic voice with a breath of noise across the whole band the rate allows
    (the voice alone has next to nothing above 4 kHz, like a telephone: fricatives fill it)."""
    voice = synth_voice(index, seconds, rate)
    noise = np.random.default_rng(index).standard_normal(len(voice)).astype(np.float32)
    return model.features(model.prepare(from_array(voice + 0.1 * voice.std() * noise, rate)))


def test_the_band_is_read_from_the_clip(by_condition):
    """A voice recorded at 8 kHz (nothing above 4 kHz) is telephone band, the same voice at 16 kHz not."""
    assert by_condition.condition(features_of(by_condition, 1, 3.0, 8000)).narrowband
    wide = by_condition.condition(features_of(by_condition, 1, 3.0, 16000))
    assert not wide.narrowband and 1.0 < wide.speech_s <= 3.1


@pytest.mark.parametrize(("rate", "seconds", "weights"), [
    (16000, 3.0, (0.9, 0.1)), (16000, 9.0, (1.0, 0.0)), (8000, 3.0, (0.5, 0.5)), (8000, 9.0, (0.6, 0.4))])
def test_each_clip_is_fused_with_the_weights_of_its_condition(by_condition, rate, seconds, weights):
    features = features_of(by_condition, 2, seconds, rate)
    vector = by_condition.embed_features(features)
    pieces = np.linalg.norm(vector[:12]) ** 2, np.linalg.norm(vector[12:]) ** 2
    assert pieces == pytest.approx(weights, abs=1e-5)
    second = features_of(by_condition, 3, seconds, rate)
    other = by_condition.embed_features(second)
    ecapa = cosine(*(by_condition.members[0].embed_features(f[:, :80]) for f in (features, second)))
    resnet = cosine(*(by_condition.members[1].embed_features(f[:, 80:]) for f in (features, second)))
    assert float(vector @ other) == pytest.approx(weights[0] * ecapa + weights[1] * resnet, abs=1e-5)


def test_a_clip_weighted_on_one_member_is_normalised_as_that_member_alone(by_condition):
    """AS-norm meets each clip at its own weights: a long wideband clip (ECAPA only) scores against the
    cohort's ECAPA parts exactly as the ECAPA member with that cohort would."""
    a, b = (by_condition.embed_features(features_of(by_condition, i, 9.0, 16000)) for i in (4, 5))
    ecapa_cohort = by_condition.normaliser.cohort[:, :12]
    alone = ScoreNormaliser(ecapa_cohort, "cosine", by_condition.normaliser.top_k)
    expected = alone.normalise(score_matrix(a[None, :12], b[None, :12], "cosine"), a[None, :12], b[None, :12])
    assert by_condition.similarity(a, b) == pytest.approx(float(expected[0, 0]), abs=1e-4)


def test_the_table_is_saved_loaded_and_part_of_the_fingerprint(by_condition, fused):
    assert by_condition.conditions.to_list() == ConditionTable.from_list(TABLE, 2).to_list()
    plain = FusedEncoder(by_condition.members, by_condition.weights, by_condition.names)
    assert by_condition.encoder_id != plain.encoder_id
    assert by_condition.feature_readers == ["ECAPA-TDNN (50%-100% of the score, by channel and length)",
                                            "thin ResNet (0%-50% of the score, by channel and length)"]


def test_timeline_windows_are_weighted_each_by_its_band(by_condition):
    narrow, wide = features_of(by_condition, 6, 3.0, 8000), features_of(by_condition, 6, 3.0, 16000)
    frames = min(len(narrow), len(wide))
    vectors = by_condition.embed_windows(np.stack([narrow[:frames], wide[:frames]]))
    assert [float(np.linalg.norm(v[:12]) ** 2) for v in vectors] == pytest.approx([0.5, 0.9], abs=1e-5)
    pooled = by_condition.pool_windows(vectors)
    assert np.linalg.norm(pooled) == pytest.approx(1.0, abs=1e-5)
    assert float(np.linalg.norm(pooled[:12]) ** 2) == pytest.approx(0.7, abs=1e-5)


@pytest.mark.parametrize("rows", [
    TABLE[:2],  # no narrowband rows
    [dict(TABLE[0], up_to_s=None)] + TABLE[1:],  # two open rows for one band
    [dict(TABLE[0], weights=[0.9, 0.2])] + TABLE[1:],  # weights that do not sum to 1
    [dict(TABLE[0], band="fm")] + TABLE[1:],
    [dict(TABLE[0], up_to_s=-1)] + TABLE[1:],
    "all",
])
def test_a_malformed_condition_table_is_refused(by_condition, tmp_path, rows):
    meta = json.loads((by_condition.path / "config.json").read_text())
    meta["fusion"]["conditions"] = rows
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("ecapa", "fast"):
        (folder / name).symlink_to(by_condition.path / name)
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SpeakerIDError, match="malformed fusion entry"):
        load_model(folder)
