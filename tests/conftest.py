"""Shared fixtures: synthetic speech, a temporary SPEAKERID_HOME, the real-speech folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# streamlit-webrtc's SRTP library crashes the process when it initialises after TensorFlow has
# loaded (app.py imports it first for the same reason); the app tests run in this process.
import streamlit_webrtc  # noqa: E402, F401, I001

from synthetic import synth_voice, write_wav  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def speakerid_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own user-data folder, so nothing touches the real gallery."""
    home = tmp_path / "home"
    monkeypatch.setenv("SPEAKERID_HOME", str(home))
    return home


@pytest.fixture
def streamlit_option():
    """streamlit_option(name, value): a Streamlit config option (``server.address``, ``secrets.files``)
    set for this test only, as a flag or config.toml would set it for a server."""
    from streamlit import config

    saved = {}

    def set_option(name: str, value) -> None:
        saved.setdefault(name, config.get_option(name))
        config.set_option(name, value)

    yield set_option
    for name, value in saved.items():
        config.set_option(name, value)


@pytest.fixture
def voice():
    """voice(speaker, seconds, sample_rate=16000, seed=0) -> float32 speech-like signal."""
    return synth_voice


@pytest.fixture
def voice_file(tmp_path):
    """voice_file(speaker, seconds, name=None, sample_rate=16000, seed=0) -> path of a WAV."""
    def make(speaker: int, seconds: float, name: str | None = None, sample_rate: int = 16000,
             seed: int = 0) -> Path:
        path = tmp_path / (name or f"spk{speaker}_{seed}.wav")
        write_wav(path, synth_voice(speaker, seconds, sample_rate, seed), sample_rate)
        return path
    return make


def small_untrained_encoder(seed: int):
    """A small untrained encoder whose weights come from ``seed``. Left to the global random
    state, which earlier tests and plugins seed, two encoders made at different times can come out
    identical, and a test of "another model" would pass or fail by the order tests ran in."""
    import keras

    from speakerid import Encoder
    from speakerid.models.networks import ModelConfig

    keras.utils.set_random_seed(seed)
    return Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))


@pytest.fixture(scope="session")
def untrained_encoder():
    """A small untrained encoder (fast); for behaviour tests that do not need accuracy."""
    return small_untrained_encoder(seed=101)


@pytest.fixture(scope="session")
def other_encoder():
    """Same architecture as ``untrained_encoder``, other weights: another encoder_id."""
    return small_untrained_encoder(seed=102)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real speech not available: {SHARED_DATA} is absent (it ships beside the repo)")
    return SHARED_DATA


def seconds_of(signal: np.ndarray, sample_rate: int = 16000) -> float:
    return len(signal) / sample_rate


@pytest.fixture
def fake_training(monkeypatch):
    """``start_training_process`` replaced by a process that only sleeps; records its calls."""
    from speakerid.training import runs

    calls = []

    def start(data, run_dir, settings, resume=False):
        calls.append({"data": data, "run_dir": Path(run_dir), "settings": settings, "resume": resume})
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    monkeypatch.setattr("speakerid.training.train.start_training_process", start)
    yield calls
    for child in list(runs._CHILDREN.values()):
        child.kill()
        child.wait()
    runs._CHILDREN.clear()
