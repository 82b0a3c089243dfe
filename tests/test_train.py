"""Training on synthetic speakers: checkpoints, resumes, stops, calibrates, and both recipes run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from synthetic import synth_voice, tract_voice, write_wav

from speakerid import Encoder
from speakerid.datasets import SpeakerSource, discover
from speakerid.errors import SpeakerIDError
from speakerid.scoring import score
from speakerid.training.settings import TrainSettings
from speakerid.training.train import read_history, read_status, request_stop, split_speakers, train

SMALL = dict(channels=(8, 16, 16, 32), embedding_dim=32, batch_size=16, calibration_speakers=0.25)
HISTORY_KEY = "history/.ATTRIBUTES/VARIABLE_VALUE"  # the trainer's checkpoint keeps its rows there


def synth_clip(index: int, clip: int, seconds: float) -> np.ndarray:
    return synth_voice(index, seconds, 16000, seed=clip)


def make_dataset(root: Path, speakers: range, clips: int = 2, seconds: float = 4.0,
                 voice: Callable[[int, int, float], np.ndarray] = synth_clip) -> Path:
    """One folder per speaker of ``clips`` WAV files, each ``voice(speaker, clip, seconds)``."""
    for index in speakers:
        folder = root / f"speaker{index:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for clip in range(clips):
            write_wav(folder / f"{clip}.wav", voice(index, clip, seconds))
    return root


def checkpointed_history(run: Path) -> list[dict] | None:
    """The history rows saved in the run's latest checkpoint (where a resume starts), or None."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(run / "checkpoint")
    return None if latest is None else json.loads(tf.train.load_variable(latest, HISTORY_KEY))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """For tests of the plumbing, not of learning: few files to decode and embed."""
    return make_dataset(tmp_path_factory.mktemp("train_data"), range(6), clips=1)


@pytest.fixture(scope="module")
def tract_dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tract_data"), range(40), clips=6, seconds=1.5,
                        voice=tract_voice)


# Small margin and scale: 40 speakers is a small classification problem for an AAM head.
TRAINED = dict(epochs=3, steps_per_epoch=60, warmup_steps=10, learning_rate=5e-3, aam_margin=0.1,
               aam_scale=16.0, augment=False, **SMALL)


@pytest.fixture(scope="module")
def trained_run(tract_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    train([tract_dataset], run, TrainSettings.for_recipe("aam", **TRAINED), progress=False)
    return run


def test_training_separates_speakers_it_never_heard(trained_run, tmp_path):
    import keras

    from speakerid.scoring import RawScorer
    from speakerid.training.evaluate import embed_speakers, evaluate_items

    held_out = discover(make_dataset(tmp_path, range(1000, 1012), clips=4, seconds=3.0, voice=tract_voice))
    cosine = RawScorer("cosine")
    untrained_eers = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        untrained = Encoder.create(TrainSettings(**SMALL).model())
        untrained_eers.append(evaluate_items(embed_speakers(untrained, held_out), cosine, 0.5).eer)
    trained = Encoder.load(trained_run / "model")
    trained_eer = evaluate_items(embed_speakers(trained, held_out), cosine, 0.5).eer
    # Measured: untrained 43 and 44 %, trained 21-25 % (two training seeds, two margins).
    assert trained_eer < 0.65 * min(untrained_eers), (trained_eer, untrained_eers)


def _kernels(encoder: Encoder) -> list[np.ndarray]:
    return [w for w in encoder.network.get_weights() if w.ndim == 4]


def test_fine_tuning_starts_from_the_trained_encoder(trained_run, dataset, tmp_path):
    start = trained_run / "model"
    settings = TrainSettings.for_recipe("aam", **{**SMALL, "epochs": 1, "steps_per_epoch": 2,
                                                  "learning_rate": 1e-7}, init_from=str(start))
    tuned = Encoder.load(train([dataset], tmp_path / "tuned", settings, progress=False))
    fresh = Encoder.create(TrainSettings(**SMALL).model())
    pairs = list(zip(_kernels(tuned), _kernels(Encoder.load(start))))
    assert pairs and all(np.allclose(a, b, atol=1e-5) for a, b in pairs)
    assert not np.allclose(_kernels(fresh)[0], pairs[0][1], atol=1e-2)


def test_fine_tuning_starts_with_a_head_that_knows_the_speakers(trained_run, tract_dataset, tmp_path):
    """The head starts at each speaker's mean embedding, so fine-tuning the encoder on the speakers
    it was trained on begins near its final loss instead of where a random head would put it."""
    settings = TrainSettings.for_recipe("aam", **{**TRAINED, "epochs": 1, "steps_per_epoch": 3,
                                                  "learning_rate": 1e-7},
                                        init_from=str(trained_run / "model"))
    train([tract_dataset], tmp_path / "tuned", settings, progress=False)
    first_loss = read_history(tmp_path / "tuned")[0]["loss"]
    trained = read_history(trained_run)
    assert first_loss < 0.5 * trained[0]["loss"]


def test_fine_tuning_refuses_an_encoder_of_another_shape(trained_run, dataset, tmp_path):
    settings = TrainSettings.for_recipe("aam", **{**SMALL, "channels": (8, 16, 32, 32)},
                                        init_from=str(trained_run / "model"))
    with pytest.raises(SpeakerIDError, match="cannot start this run"):
        train([dataset], tmp_path / "run", settings, progress=False)
    assert read_status(tmp_path / "run")["state"] == "failed"


def test_run_directory_holds_history_status_model_and_calibration(trained_run):
    assert read_status(trained_run)["state"] == "finished"
    history = read_history(trained_run)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all({"loss", "same_distance", "different_distance", "eer"} <= row.keys() for row in history)
    assert history[-1]["loss"] < history[0]["loss"]
    calibration = json.loads((trained_run / "model" / "calibration.json").read_text())
    assert "held-out speakers" in calibration["method"] and calibration["slope"] > 0
    report = json.loads((trained_run / "evaluation.json").read_text())
    assert {"eer", "min_dcf", "precision_recall", "threshold"} <= report.keys()
    config = json.loads((trained_run / "model" / "config.json").read_text())
    assert set(config["calibrated_on"]).isdisjoint(config["trained_on"])


def test_stop_request_keeps_a_checkpoint_and_resume_finishes(dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    request_stop(run)  # a STOP left over from an earlier run is cleared at start...
    process = subprocess.Popen([sys.executable, "-c", _STOPPING_SCRIPT, str(dataset), str(run)])
    assert process.wait(timeout=300) == 0
    assert read_status(run)["state"] == "cancelled"  # ...and a new one stops it after epoch 1
    assert [row["epoch"] for row in checkpointed_history(run)] == [1]
    settings = TrainSettings.from_dict(json.loads((run / "settings.json").read_text()))
    finished = train([dataset], run, settings, resume=True, progress=False)
    assert read_status(run)["state"] == "finished" and (finished / "encoder.weights.h5").is_file()
    epochs = [int(row["epoch"]) for row in read_history(run)]
    assert epochs == [1, 2]


# Runs training in a child process that asks itself to stop after the first epoch.
_STOPPING_SCRIPT = """
import sys
from pathlib import Path
from speakerid.training import train as t
original = t.RunMonitor.write_history
def write_and_stop(self, rows):
    original(self, rows)
    t.request_stop(self.run_dir)
t.RunMonitor.write_history = write_and_stop
settings = t.TrainSettings.for_recipe("aam", epochs=2, steps_per_epoch=6, channels=(8, 16, 16, 32),
                                      embedding_dim=32, batch_size=16, calibration_speakers=0.25)
if __name__ == "__main__":
    t.train([sys.argv[1]], Path(sys.argv[2]), settings, progress=False)
"""


def test_reference_recipe_trains_densenet_pairs_with_contrastive_loss(dataset, tmp_path):
    settings = TrainSettings.for_recipe("reference", epochs=1, batch_size=2, max_pairs_per_epoch=4,
                                        calibration_speakers=0.25)
    model_dir = train([dataset], tmp_path / "ref", settings, progress=False)
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model"]["backbone"] == "densenet121" and config["model"]["metric"] == "euclidean"
    assert config["pipeline"]["preprocess"]["sample_rate"] == 22050
    assert config["pipeline"]["preprocess"]["silence_method"] == "pydub"
    with (tmp_path / "ref" / "history.csv").open() as handle:
        row = next(csv.DictReader(handle))
    assert float(row["different_distance"]) > 0
    encoder = Encoder.load(model_dir)
    vector = encoder.embed(synth_voice(3, 3.0), 16000)
    assert vector.shape == (128,)
    assert score(vector, vector, "euclidean") == pytest.approx(0.0, abs=1e-3)  # minus the distance
    other = encoder.embed(synth_voice(7, 3.0), 16000)
    assert encoder.similarity(vector, vector) > encoder.similarity(vector, other)  # AS-normalised


def test_reference_pair_plan_has_100_same_and_25_per_other_speaker(tmp_path):
    from speakerid.training.cache import SpeakerAudio
    from speakerid.training.monitor import RunMonitor
    from speakerid.training.trainer import Trainer

    settings = TrainSettings.for_recipe("aam", **SMALL)
    audio = [SpeakerAudio(f"s{i}", (np.ones(48000, np.float32) * 0.1,)) for i in range(4)]
    trainer = Trainer(settings, settings.pipeline(), audio, tmp_path, RunMonitor(tmp_path, 1), False)
    first, second, same = trainer._pair_plan(0)
    assert same.sum() == 4 * 100
    assert (same == 0).sum() == 4 * 3 * 25
    assert np.all((first == second) == (same == 1))


def test_held_out_and_calibration_speakers_never_train():
    speakers = [SpeakerSource(f"s{i}", ()) for i in range(20)]
    settings = TrainSettings(exclude_speakers=("s0", "s1"), calibration_speakers=0.2)
    training, calibration = split_speakers(speakers, settings)
    names = {s.name for s in training}
    assert not names & {"s0", "s1"} and not names & {s.name for s in calibration}
    assert len(calibration) == 4 and len(training) == 14


def test_cli_train_then_evaluate(dataset, tmp_path):
    run = tmp_path / "cli_run"
    command = [sys.executable, "-m", "speakerid", "train", str(dataset), "--out", str(run),
               "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "8",
               "--embedding-dim", "32", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / "model" / "config.json").is_file()
    evaluated = subprocess.run([sys.executable, "-m", "speakerid", "evaluate", str(dataset), "--weights",
                                str(run / "model"), "--json"], capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert 0 <= report["eer"] <= 1 and report["speakers"] == 6
