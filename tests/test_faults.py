"""Crash safety: processes killed with SIGKILL at random points leave nothing half-written.

Each round starts ``python -c SCRIPT``, waits until it is working, sleeps a seeded random delay and
kills it (no handler, no ``finally``, no rollback runs). Then the gallery must open, pass SQLite's
integrity check and hold only whole speakers, none of those the process reported as enrolled
lost; a training run must keep a readable checkpoint and resume from it to the end.

The gallery processes use :class:`NumpyEncoder`: crash safety belongs to the gallery's writes, and
without TensorFlow's start-up the kills land in enrolment and import work rather than in imports.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from speakerid.audio import AudioClip
from speakerid.config import ModelConfig
from speakerid.gallery import Gallery
from speakerid.gallery.schema import SCHEMA_VERSION
from speakerid.scoring import default_calibration

REPO = Path(__file__).resolve().parents[1]
BANDS = 32
SPEAKERS = 6
CLIPS_PER_SPEAKER = 2
CLIP_S = 20.0
CLIP_RATE = 48000  # the largest stored rate: long transactions, so that kills land inside them
KILL_ROUNDS = 3
EMBEDDED_SAMPLES = 1 << 15  # the stand-in encoder looks at the start only: cheap, still distinct


class NumpyEncoder:
    """The part of :class:`speakerid.Encoder` the gallery uses, in NumPy: band energies of the clip."""

    encoder_id = "numpy-band-energies"
    model_config = ModelConfig(embedding_dim=BANDS)
    calibration = default_calibration("cosine")
    threshold = calibration.threshold

    def prepare(self, clip: AudioClip) -> SimpleNamespace:
        return SimpleNamespace(signal=clip.samples.mean(axis=1), speech_s=clip.duration_s)

    def embed_prepared(self, prepared: SimpleNamespace) -> np.ndarray:
        power = np.abs(np.fft.rfft(prepared.signal[:EMBEDDED_SAMPLES])) ** 2
        return np.log1p(np.array([band.sum() for band in np.array_split(power, BANDS)], np.float32))


# --- killing ---------------------------------------------------------------------------------------
def start(script: str, *args: object) -> subprocess.Popen:
    """``python -c script args`` in its own process group, its stdout readable line by line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


def kill_after(process: subprocess.Popen, delay_s: float) -> list[str]:
    """SIGKILL the process's whole group (training's data workers too) after ``delay_s``; returns
    the lines it printed, each one a promise that the work before it was done."""
    time.sleep(delay_s)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished first: the round checks a completed run instead
    output, _ = process.communicate(timeout=60)
    return output.splitlines()


def wait_for_line(process: subprocess.Popen, expected: str) -> None:
    line = process.stdout.readline().strip()
    assert line == expected, f"the child printed {line!r} (exit code {process.poll()})"


# --- the gallery -----------------------------------------------------------------------------------
ENROL_UNTIL_KILLED = """
import itertools, sys
from speakerid.datasets import discover
from speakerid.gallery import Gallery
from test_faults import NumpyEncoder
gallery = Gallery(sys.argv[1], NumpyEncoder())
sources = discover(sys.argv[2])
print("ready", flush=True)
for lap in itertools.count():
    for source in sources:
        name = f"{sys.argv[3]} {lap:03d} {source.name}"
        gallery.enroll(name, source.files)
        print(name, flush=True)
"""

IMPORT_FOLDER = """
import sys
from speakerid.datasets import discover
from speakerid.gallery import Gallery
from test_faults import NumpyEncoder
gallery = Gallery(sys.argv[1], NumpyEncoder())
names = [source.name for source in discover(sys.argv[2])]
print("ready", flush=True)
gallery.import_folder(sys.argv[2], progress=lambda done, total: print(names[done - 1], flush=True))
"""

# Stops for good inside the write transaction, after the speaker row and its first clip.
HANG_INSIDE_ENROLMENT = """
import sys, time
from speakerid.gallery import Gallery
from speakerid.gallery import rows as module
from speakerid.datasets import discover
from test_faults import NumpyEncoder
insert_clips = module.insert_clips
def insert_one_then_hang(conn, speaker_id, clips, encoder_id):
    insert_clips(conn, speaker_id, list(clips)[:1], encoder_id)
    print("inside", flush=True)
    time.sleep(600)
module.insert_clips = insert_one_then_hang
Gallery(sys.argv[1], NumpyEncoder()).enroll("half-written", discover(sys.argv[2])[0].files)
"""

IMPORT_GALLERY = """
import sys
from speakerid.gallery import Gallery
from test_faults import NumpyEncoder
gallery = Gallery(sys.argv[1], NumpyEncoder())
print("ready", flush=True)
gallery.import_(sys.argv[2], replace=sys.argv[3] == "replace")
print("imported", flush=True)
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """SPEAKERS speakers of CLIPS_PER_SPEAKER noisy 48 kHz clips: about 2 MB of FLAC per clip,
    so that writing a speaker takes long enough for kills to land inside the transaction."""
    from synthetic import synth_voice, write_wav  # here: the killed processes import this module

    root = tmp_path_factory.mktemp("speakers")
    rng = np.random.default_rng(0)
    for index in range(SPEAKERS):
        (root / f"spk{index:02d}").mkdir()
        for seed in range(CLIPS_PER_SPEAKER):
            voice = synth_voice(index, CLIP_S, CLIP_RATE, seed)
            noisy = voice + rng.normal(0.0, 0.05, len(voice)).astype(np.float32)
            write_wav(root / f"spk{index:02d}" / f"{seed}.wav", noisy, CLIP_RATE)
    return root


@dataclass(frozen=True)
class Enrolled:
    path: Path
    seconds: float  # how long enrolling it took here: kill delays are drawn on this scale


@pytest.fixture(scope="module")
def enrolled(folder, tmp_path_factory) -> Enrolled:
    """A gallery holding every speaker of ``folder``."""
    path = tmp_path_factory.mktemp("enrolled") / "gallery.sqlite"
    started = time.monotonic()
    with Gallery(path, NumpyEncoder()) as gallery:
        gallery.import_folder(folder)
    return Enrolled(path, time.monotonic() - started)


def gallery_names(path: Path) -> list[str]:
    """Open the gallery after a crash and check it; the names of its speakers, all of them whole."""
    with Gallery(path, NumpyEncoder()) as gallery:  # opening recovers the write-ahead log
        speakers = gallery.speakers()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert [s.clips for s in speakers] == [CLIPS_PER_SPEAKER] * len(speakers), speakers
    return [s.name for s in speakers]


def delays(seed: int, work_s: float) -> list[float]:
    """Seeded kill delays, one in each equal part of the time the work takes (measured, as the
    machine's load varies): early, middle and late kills every time."""
    rng = random.Random(seed)
    return [(part + rng.random()) / KILL_ROUNDS * work_s for part in range(KILL_ROUNDS)]


def test_killed_enrolment_keeps_whole_speakers_and_every_reported_one(tmp_path, folder, enrolled):
    path = tmp_path / "gallery.sqlite"
    for round_, delay in enumerate(delays(seed=1, work_s=enrolled.seconds)):
        child = start(ENROL_UNTIL_KILLED, path, folder, f"round {round_}")
        wait_for_line(child, "ready")
        reported = kill_after(child, delay)
        present = [name for name in gallery_names(path) if name.startswith(f"round {round_} ")]
        # enrolled in the order reported, and at most the one in flight when killed beyond them
        assert present[:len(reported)] == reported and len(present) - len(reported) in (0, 1)


def test_kill_inside_the_enrolment_transaction_leaves_no_trace(tmp_path, folder, enrolled):
    path = tmp_path / "gallery.sqlite"
    with Gallery(enrolled.path, NumpyEncoder()) as gallery:
        gallery.export(path)
        before = gallery.speakers()
    child = start(HANG_INSIDE_ENROLMENT, path, folder)
    wait_for_line(child, "inside")
    kill_after(child, 0.0)
    assert "half-written" not in gallery_names(path)
    with Gallery(path, NumpyEncoder()) as gallery:
        assert gallery.speakers() == before
        gallery.enroll("half-written", next(folder.iterdir()).iterdir())  # the lock was not left behind
    assert "half-written" in gallery_names(path)


def test_killed_folder_import_keeps_whole_speakers_and_finishes_later(tmp_path, folder, enrolled):
    path = tmp_path / "gallery.sqlite"
    order = sorted(entry.name for entry in folder.iterdir())
    for delay in delays(seed=2, work_s=enrolled.seconds):
        child = start(IMPORT_FOLDER, path, folder)
        wait_for_line(child, "ready")
        reported = kill_after(child, delay)
        present = gallery_names(path)
        assert set(reported) <= set(present) and present == order[:len(present)]
    with Gallery(path, NumpyEncoder()) as gallery:
        gallery.import_folder(folder)
    assert gallery_names(path) == order


def renamed_copy(path: Path, target: Path, prefix: str) -> set[str]:
    """Copy a gallery with every speaker renamed; the new names."""
    with Gallery(path, NumpyEncoder()) as gallery:
        gallery.export(target)
    with Gallery(target, NumpyEncoder()) as copy:
        for speaker in copy.speakers():
            copy.rename(speaker.name, f"{prefix} {speaker.name}")
    return set(gallery_names(target))


def test_killed_gallery_import_is_all_or_nothing(tmp_path, enrolled):
    sources = {label: renamed_copy(enrolled.path, tmp_path / f"{label}.sqlite", label) for label in "ab"}
    path = tmp_path / "gallery.sqlite"
    started = time.monotonic()
    with Gallery(path, NumpyEncoder()) as gallery:
        gallery.import_(enrolled.path)  # the starting content, and the time an import takes
    import_s = time.monotonic() - started
    plan = [("a", "merge"), ("b", "replace"), ("a", "merge")]
    for (label, mode), delay in zip(plan, delays(seed=3, work_s=import_s)):
        before = set(gallery_names(path))
        child = start(IMPORT_GALLERY, path, tmp_path / f"{label}.sqlite", mode)
        wait_for_line(child, "ready")
        reported = kill_after(child, delay)
        after = set(gallery_names(path))
        done = sources[label] if mode == "replace" else before | sources[label]
        assert after in (before, done), (mode, sorted(after))
        assert after == done or reported != ["imported"]


# Stops for good inside the migration from format 1, its transaction not yet committed.
HANG_INSIDE_MIGRATION = """
import sys, time
from speakerid.gallery import Gallery
from speakerid.gallery import schema as module
from test_faults import NumpyEncoder
migrate = module.migrate
def migrate_then_hang(conn):
    migrate(conn)
    print("inside", flush=True)
    time.sleep(600)
module.migrate = migrate_then_hang
Gallery(sys.argv[1], NumpyEncoder())
"""


def test_kill_inside_the_format_migration_leaves_format_1_whole(tmp_path, enrolled):
    from test_gallery import older_copy

    path = older_copy(enrolled.path, tmp_path / "format1.sqlite", 1)
    with closing(sqlite3.connect(path)) as conn:
        before = conn.execute("SELECT * FROM clips ORDER BY id").fetchall()
    child = start(HANG_INSIDE_MIGRATION, path)
    wait_for_line(child, "inside")
    kill_after(child, 0.0)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert conn.execute("SELECT * FROM clips ORDER BY id").fetchall() == before
    assert len(gallery_names(path)) == SPEAKERS  # opened (and migrated) whole
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)


# --- model activation ------------------------------------------------------------------------------
# Activates the run in argv[1] for the default gallery, stopping for good at the point argv[2] names.
ACTIVATE = """
import sys, time
from speakerid import paths
from speakerid.gallery import Gallery, staging
from speakerid.models import loader as encoder
from speakerid.training import runs

def hang(*_):
    print("inside", flush=True)
    time.sleep(600)

point = sys.argv[2]
if point == "model switched, gallery not yet":
    make_active = encoder.make_active
    encoder.make_active = lambda installed: hang(make_active(installed))
if point == "inside the gallery's switch":
    adopt = staging.adopt
    staging.adopt = lambda conn, encoder_id: hang(adopt(conn, encoder_id))
def progress(done, total):
    if point == "while re-enrolling" and done == 2:
        hang()
with Gallery(paths.gallery_path()) as opened:
    runs.activate(sys.argv[1], opened, progress)
"""
ACTIVATION_POINTS = ["while re-enrolling", "model switched, gallery not yet", "inside the gallery's switch"]


@pytest.fixture
def switch(tmp_path, untrained_encoder) -> tuple[str, Path]:
    """A default gallery enrolled with the active model; a finished run with another model. Returns
    the active model's encoder id and the run."""
    from synthetic import synth_voice

    from speakerid import Encoder, load_model, paths
    from speakerid.audio import from_array
    from speakerid.models.loader import install_model, make_active

    make_active(install_model(untrained_encoder.save(tmp_path / "first")))
    run = paths.runs_dir() / "second"
    run.mkdir()
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    Encoder.create(untrained_encoder.model_config).save(run / "model")  # other random weights
    with Gallery(paths.gallery_path(), load_model()) as gallery:
        for speaker in range(3):
            gallery.enroll(f"speaker {speaker}", [from_array(synth_voice(speaker, 6.0, 16000, seed), 16000,
                                                             f"{seed}.wav") for seed in range(2)])
    return untrained_encoder.encoder_id, run


def assert_the_gallery_follows_the_active_model() -> str:
    """Every clip of the default gallery has a vector from the active model (once the gallery has
    been used with it) and identifies; the active model's id."""
    from speakerid import load_model, paths

    active = load_model()
    with Gallery(paths.gallery_path(), active) as gallery:
        assert len(gallery.identify(gallery.clip_audio("speaker 1")[0]).matches) == 3
    with closing(sqlite3.connect(paths.gallery_path())) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT DISTINCT encoder_id FROM clips").fetchall() == [(active.encoder_id,)]
    return active.encoder_id


@pytest.mark.parametrize("point", ACTIVATION_POINTS)
def test_killed_activation_never_leaves_the_gallery_on_a_model_not_in_use(switch, point):
    from speakerid import load_model, paths
    from speakerid.training import runs

    first, run = switch
    child = start(ACTIVATE, run, point)
    wait_for_line(child, "inside")
    kill_after(child, 0.0)
    second = load_model(run / "model").encoder_id
    assert assert_the_gallery_follows_the_active_model() == (first if point == ACTIVATION_POINTS[0]
                                                              else second)
    totals = []
    with Gallery(paths.gallery_path()) as gallery:  # activating again finishes the switch
        runs.activate(run, gallery, lambda done, total: totals.append(total))
    assert totals[:1] == ([4] if point == ACTIVATION_POINTS[0] else [])  # the 2 staged are kept
    assert assert_the_gallery_follows_the_active_model() == second


# --- training --------------------------------------------------------------------------------------
TRAIN = """
import json, sys
from speakerid.training.settings import TrainSettings
from speakerid.training.train import train
if __name__ == "__main__":  # the data workers are spawned: they must not run this again
    settings = TrainSettings.from_dict(json.loads(sys.argv[3]))
    train([sys.argv[1]], sys.argv[2], settings, resume=True, progress=False)
"""
TRAINING_KILLS = 2
# A kill moves the checkpoint on by some epochs (four was thought the most, but one run on an idle
# machine moved it by six: tiny epochs pass between two looks at the status) and the next kill waits
# for the third epoch after it, so the run must be longer than that or it may finish before the
# killer catches it.
TRAINING = dict(epochs=8 * TRAINING_KILLS + 2, steps_per_epoch=3, batch_size=8, warmup_steps=2,
                channels=(8, 16, 16, 32), embedding_dim=32, calibration_speakers=0.0, augment=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from synthetic import synth_voice, write_wav

    root = tmp_path_factory.mktemp("train_data")
    for index in range(6):
        (root / f"speaker{index}").mkdir()
        for seed in range(2):
            write_wav(root / f"speaker{index}" / f"{seed}.wav", synth_voice(index, 3.0, 16000, seed))
    return root


def wait_for_epoch(run: Path, process: subprocess.Popen, epoch: int, timeout_s: float = 300.0) -> None:
    """Until this process (not the one killed before it) reports steps of ``epoch`` or later."""
    from speakerid.training.train import read_status

    deadline = time.monotonic() + timeout_s
    while True:
        status = read_status(run)
        if status.get("pid") == process.pid and status.get("state") == "running" \
                and status.get("epoch", 0) >= epoch:
            return
        assert process.poll() is None, f"training exited early with code {process.returncode}"
        assert time.monotonic() < deadline, f"training did not reach epoch {epoch}"
        time.sleep(0.05)


def checkpoint_epoch(run: Path) -> int:
    """The epochs a resume keeps (0 without a checkpoint), after reading every saved value in full:
    a torn file fails TensorFlow's checksums."""
    import tensorflow as tf
    from test_train import HISTORY_KEY  # here: the killed gallery processes import this module

    latest = tf.train.latest_checkpoint(run / "checkpoint")
    if latest is None:
        return 0
    reader = tf.train.load_checkpoint(latest)
    values = [reader.get_tensor(name) for name in reader.get_variable_to_shape_map()]
    assert all(np.all(np.isfinite(value)) for value in values if np.issubdtype(np.asarray(value).dtype,
                                                                               np.floating))
    return len(json.loads(reader.get_tensor(HISTORY_KEY)))


def kill_in_the_epoch_after_a_checkpoint(run: Path, process: subprocess.Popen, resumed_at: int,
                                         rng: random.Random) -> None:
    """Let the run save a checkpoint of its own, then kill it at a random point of about one epoch
    (steps, validation, the next checkpoint's writing). The epoch timed is the run's second: its
    first also traces the training step, which takes far longer than a tiny epoch."""
    wait_for_epoch(run, process, resumed_at + 2)
    began = time.monotonic()
    wait_for_epoch(run, process, resumed_at + 3)
    kill_after(process, rng.random() * (time.monotonic() - began))


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, dataset):
    from speakerid import Encoder
    from speakerid.training.settings import TrainSettings
    from speakerid.training.train import read_history, read_status, train

    settings = TrainSettings.for_recipe("aam", **TRAINING)
    run, resumed_at, rng = tmp_path / "run", 0, random.Random(4)
    for _ in range(TRAINING_KILLS):
        child = start(TRAIN, dataset, run, json.dumps(settings.to_dict()))
        kill_in_the_epoch_after_a_checkpoint(run, child, resumed_at, rng)
        assert read_status(run)["state"] == "running"  # status.json is replaced whole, never torn
        assert checkpoint_epoch(run) > resumed_at  # the run's own checkpoint survived the kill
        resumed_at = checkpoint_epoch(run)
    model_dir = train([dataset], run, settings, resume=True, progress=False)
    assert read_status(run)["state"] == "finished"
    assert [int(row["epoch"]) for row in read_history(run)] == list(range(1, settings.epochs + 1))
    assert Encoder.load(model_dir).embed_file(next(dataset.rglob("*.wav"))).shape == (32,)


# Trains as TRAIN does, but stops for good while saving after epoch 2, at the point argv[4] names.
HANG_WHILE_SAVING = """
import sys, time
import tensorflow as tf
from speakerid.training import train as module

def hang(*_):
    print("saving", flush=True)
    time.sleep(600)

if sys.argv[4] == "checkpoint written, not yet named":
    save = tf.train.CheckpointManager.save
    def save_then_hang(self, *args, **kwargs):  # runs before the state file is pointed at it
        hook = tf.train.CheckpointOptions(experimental_write_callbacks=[
            lambda path: hang() if path.endswith("-2") else None])
        return save(self, *args, options=hook, **kwargs)
    tf.train.CheckpointManager.save = save_then_hang
else:  # "checkpoint named, history.csv not yet rewritten"
    write = module.RunMonitor.write_history
    module.RunMonitor.write_history = lambda self, rows: hang() if len(rows) == 2 else write(self, rows)
""" + TRAIN


@pytest.mark.parametrize("point", ["checkpoint written, not yet named",
                                   "checkpoint named, history.csv not yet rewritten"])
def test_training_killed_inside_a_checkpoint_save_resumes_each_epoch_once(tmp_path, dataset, point):
    from speakerid.training.settings import TrainSettings
    from speakerid.training.train import read_history, train

    settings = TrainSettings.for_recipe("aam", **{**TRAINING, "epochs": 4})
    run = tmp_path / "run"
    child = start(HANG_WHILE_SAVING, dataset, run, json.dumps(settings.to_dict()), point)
    wait_for_line(child, "saving")
    kill_after(child, 0.0)
    assert [int(row["epoch"]) for row in read_history(run)] == [1]  # the csv never runs ahead
    written = point.startswith("checkpoint written")
    assert checkpoint_epoch(run) == (1 if written else 2)
    assert (run / "checkpoint" / "ckpt-2.index").is_file()  # the kill came after the new files
    train([dataset], run, settings, resume=True, progress=False)
    assert [int(row["epoch"]) for row in read_history(run)] == [1, 2, 3, 4]
