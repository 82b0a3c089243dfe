"""The Keras ECAPA-TDNN computes what SpeechBrain's computes, from the same weights.

``fixtures/ecapa_speechbrain.npz`` was written once by tools/convert_ecapa.py in an environment
with PyTorch and SpeechBrain: three clips spoken by espeak-ng (1-3.5 s, 16 kHz), SpeechBrain's
Fbank features of each and its ECAPA embeddings. Here, without torch, the port must reproduce them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speakerid import Encoder
from speakerid.config import ModelConfig, ecapa_pipeline
from speakerid.errors import SpeakerIDError
from speakerid.features import log_mel
from speakerid.models.ecapa import _torch_prefix, load_speechbrain_state
from speakerid.models.encoder import SHIPPED_WEIGHTS
from speakerid.models.networks import build_encoder
from speakerid.models.weight_store import QUANTISED_WEIGHTS_FILE, load_quantised, save_quantised
from speakerid.scoring import unit

FIXTURE = Path(__file__).parent / "fixtures" / "ecapa_speechbrain.npz"
PORT = SHIPPED_WEIGHTS / "ecapa"
FBANK_TOLERANCE_DB = 0.005  # measured: at most 0.0007 dB apart, on values from -53 to +29 dB
RATE = 16000


@pytest.fixture(scope="module")
def speechbrain() -> dict:
    with np.load(FIXTURE, allow_pickle=False) as data:
        count = len(data["embeddings"])
        return {"embeddings": data["embeddings"],
                "waveforms": [data[f"waveform_{i}"].astype(np.float32) / 32768.0 for i in range(count)],
                "fbanks": [data[f"fbank_{i}"] for i in range(count)]}


@pytest.fixture(scope="module")
def port() -> Encoder:
    return Encoder.load(PORT)


def test_fbank_equals_speechbrains(speechbrain):
    for waveform, expected in zip(speechbrain["waveforms"], speechbrain["fbanks"]):
        ours = log_mel(waveform, RATE, ecapa_pipeline().features)
        assert ours.shape == expected.shape
        assert np.abs(ours - expected).max() < FBANK_TOLERANCE_DB


def test_port_reproduces_speechbrains_embeddings(port, speechbrain):
    """Float32 network on the shipped int8 weights, and the faster form the app embeds with."""
    features = [log_mel(w, RATE, port.pipeline.features)[None] for w in speechbrain["waveforms"]]
    expected = unit(speechbrain["embeddings"])
    exact = unit(np.concatenate([port.network(f, training=False).numpy() for f in features]))
    fast = unit(np.concatenate([port.embed_windows(f) for f in features]))
    assert (exact * expected).sum(axis=1).min() >= 0.9995
    assert (fast * expected).sum(axis=1).min() >= 0.999


def small_ecapa() -> ModelConfig:
    return ModelConfig(backbone="ecapa", channels=(16, 16, 16, 16, 48), embedding_dim=8,
                       attention_channels=8, se_channels=8)


def speechbrain_state_of(network) -> dict[str, np.ndarray]:
    """A SpeechBrain-named state dict holding a Keras ECAPA's weights (the loader's inverse)."""
    state = {}
    for layer in network.layers:
        prefix = _torch_prefix(layer)
        weights = layer.get_weights()
        if not weights:
            continue
        if len(weights) == 4:
            for name, value in zip(("weight", "bias", "running_mean", "running_var"), weights):
                state[f"{prefix}.{name}"] = value
            state[f"{prefix}.num_batches_tracked"] = np.array(3)
        else:
            kernel = weights[0] if weights[0].ndim == 3 else weights[0][None]
            state[f"{prefix}.weight"] = np.transpose(kernel, (2, 1, 0))
            state[f"{prefix}.bias"] = weights[1]
    return state


def test_speechbrain_names_map_onto_every_layer():
    config = small_ecapa()
    source, target = build_encoder(config, 80), build_encoder(config, 80)
    for variable in source.weights:  # batch norms away from identity, so a mix-up would show
        variable.assign(np.random.default_rng(len(variable.path)).uniform(0.5, 1.5, variable.shape))
    load_speechbrain_state(target, speechbrain_state_of(source))
    features = np.random.default_rng(0).standard_normal((2, 50, 80)).astype(np.float32)
    np.testing.assert_allclose(target(features, training=False), source(features, training=False),
                               rtol=1e-5, atol=1e-5)


def test_a_checkpoint_of_another_shape_is_refused():
    network = build_encoder(small_ecapa(), 80)
    state = speechbrain_state_of(network)
    with pytest.raises(ValueError, match="no place for"):
        load_speechbrain_state(network, {**state, "blocks.9.conv.conv.weight": np.zeros((1, 1, 1))})
    del state["fc.conv.bias"]
    with pytest.raises(ValueError, match="lacks"):
        load_speechbrain_state(network, state)


def test_int8_weights_round_trip_within_half_a_step(tmp_path):
    network = build_encoder(small_ecapa(), 80)
    path = tmp_path / QUANTISED_WEIGHTS_FILE
    save_quantised(network, path)
    restored = build_encoder(small_ecapa(), 80)
    load_quantised(restored, path)
    for before, after in zip(network.weights, restored.weights):
        before, after = before.numpy(), after.numpy()
        if before.ndim == 1:
            np.testing.assert_array_equal(after, before)
        else:
            assert np.abs(after - before).max() <= np.abs(before).max() / 127 / 2 + 1e-7


def test_int8_weights_of_another_network_are_refused(tmp_path, untrained_encoder):
    model = untrained_encoder.save(tmp_path / "model", quantised=True)
    assert (model / QUANTISED_WEIGHTS_FILE).is_file()
    features = np.random.default_rng(1).standard_normal((1, 120, 64)).astype(np.float32)
    reloaded = Encoder.load(model).embed_windows(features)[0]
    assert float(unit(reloaded) @ unit(untrained_encoder.embed_windows(features)[0])) > 0.999
    other = build_encoder(small_ecapa(), 80)
    save_quantised(other, model / QUANTISED_WEIGHTS_FILE)
    with pytest.raises(SpeakerIDError, match="could not be loaded"):
        Encoder.load(model)


def test_very_short_input_is_repeated_to_fit_the_reflection_padding(port):
    frames = port.model_config.min_frames
    assert frames == 5  # dilation 4, kernel 3: 4 frames of padding need 5 to reflect
    assert np.isfinite(port.embed_features(np.zeros((2, 80), np.float32))).all()
