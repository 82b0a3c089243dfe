"""The encoder's public face, on a small untrained network: shapes, inputs it accepts, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import synth_voice, write_wav

from speakerid import Encoder
from speakerid.audio import from_array
from speakerid.errors import SpeakerIDError
from speakerid.models.encoder import CONFIG_FILE, WEIGHTS_FILE
from speakerid.models.networks import ModelConfig

RATE = 16000


@pytest.fixture(scope="module")
def voice4() -> np.ndarray:
    return synth_voice(2, 4.0, RATE)


@pytest.fixture(scope="module")
def saved(untrained_encoder, tmp_path_factory):
    return untrained_encoder.save(tmp_path_factory.mktemp("model") / "enc")


def assert_embedding(vector: np.ndarray, encoder: Encoder) -> None:
    assert vector.shape == (encoder.model_config.embedding_dim,)
    assert vector.dtype == np.float32
    assert np.all(np.isfinite(vector))
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)  # cosine encoders emit unit vectors


def test_embed_returns_one_vector(untrained_encoder, voice4):
    assert_embedding(untrained_encoder.embed(voice4, RATE), untrained_encoder)


def test_embed_is_deterministic(untrained_encoder, voice4):
    first = untrained_encoder.embed(voice4, RATE)
    np.testing.assert_array_equal(untrained_encoder.embed(voice4, RATE), first)


def test_stereo_is_embedded_from_its_channel_mean(untrained_encoder, voice4):
    mono = untrained_encoder.embed(voice4, RATE)
    np.testing.assert_allclose(untrained_encoder.embed(np.stack([voice4, voice4], axis=1), RATE), mono,
                               atol=1e-6)
    other = synth_voice(3, 4.0, RATE)
    assert_embedding(untrained_encoder.embed(np.stack([voice4, other], axis=1), RATE), untrained_encoder)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_any_input_rate(untrained_encoder, rate):
    vector = untrained_encoder.embed(synth_voice(2, 4.0, rate), rate)
    assert_embedding(vector, untrained_encoder)


def test_a_2_second_clip_is_embedded_from_its_2_seconds(untrained_encoder):
    clip = synth_voice(4, 2.0, RATE, pauses=False)
    vector = untrained_encoder.embed(clip, RATE)
    assert_embedding(vector, untrained_encoder)
    prepared = untrained_encoder.prepare(from_array(clip, RATE))
    features = untrained_encoder.features(prepared)
    assert features.shape[0] < 300  # shorter than one 3 s window: no padding, one pass
    direct = untrained_encoder.embed_windows(features[None])[0]
    np.testing.assert_allclose(vector, direct / np.linalg.norm(direct), atol=1e-5)


def test_silence_is_refused(untrained_encoder):
    with pytest.raises(SpeakerIDError, match="no speech found"):
        untrained_encoder.embed(np.zeros(3 * RATE, np.float32), RATE)


def test_the_reference_densenet_embeds_features_shorter_than_its_stride():
    """Half of a 1.3 s file (the evaluation splits lone files in two) is 28 frames at 22.05 kHz:
    DenseNet121 floors it to no time steps at all unless the encoder repeats it to 32."""
    from speakerid.config import reference_model, reference_pipeline

    encoder = Encoder.create(reference_model(), reference_pipeline())
    features = np.random.default_rng(0).normal(size=(28, 128)).astype(np.float32)
    vector = encoder.embed_features(features)
    assert vector.shape == (128,) and np.all(np.isfinite(vector))


def test_embed_file(untrained_encoder, voice4, tmp_path):
    path = tmp_path / "voice.wav"
    write_wav(path, voice4, RATE)
    np.testing.assert_allclose(untrained_encoder.embed_file(path), untrained_encoder.embed(voice4, RATE),
                               atol=1e-4)


def test_similarity_of_a_vector_with_itself_is_one(untrained_encoder, voice4):
    a = untrained_encoder.embed(voice4, RATE)
    assert untrained_encoder.similarity(a, a) == pytest.approx(1.0, abs=1e-6)


def test_similarity_is_symmetric(untrained_encoder):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, untrained_encoder.model_config.embedding_dim)).astype(np.float32)
    assert untrained_encoder.similarity(a, b) == pytest.approx(untrained_encoder.similarity(b, a), abs=1e-7)
    assert untrained_encoder.similarity(a, -a) == pytest.approx(-1.0, abs=1e-6)
    assert -1.0 <= untrained_encoder.similarity(a, b) < 0.9


# --- persistence -----------------------------------------------------------------------------------

def test_save_then_load_gives_the_same_embeddings_and_id(untrained_encoder, saved, voice4):
    loaded = Encoder.load(saved)
    assert loaded.encoder_id == untrained_encoder.encoder_id
    # Not bit-identical: the loaded encoder embeds with its batch normalisations folded.
    np.testing.assert_allclose(loaded.embed(voice4, RATE), untrained_encoder.embed(voice4, RATE), atol=1e-5)
    assert loaded.pipeline == untrained_encoder.pipeline
    assert loaded.model_config == untrained_encoder.model_config
    assert loaded.threshold == untrained_encoder.threshold


def test_another_network_has_another_id(untrained_encoder):
    other = Encoder.create(untrained_encoder.model_config)
    assert other.encoder_id != untrained_encoder.encoder_id


def test_loading_an_empty_folder_says_to_train(tmp_path):
    with pytest.raises(SpeakerIDError, match="no trained encoder in .*train"):
        Encoder.load(tmp_path)


def copy_model(saved, target):
    target.mkdir()
    for item in saved.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    return target


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupt_weights_file_is_refused(saved, tmp_path, damage):
    model = copy_model(saved, tmp_path / "model")
    weights = model / WEIGHTS_FILE
    data = weights.read_bytes()
    weights.write_bytes({"garbage": b"not an HDF5 file " * 100, "truncated": data[:len(data) // 2],
                         "empty": b""}[damage])
    with pytest.raises(SpeakerIDError, match=f"{WEIGHTS_FILE} could not be loaded"):
        Encoder.load(model)


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # keras, before it gives up
def test_weights_of_another_architecture_are_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "model")
    meta = json.loads((model / CONFIG_FILE).read_text())
    meta["model"]["embedding_dim"] = 32
    (model / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(SpeakerIDError, match="could not be loaded"):
        Encoder.load(model)


def test_a_corrupt_config_is_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "model")
    (model / CONFIG_FILE).write_text("{ not json")
    with pytest.raises(SpeakerIDError, match="not a speakerid model config"):
        Encoder.load(model)


def test_unknown_settings_in_the_config_are_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "model")
    meta = json.loads((model / CONFIG_FILE).read_text())
    meta["pipeline"]["preprocess"]["colour"] = "blue"
    (model / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(SpeakerIDError, match="colour"):
        Encoder.load(model)


def test_small_model_config_round_trips():
    config = ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_an_encoder_keeps_numpy_blas_off_the_cores_tensorflow_uses(untrained_encoder):
    """OpenBLAS threads spinning after a NumPy product slowed the next forward pass by 40 %."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_a_loaded_encoder_embeds_with_batch_norms_folded_and_the_same_result(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    encoder = Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))
    rng = np.random.default_rng(0)
    for layer in encoder.network.layers:  # trained-looking statistics, not the identity at creation
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, size), rng.normal(0, 0.5, size),
                               rng.normal(0, 0.5, size), rng.uniform(0.2, 3, size)])
    loaded = Encoder.load(encoder.save(tmp_path / "model"))
    features = rng.normal(size=(700, 64)).astype(np.float32)
    expected = encoder.embed_features(features)
    np.testing.assert_allclose(loaded.embed_features(features), expected, atol=1e-4)
    folded_layers = {layer.name for layer in loaded.inference_network.layers}
    assert "stem_bn" not in folded_layers and "stem_conv" in folded_layers
