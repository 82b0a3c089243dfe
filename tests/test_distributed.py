"""Training under ``tf.distribute``: one CPU split into two logical devices stands in for two GPUs.

Logical devices must be configured before TensorFlow initialises, so every run happens in a child
process. What is covered:

* MirroredStrategy drives the whole ``aam`` run (train, validate, checkpoint, calibrate, save) over
  two replicas and the model it saves loads and embeds;
* the reference recipe's pair step, under two replicas, reports the mean contrastive loss of the
  *global* batch (each replica's loss is scaled by the global batch size) and keeps the two copies
  of every weight identical (the gradients are all-reduced). It runs on a tiny ResNet: one step of
  the real DenseNet121 under two replicas takes minutes on two cores to trace, and the backbone
  plays no part in how the step is distributed;
* MultiWorkerMirroredStrategy: two workers on 127.0.0.1, each started by the CLI with
  ``--distribute multiworker`` and its own TF_CONFIG, train in lockstep to the same weights.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import synth_voice
from test_train import SMALL, checkpointed_history, make_dataset

from speakerid import Encoder, SpeakerIDError
from speakerid.cli import build_parser
from speakerid.training.settings import TrainSettings
from speakerid.training.train import read_history, read_status

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 400  # a worker whose peer died waits in its all-reduce for ever: never wait that long

# Two logical CPU devices: what MirroredStrategy would find on a machine with two GPUs.
TWO_DEVICES = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""

# argv: dataset, run directory, settings as JSON. Guarded: training prepares audio in spawned workers.
MIRRORED_RUN = TWO_DEVICES + """
import json, sys
from pathlib import Path
from speakerid.training.settings import TrainSettings
from speakerid.training.train import train
if __name__ == "__main__":
    settings = TrainSettings.from_dict(json.loads(sys.argv[3]))
    train([sys.argv[1]], Path(sys.argv[2]), settings, progress=False)
"""

# argv: run directory. Prints one JSON line about one distributed pair step.
PAIR_STEP = TWO_DEVICES + """
import json, sys
from pathlib import Path
import numpy as np
from synthetic import synth_voice
from speakerid.training.cache import SpeakerAudio
from speakerid.config import ModelConfig
from speakerid.models.objectives import contrastive_loss, euclidean_distance
from speakerid.training.monitor import RunMonitor
from speakerid.training.settings import TrainSettings
from speakerid.training.trainer import Trainer

class TinyReference(TrainSettings):
    def model(self):
        return ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=32,
                           mean_normalise=False, metric="euclidean")

settings = TinyReference.for_recipe("reference", batch_size=8, max_pairs_per_epoch=8,
                                    distribute="mirrored")
run = Path(sys.argv[1])
pipeline = settings.pipeline()
rate = pipeline.preprocess.sample_rate
audio = [SpeakerAudio(f"s{i}", (synth_voice(i, 6.0, rate),)) for i in range(4)]
trainer = Trainer(settings, pipeline, audio, run, RunMonitor(run, 1), False)
strategy = trainer.strategy
batch = next(iter(trainer._batches(0)))
left, right, same = (strategy.experimental_local_results(part) for part in batch)

def replica_sum(l, r, s):
    a, b = tf.split(trainer.network(tf.concat([l, r], 0), training=True), 2)
    return float(contrastive_loss(s, euclidean_distance(a, b), settings.margin)) * len(s)

expected = sum(replica_sum(*parts) for parts in zip(left, right, same)) / settings.batch_size
weight = trainer.network.trainable_variables[0]
before = weight.numpy().copy()
loss = float(trainer._pair_step()(*batch))
copies = [[c.numpy() for c in strategy.experimental_local_results(v.value)]
          for v in trainer.network.trainable_variables]
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync, "sizes": [len(s) for s in same],
    "loss": loss, "expected": expected,
    "copies_equal": all(np.array_equal(c[0], c[1]) for c in copies),
    "copies": sorted({len(c) for c in copies}),
    "moved": float(np.abs(weight.numpy() - before).max())}))
"""


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
            "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def run_children(commands: list[list[str]], envs: list[dict[str, str]]) -> list[subprocess.CompletedProcess]:
    """Run the commands side by side; on a timeout kill every one of them (their process groups)."""
    processes = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
                 for command, env in zip(commands, envs)]
    try:
        outputs = [process.communicate(timeout=TIMEOUT_S) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return [subprocess.CompletedProcess(p.args, p.returncode, out, err)
            for p, (out, err) in zip(processes, outputs)]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def assert_loads_and_embeds(model_dir: Path) -> Encoder:
    encoder = Encoder.load(model_dir)
    vector = encoder.embed(synth_voice(7, 3.0), 16000)
    assert vector.shape == (SMALL["embedding_dim"],) and np.isfinite(vector).all()
    return encoder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Six speakers: four train, two are held out to calibrate (calibration_speakers 0.25)."""
    return make_dataset(tmp_path_factory.mktemp("distributed_data"), range(6), clips=1)


def test_mirrored_training_over_two_devices_finishes_and_saves_a_working_model(dataset, tmp_path):
    run = tmp_path / "mirrored"
    settings = TrainSettings.for_recipe("aam", epochs=1, steps_per_epoch=3, warmup_steps=1,
                                        distribute="mirrored", **SMALL)
    (done,) = run_children([[sys.executable, "-c", MIRRORED_RUN, str(dataset), str(run),
                             json.dumps(settings.to_dict())]], [child_env()])
    assert done.returncode == 0, done.stderr[-3000:]
    status = read_status(run)
    assert status["state"] == "finished", status
    assert status["replicas"] == 2  # both logical devices really trained
    history = read_history(run)
    assert [row["epoch"] for row in history] == [1]
    assert all(np.isfinite(row["loss"]) and row["loss"] > 0 for row in history)
    assert checkpointed_history(run) == history  # the rows are saved with the weights
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["settings"]["distribute"] == "mirrored"
    assert_loads_and_embeds(run / "model")


def test_reference_pair_step_over_two_replicas_averages_the_global_batch(tmp_path):
    (done,) = run_children([[sys.executable, "-c", PAIR_STEP, str(tmp_path)]], [child_env()])
    assert done.returncode == 0, done.stderr[-3000:]
    step = json.loads(done.stdout.strip().splitlines()[-1])
    assert step["replicas"] == 2 and step["sizes"] == [4, 4]  # the global batch of 8, split in two
    # Scaled by the per-replica batch instead, the summed loss would come out twice as large.
    assert step["loss"] == pytest.approx(step["expected"], rel=1e-4)
    assert step["copies"] == [2] and step["copies_equal"]  # one update, the same on both devices
    assert step["moved"] > 0


def test_two_workers_started_by_the_cli_train_in_lockstep(dataset, tmp_path):
    """Each worker is its own process with its own run folder and user folder, as on two machines."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    settings_file = tmp_path / "settings.json"
    settings = TrainSettings.for_recipe("aam", epochs=1, steps_per_epoch=3, warmup_steps=1, **SMALL)
    settings_file.write_text(json.dumps(settings.to_dict()))
    runs = [tmp_path / f"worker{index}" for index in range(2)]
    commands = [[sys.executable, "-m", "speakerid", "train", str(dataset), "--out", str(run),
                 "--settings", str(settings_file), "--distribute", "multiworker", "--no-progress"]
                for run in runs]
    envs = [child_env(SPEAKERID_HOME=str(tmp_path / f"home{index}"),
                      TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            for index in range(2)]
    for done in run_children(commands, envs):
        assert done.returncode == 0, done.stderr[-3000:]
    for run in runs:
        status = read_status(run)
        assert status["state"] == "finished" and status["replicas"] == 2, status
    first, second = (read_history(run) for run in runs)
    assert [row["loss"] for row in first] == [row["loss"] for row in second]  # one all-reduced loss
    assert all(np.isfinite(row["loss"]) for row in first)
    encoders = [assert_loads_and_embeds(run / "model") for run in runs]
    # Every trained weight is the same on both workers. (Batch-norm running statistics are not
    # trained: as in Keras's own fit, each replica keeps those of its share of the batches.)
    for a, b in zip(*(encoder.network.trainable_weights for encoder in encoders)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cli_distribute_flag_reaches_the_settings_and_refuses_unknown_strategies(capsys):
    parser = build_parser()
    for choice in ("none", "mirrored", "multiworker"):
        args = parser.parse_args(["train", "data", "--out", "run", "--distribute", choice])
        assert args.distribute == choice
    assert parser.parse_args(["train", "data", "--out", "run"]).distribute is None  # recipe default
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["train", "data", "--out", "run", "--distribute", "gpus"])
    assert exit_info.value.code == 2 and "invalid choice: 'gpus'" in capsys.readouterr().err
    with pytest.raises(SpeakerIDError, match="distribute must be one of none, mirrored, multiworker"):
        TrainSettings(distribute="gpus")
