"""Files from elsewhere never run code: no pickle is loaded, no Keras object is deserialised, a
model's config holds plain values only, and a gallery file is validated before it changes anything.

Every hostile file here carries a live payload: unpickling or running it creates a marker file,
and each test first shows the payload does fire when the file is loaded the unsafe way, then
that speakerid refuses the file with a SpeakerIDError and the marker never appears.

Already covered elsewhere, not repeated here: a corrupt or truncated config.json and unknown
pipeline settings (tests/test_encoder.py), weights of another architecture (test_encoder.py), a
truncated, tampered or foreign gallery file and a non-SQLite one (tests/test_gallery.py
``test_import_refuses_bad_files_without_changing_the_gallery``), and an import killed half-way
(tests/test_faults.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from synthetic import synth_voice

from speakerid import SpeakerIDError, load_model
from speakerid.audio import from_array
from speakerid.config import PreprocessConfig
from speakerid.gallery import Gallery
from speakerid.training.cache import SpeakerAudio, _cache_file, _cached_prepare
from speakerid.training.monitor import RunMonitor
from speakerid.training.settings import TrainSettings
from speakerid.training.trainer import Trainer

RATE = 16000


class Payload:
    """Pickles to ``os.mkdir(marker)``: whoever unpickles it creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.fixture
def marker(tmp_path) -> Path:
    """The path only a payload creates: if it exists, code from a file ran."""
    return tmp_path / "payload-ran"


def pickled(marker: Path) -> np.ndarray:
    return np.array([Payload(marker)], dtype=object)


def assert_payload_is_live(marker: Path, load) -> None:
    """The unsafe way of loading the file does run the payload (then the marker is removed)."""
    load()
    assert marker.exists()
    marker.rmdir() if marker.is_dir() else marker.unlink()


def payload_model(marker: Path) -> keras.Model:
    """A Keras model whose Lambda layer runs a Python lambda that creates ``marker``: Keras saves
    the lambda's bytecode, and rebuilding the model runs it."""
    function = eval(f"lambda x: (open({str(marker)!r}, 'a').close(), x)[1]")
    inputs = keras.Input((None, 64))
    model = keras.Model(inputs, keras.layers.Lambda(function, name="payload")(inputs))
    marker.unlink()  # building the model ran the lambda once
    return model


@pytest.fixture
def model_dir(untrained_encoder, tmp_path) -> Path:
    return untrained_encoder.save(tmp_path / "model")


# --- NumPy files: cohort and checkpoint ----------------------------------------------------------
def test_a_pickled_cohort_is_refused_and_never_unpickled(model_dir, marker):
    cohort = model_dir / "cohort.npy"
    np.save(cohort, pickled(marker), allow_pickle=True)
    assert_payload_is_live(marker, lambda: np.load(cohort, allow_pickle=True))
    with pytest.raises(SpeakerIDError, match="cohort.npy is not a plain array"):
        load_model(model_dir)
    assert not marker.exists()


@pytest.fixture(scope="module")
def trainer(tmp_path_factory) -> Trainer:
    run = tmp_path_factory.mktemp("run")
    settings = TrainSettings.for_recipe("aam", epochs=1, steps_per_epoch=1, batch_size=4,
                                        channels=(8, 16, 16, 32), embedding_dim=32)
    audio = [SpeakerAudio(f"s{i}", (synth_voice(i, 4.0, RATE),)) for i in range(3)]
    return Trainer(settings, settings.pipeline(), audio, run, RunMonitor(run, 1), progress=False)


def write_checkpoint(trainer: Trainer, values: dict[str, np.ndarray]) -> Path:
    """A TensorFlow checkpoint in the trainer's folder holding ``values`` under the given names."""
    import tensorflow as tf

    folder = trainer.run_dir / "checkpoint"
    shutil.rmtree(folder, ignore_errors=True)
    checkpoint = tf.train.Checkpoint(variables={name: tf.Variable(value) for name, value in values.items()},
                                     history=tf.Variable("[]"))
    return Path(tf.train.CheckpointManager(checkpoint, folder, max_to_keep=1).save())


def test_a_damaged_checkpoint_is_refused_on_resume(trainer):
    trainer._save_checkpoint([])
    (data,) = (trainer.run_dir / "checkpoint").glob("*.data-*")
    data.write_bytes(data.read_bytes()[:-16] + bytes(16))
    with pytest.raises(SpeakerIDError, match="cannot be resumed"):
        trainer.fit(resume=True)


def test_a_checkpoint_of_another_model_is_refused_on_resume(trainer):
    names = list(trainer._checkpoint_variables())
    for values in ({name: np.zeros(3, np.float32) for name in names},  # every name, other shapes
                   {name: v.numpy() for name, v in trainer._checkpoint_variables().items()
                    if name != names[0]}):  # one variable missing
        write_checkpoint(trainer, values)
        with pytest.raises(SpeakerIDError, match="not this run's checkpoint"):
            trainer.fit(resume=True)


def test_a_pickled_audio_cache_file_is_never_unpickled(tmp_path, marker):
    """The training cache lives in the user's own folder; even so, it is read as plain arrays."""
    source = tmp_path / "speech.wav"
    sf.write(source, synth_voice(1, 3.0, RATE), RATE)
    config = PreprocessConfig()
    np.save(_cache_file(source, config), pickled(marker), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        _cached_prepare((str(source), config))
    assert not marker.exists()


# --- Keras: never deserialised --------------------------------------------------------------------
def test_a_keras_model_file_in_place_of_the_weights_is_refused_and_never_run(model_dir, marker, tmp_path):
    payload_model(marker).save(tmp_path / "evil.keras")
    with pytest.raises(ValueError, match="Lambda"):  # Keras's own safe mode refuses it
        keras.saving.load_model(tmp_path / "evil.keras")
    assert_payload_is_live(marker, lambda: keras.saving.load_model(tmp_path / "evil.keras", safe_mode=False))
    shutil.copy(tmp_path / "evil.keras", model_dir / "encoder.weights.h5")
    with pytest.raises(SpeakerIDError, match="could not be loaded"):
        load_model(model_dir)
    assert not marker.exists()


def test_a_keras_lambda_layer_in_config_json_is_refused_or_ignored_and_never_run(model_dir, marker):
    layer = payload_model(marker).get_layer("payload")
    serialised = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert_payload_is_live(marker, lambda: keras.saving.deserialize_keras_object(  # it edits its input
        json.loads(json.dumps(serialised)), safe_mode=False)(np.zeros((1, 2, 64), np.float32)))
    meta = json.loads((model_dir / "config.json").read_text())

    (model_dir / "config.json").write_text(json.dumps({**meta, "model": serialised}))
    with pytest.raises(SpeakerIDError, match=r"unknown ModelConfig settings: \[.*'class_name', 'config'"):
        load_model(model_dir)
    (model_dir / "config.json").write_text(json.dumps({**meta, "keras_model": serialised}))
    encoder = load_model(model_dir)  # an extra top-level entry is inert metadata, never read
    assert np.isfinite(encoder.embed(synth_voice(2, 4.0, RATE), RATE)).all()
    assert not marker.exists()


# --- config.json and calibration.json: plain values only ------------------------------------------
def edit(part: str, key: str, value):
    """A config.json change: ``meta[part...][key] = value`` (part is dotted: pipeline.features)."""
    def change(meta: dict) -> None:
        target = meta
        for name in part.split("."):
            target = target[name]
        target[key] = value
    return change


HOSTILE_CONFIGS = {
    "model key": (edit("model", "layers", [{"class_name": "Lambda"}]),
                  "unknown ModelConfig settings"),
    "text size": (edit("model", "embedding_dim", "64"), "ModelConfig.embedding_dim must be an integer"),
    "bool size": (edit("model", "embedding_dim", True), "ModelConfig.embedding_dim must be an integer"),
    "huge size": (edit("model", "embedding_dim", 10 ** 12),
                  "ModelConfig.embedding_dim must be between 1 and 8192"),
    "text list": (edit("model", "channels", "wide"), "ModelConfig.channels must be a list"),
    "zero stride": (edit("model", "stem_stride", [0, 2]),
                    "ModelConfig.stem_stride must be between 1 and 16"),
    "text flag": (edit("model", "mean_normalise", "yes"),
                  "ModelConfig.mean_normalise must be true or false"),
    "other metric": (edit("model", "metric", "manhattan"),
                     "ModelConfig.metric must be one of cosine, euclidean"),
    "NaN rate": (edit("pipeline.preprocess", "sample_rate", float("nan")),
                 "PreprocessConfig.sample_rate must be an integer"),
    "inf band": (edit("pipeline.features", "fmax", float("inf")),
                 "FeatureConfig.fmax must be a finite number"),
    "code name": (edit("pipeline.preprocess", "silence_method", "os.system"),
                  "PreprocessConfig.silence_method must be one of"),
    "list pipeline": (lambda meta: meta.update(pipeline=["webrtc"]),
                      "pipeline settings must be a JSON object"),
}


@pytest.mark.parametrize("change, message", HOSTILE_CONFIGS.values(), ids=HOSTILE_CONFIGS.keys())
def test_a_config_with_anything_but_known_plain_settings_is_refused(model_dir, change, message):
    meta = json.loads((model_dir / "config.json").read_text())
    change(meta)
    (model_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SpeakerIDError, match=f"config.json is not a speakerid model config: {message}"):
        load_model(model_dir)


def test_a_config_nested_beyond_pythons_recursion_limit_is_refused(model_dir):
    (model_dir / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(SpeakerIDError, match="not a speakerid model config"):
        load_model(model_dir)


@pytest.mark.parametrize("calibration", [
    {"threshold": "high"}, {"threshold": float("nan")}, {"threshold": 0.5, "slope": [1]},
    {"threshold": 0.5, "method": {"class_name": "Lambda"}}, {"threshold": 0.5, "__init__": 1}, [0.5],
], ids=["text", "NaN", "list", "object", "unknown key", "not an object"])
def test_a_calibration_with_anything_but_finite_numbers_is_refused(model_dir, calibration):
    (model_dir / "calibration.json").write_text(json.dumps(calibration))
    with pytest.raises(SpeakerIDError, match="calibration.json is not a speakerid calibration"):
        load_model(model_dir)


# --- gallery files ---------------------------------------------------------------------------------
def flac(seconds: float, rate: int = RATE, channels: int = 1) -> bytes:
    signal = np.repeat(synth_voice(3, seconds, rate)[:, None], channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gallery(untrained_encoder, tmp_path_factory) -> Gallery:
    with Gallery(tmp_path_factory.mktemp("gallery") / "gallery.sqlite", untrained_encoder) as opened:
        for speaker in range(2):
            opened.enroll(f"speaker {speaker}", [from_array(synth_voice(speaker, 8.0, RATE), RATE)])
        yield opened


@pytest.fixture(scope="module")
def exported(gallery, tmp_path_factory) -> Path:
    return gallery.export(tmp_path_factory.mktemp("export") / "good.sqlite")


HOSTILE_GALLERIES = {
    "trigger": ("CREATE TRIGGER wipe AFTER INSERT ON clips BEGIN DELETE FROM speakers; END", (),
                "holds a trigger, 'wipe'"),
    "view": ("CREATE VIEW everyone AS SELECT name FROM speakers", (), "holds a view"),
    "text seconds": ("UPDATE clips SET speech_s = 'plenty'", (), "invalid seconds of speech"),
    "text rate": ("UPDATE clips SET sample_rate = 'fast'", (), "invalid sample rate"),
    "blob source": ("UPDATE clips SET source = X'00FF'", (), "invalid source name"),
    "NaN vector": ("UPDATE clips SET embedding = ?", (np.full(64, np.nan, "<f4").tobytes(),),
                   "embedding is not finite"),
    "short vector": ("UPDATE clips SET embedding = ?", (np.ones(3, "<f4").tobytes(),),
                     "its embedding has 3 values; this encoder makes 64"),
    "huge vector": ("UPDATE clips SET embedding = ?", (np.ones(2 ** 20, "<f4").tobytes(),),
                    "invalid embedding"),
    "huge audio": ("UPDATE clips SET audio = ?", (b"fLaC" + bytes(8 * 2 ** 20),), "speakerid stores at most"),
    "not FLAC": ("UPDATE clips SET audio = ?", (b"fLaC" + b"\x00junk" * 200,), "stored audio is not FLAC"),
    "long audio": ("UPDATE clips SET audio = ?", (flac(120.0),), "longer than 60 s"),
    "other rate": ("UPDATE clips SET audio = ?", (flac(5.0, 8000),), "not mono at its recorded sample rate"),
    "stereo": ("UPDATE clips SET audio = ?", (flac(5.0, channels=2),), "not mono"),
}


@pytest.mark.parametrize("sql, params, message", HOSTILE_GALLERIES.values(), ids=HOSTILE_GALLERIES.keys())
def test_a_hostile_gallery_file_is_refused_before_anything_changes(gallery, exported, tmp_path, sql, params,
                                                                     message):
    """Imported with replace=True, the mode that would delete the gallery's own speakers first."""
    hostile = tmp_path / "hostile.sqlite"
    shutil.copy(exported, hostile)
    with closing(sqlite3.connect(hostile)) as conn, conn:
        conn.execute(sql, params)
    before = gallery.speakers()
    probe = gallery.clip_audio("speaker 1")[0]
    with pytest.raises(SpeakerIDError, match=message):
        gallery.import_(hostile, replace=True)
    assert gallery.speakers() == before
    assert gallery.identify(probe).best.name == "speaker 1"
    with closing(sqlite3.connect(gallery.path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type IN ('trigger', 'view')"
                            ).fetchone()[0] == 0


def test_a_gallery_file_with_a_trigger_is_refused_when_opened_directly(exported, tmp_path, untrained_encoder):
    """A trigger would run on this gallery's own writes: the file is refused before any write."""
    hostile = tmp_path / "hostile.sqlite"
    shutil.copy(exported, hostile)
    with closing(sqlite3.connect(hostile)) as conn, conn:
        conn.execute("CREATE TRIGGER wipe AFTER INSERT ON clips BEGIN DELETE FROM speakers; END")
    with pytest.raises(SpeakerIDError, match="holds a trigger"):
        Gallery(hostile, untrained_encoder)
    with closing(sqlite3.connect(hostile)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM speakers").fetchone()[0] == 2
