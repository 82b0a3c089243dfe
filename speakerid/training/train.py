"""Train an encoder from dataset folders, with checkpoints, resume, progress and a clean stop.

Two recipes:

* ``reference``: the system we start from. DenseNet121 Siamese pairs on 22.05 kHz mel windows,
  pairs from the first 80 % of each speaker's audio (the last 20 % for validation), 100
  same-speaker pairs per speaker and 25 different-speaker pairs per other speaker, contrastive
  loss with margin 3.0, Adam 1e-4 with 100 warm-up steps and polynomial decay, 30 epochs.
* ``aam``: our recipe. A thin ResNet with statistics pooling trained as a speaker classifier with
  an additive-angular-margin softmax on random 2 s crops, augmented on the fly (noise, babble,
  reverberation, telephone band and codec, band limits, gain) so that studio and phone speech
  land in one space.

A run directory holds ``status.json``, ``history.csv``, ``checkpoint/``, the final ``model/`` and
``evaluation.json``; a file named ``STOP`` in it asks the run to stop cleanly.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import SpeakerSource, discover
from ..errors import SpeakerIDError
from ..i18n import _
from .cache import SpeakerAudio, load_speakers
from .monitor import RunMonitor
from .settings import TrainSettings


# --- the run directory: the contract with the app --------------------------------------------------
def read_status(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"state": "unknown", "message": f"no readable status in {run_dir}"}


def read_history(run_dir: str | Path) -> list[dict[str, float]]:
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in rows]


def request_stop(run_dir: str | Path) -> None:
    """Ask a running training to save its checkpoint and stop (it polls between steps)."""
    (Path(run_dir) / "STOP").touch()


def start_training_process(data_dirs: str | Path | list, run_dir: str | Path, settings: TrainSettings,
                           resume: bool = False) -> subprocess.Popen:
    """Run training in its own process group, so it outlives the app's page or session."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.json").write_text(json.dumps(settings.to_dict(), indent=2))
    dirs = [data_dirs] if isinstance(data_dirs, (str, Path)) else list(data_dirs)
    command = [sys.executable, "-m", "speakerid", "train", *map(str, dirs), "--out", str(run_dir),
               "--settings", str(run_dir / "settings.json"), "--no-progress"]
    if resume:
        command.append("--resume")
    log = (run_dir / "train.log").open("ab")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])


# --- the driver --------------------------------------------------------------------------------
def train(data_dirs: list[str | Path], run_dir: str | Path, settings: TrainSettings,
          resume: bool = False, progress: bool = True) -> Path:
    """Train, calibrate on held-out speakers, evaluate, and save ``run_dir/model``. Returns it."""
    from .trainer import Trainer  # TensorFlow is imported only when training really starts

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings_for_run(run_dir, settings, resume)
    monitor = RunMonitor(run_dir, settings.epochs)
    monitor.install_signal_handlers()
    try:
        monitor.update(state="preparing", message="decoding and cleaning the audio", force=True)
        training, calibration = split_speakers(collect_speakers(data_dirs), settings)
        pipeline = settings.pipeline()
        audio = load_speakers(training, pipeline.preprocess, progress=progress)
        trainer = Trainer(settings, pipeline, audio, run_dir, monitor, progress)
        finished = trainer.fit(resume=resume)
        if not finished:
            monitor.update(state="cancelled", message="stopped; resume to continue", force=True)
            return run_dir / "model"
        monitor.update(state="evaluating", message="calibrating on held-out speakers", force=True)
        model_dir = trainer.finalise(calibration, training)
        monitor.update(state="finished", message=f"model saved to {model_dir}", force=True)
        return model_dir
    except SpeakerIDError as exc:
        monitor.update(state="failed", message=str(exc), force=True)
        raise
    except Exception as exc:
        monitor.update(state="failed", message=f"{type(exc).__name__}: {exc}", force=True)
        raise


def collect_speakers(data_dirs: list[str | Path]) -> list[SpeakerSource]:
    """Speakers of every folder; with several folders, names are prefixed by the folder's name."""
    dirs = [Path(d) for d in data_dirs]
    if len(dirs) == 1:
        return discover(dirs[0])
    return [dataclasses.replace(s, name=f"{d.name}/{s.name}") for d in dirs for s in discover(d)]


def split_speakers(speakers: list[SpeakerSource], settings: TrainSettings
                   ) -> tuple[list[SpeakerSource], list[SpeakerSource]]:
    """(training speakers, calibration speakers); excluded speakers are in neither."""
    excluded = set(settings.exclude_speakers)
    usable = [s for s in speakers if s.name not in excluded]
    rng = np.random.default_rng(settings.seed)
    count = int(round(settings.calibration_speakers * len(usable)))
    count = min(max(count, 2 if settings.calibration_speakers > 0 else 0), len(usable) - 2)
    chosen = set(rng.choice(len(usable), size=max(count, 0), replace=False).tolist())
    training = [s for i, s in enumerate(usable) if i not in chosen]
    calibration = [s for i, s in enumerate(usable) if i in chosen]
    if len(training) < 2:
        raise SpeakerIDError(_("training needs at least 2 speakers; found {count}").format(
            count=len(training)))
    return training, calibration


def _settings_for_run(run_dir: Path, settings: TrainSettings, resume: bool) -> TrainSettings:
    """The saved settings when resuming; else these, and the folder cleared of an earlier run's
    history and checkpoint (a resume must never continue someone else's)."""
    saved = run_dir / "settings.json"
    if resume and saved.is_file():
        return TrainSettings.from_dict(json.loads(saved.read_text()))
    saved.write_text(json.dumps(settings.to_dict(), indent=2))
    (run_dir / "history.csv").unlink(missing_ok=True)
    shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)
    return settings


__all__ = ["SpeakerAudio", "read_history", "read_status", "request_stop",
           "start_training_process", "train"]
