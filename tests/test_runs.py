"""Training runs as the app sees them: launch, states, dead processes, resume, activation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import dead_pid
from synthetic import synth_voice, write_wav

from speakerid import SpeakerIDError, paths
from speakerid.audio import from_array
from speakerid.gallery import Gallery
from speakerid.training import runs
from speakerid.training.settings import TrainSettings


def make_dataset(root: Path, speakers: int = 3) -> Path:
    for index in range(speakers):
        folder = root / f"speaker{index}"
        folder.mkdir(parents=True)
        write_wav(folder / "1.wav", synth_voice(index, 2.0))
    return root


def write_status(run_dir: Path, **status) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "status.json").write_text(json.dumps(status))
    return run_dir


def test_run_names_are_safe_and_unique(tmp_path):
    assert runs.run_name("../My data/set!").startswith("My-data-set-")
    assert runs.run_name(None).startswith("run-")
    first = runs.new_run_dir("x", tmp_path)
    second = runs.new_run_dir("x", tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_states_follow_the_process(tmp_path):
    alive = write_status(tmp_path / "alive", state="running", epoch=2, epochs=5, pid=os.getpid())
    dead = write_status(tmp_path / "dead", state="running", epoch=2, epochs=5, pid=dead_pid())
    done = write_status(tmp_path / "done", state="finished", epoch=5, epochs=5, pid=dead_pid())
    (done / "model").mkdir()
    assert runs.run_info(alive).state == "running" and runs.run_info(alive).alive
    assert runs.run_info(dead).state == "interrupted" and not runs.run_info(dead).alive
    assert runs.run_info(done).finished
    (tmp_path / "junk").mkdir()  # not a run: no status, launch or settings file
    listed = runs.list_runs(tmp_path)
    assert {r.name for r in listed} == {"alive", "dead", "done"}
    assert runs.run_info(tmp_path / "missing").state == "unknown"


def test_zombies_are_not_alive():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(1.0)  # exited, not yet reaped: a zombie
    assert not runs.process_alive(process.pid)
    process.wait()
    assert not runs.process_alive(None) and not runs.process_alive(-1)


def test_launch_resume_and_refusals(tmp_path, fake_training):
    data = make_dataset(tmp_path / "data")
    settings = TrainSettings.for_recipe("aam", epochs=2)
    run_dir = runs.launch(data, settings, label="news")
    assert run_dir.parent == paths.runs_dir() and run_dir.name.startswith("news-")
    assert fake_training[-1]["data"] == data.resolve() and fake_training[-1]["resume"] is False
    info = runs.run_info(run_dir)
    assert info.alive and info.state == "starting"
    assert runs.data_dirs(run_dir) == [str(data.resolve())]
    with pytest.raises(SpeakerIDError, match="already running"):
        runs.launch(data, settings, run_dir)
    with pytest.raises(SpeakerIDError, match="still running"):
        runs.resume(run_dir)

    for child in list(runs._CHILDREN.values()):
        child.kill()
        child.wait()
    write_status(run_dir, state="cancelled", epoch=1, epochs=2, pid=dead_pid())
    (run_dir / "checkpoint").mkdir()
    (run_dir / "settings.json").write_text(json.dumps(settings.to_dict()))
    assert runs.run_info(run_dir).resumable
    runs.resume(run_dir)
    assert fake_training[-1]["run_dir"] == run_dir and fake_training[-1]["resume"] is True
    assert fake_training[-1]["settings"] == settings

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("no audio here")
    with pytest.raises(SpeakerIDError, match="no speakers"):
        runs.launch(notes, settings)
    with pytest.raises(SpeakerIDError, match="not a folder"):
        runs.launch(tmp_path / "missing", settings)


def test_a_run_that_is_not_running_can_be_deleted(tmp_path):
    done = write_status(tmp_path / "done", state="finished", pid=dead_pid())
    (done / "model").mkdir()
    (done / "model" / "encoder.weights.h5").write_bytes(b"weights")
    failed = write_status(tmp_path / "failed", state="failed", pid=dead_pid())
    (tmp_path / ".deleting-failed").mkdir()  # left by a deletion cut short
    alive = write_status(tmp_path / "alive", state="running", pid=os.getpid())
    runs.delete(done)
    runs.delete(failed)
    assert not done.exists() and not failed.exists()
    assert os.listdir(tmp_path) == ["alive"]
    with pytest.raises(SpeakerIDError, match="still running"):
        runs.delete(alive)
    (tmp_path / "notes").mkdir()
    with pytest.raises(SpeakerIDError, match="not a training run"):
        runs.delete(tmp_path / "notes")
    assert alive.is_dir() and (tmp_path / "notes").is_dir()


def test_log_tail_keeps_the_last_state_of_progress_bars(tmp_path):
    (tmp_path / "train.log").write_text("start\nepoch 1: 10%\repoch 1: 50%\repoch 1: 100%\r\ndone\n")
    assert runs.log_tail(tmp_path) == "start\nepoch 1: 100%\ndone"
    assert runs.log_tail(tmp_path / "none") == ""


def test_activation_makes_the_model_default_and_reenrols(tmp_path, monkeypatch, untrained_encoder):
    import keras

    from speakerid import Encoder
    from speakerid.models.encoder import default_model_dir
    from speakerid.models.networks import ModelConfig

    monkeypatch.delenv("SPEAKERID_WEIGHTS", raising=False)
    run_dir = write_status(paths.runs_dir() / "good", state="finished", pid=dead_pid())
    keras.utils.set_random_seed(7)
    trained = Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))
    trained.save(run_dir / "model")
    with Gallery(paths.gallery_path(), untrained_encoder) as gallery:
        gallery.enroll("Asha", from_array(synth_voice(1, 5.0, pauses=False), 16000, "asha.wav"))
        steps = []
        encoder, clips = runs.activate(run_dir, gallery, progress=lambda d, t: steps.append(d))
        assert clips == 1 and steps == [1]
        assert encoder.encoder_id == trained.encoder_id
        assert default_model_dir() == paths.active_model_dir()
        gallery.check_encoder()  # the gallery now speaks the new model's language
        assert gallery.identify(from_array(synth_voice(1, 5.0, pauses=False), 16000)).speaker == "Asha"
    unfinished = write_status(paths.runs_dir() / "bad", state="running", pid=os.getpid())
    with pytest.raises(SpeakerIDError, match="no finished model"):
        runs.activate(unfinished)


def test_in_use_compares_the_weights(tmp_path, monkeypatch, untrained_encoder):
    run_dir = tmp_path / "run"
    untrained_encoder.save(run_dir / "model")
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(run_dir / "model"))
    assert runs.in_use(run_dir)
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(tmp_path / "elsewhere"))
    assert not runs.in_use(run_dir) and not runs.in_use(tmp_path / "none")


def test_fine_tuning_a_fused_model_starts_from_its_heaviest_member(tmp_path):
    plain, fused = tmp_path / "plain", tmp_path / "fused"
    for folder, meta in ((plain, {"model": {}}),
                         (fused, {"fusion": {"members": [{"path": "fast", "weight": 0.4},
                                                         {"path": "ecapa", "weight": 0.6}]}})):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(meta))
    assert runs.fine_tuning_start(plain) == plain
    assert runs.fine_tuning_start(fused) == fused / "ecapa"
    with pytest.raises(SpeakerIDError, match="no model to fine-tune"):
        runs.fine_tuning_start(tmp_path / "nothing")
