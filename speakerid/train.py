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
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from .cache import SpeakerAudio, load_speakers
from .config import ModelConfig, PipelineConfig, read_config, reference_model, reference_pipeline
from .datasets import SpeakerSource, discover
from .errors import SpeakerIDError

Recipe = Literal["aam", "reference"]
Distribute = Literal["none", "mirrored", "multiworker"]
DISTRIBUTE_CHOICES: tuple[str, ...] = get_args(Distribute)
HISTORY_FIELDS = ["epoch", "loss", "same_distance", "different_distance", "eer", "learning_rate",
                  "seconds"]


@dataclass(frozen=True)
class TrainSettings:
    """Everything a run needs; saved in the run directory so ``--resume`` continues the same run."""

    recipe: Recipe = "aam"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    steps_per_epoch: int = 200  # aam only: the reference's epoch is its pair list
    crop_s: float = 2.0
    same_pairs_per_speaker: int = 100
    different_pairs_per_other_speaker: int = 25
    max_pairs_per_epoch: int = 0  # 0 = all pairs (the reference); else a proportional subsample
    margin: float = 3.0  # contrastive margin (reference)
    aam_margin: float = 0.2
    aam_scale: float = 30.0
    augment: bool = True
    train_fraction: float = 0.8  # first 80 % of each speaker's audio trains, last 20 % validates
    calibration_speakers: float = 0.1  # fraction of speakers held out to calibrate the threshold
    exclude_speakers: tuple[str, ...] = ()
    channels: tuple[int, ...] = (24, 48, 96, 192)
    embedding_dim: int = 192
    imagenet_weights: str | None = None
    # A trained model directory whose encoder starts this run (fine-tuning); its architecture and
    # pipeline must be this recipe's. The speaker head is new, since the speakers are; it starts
    # at each speaker's mean embedding under that encoder.
    init_from: str | None = None
    seed: int = 0
    # tf.distribute: "mirrored" splits each batch over this machine's GPUs, "multiworker" over
    # the machines named in $TF_CONFIG (batch_size stays the global batch).
    distribute: Distribute = "none"

    def __post_init__(self) -> None:
        if self.distribute not in DISTRIBUTE_CHOICES:  # refused before any audio is prepared
            raise SpeakerIDError(f"distribute must be one of {', '.join(DISTRIBUTE_CHOICES)}, "
                                 f"not {self.distribute!r}")

    @classmethod
    def for_recipe(cls, recipe: Recipe, **overrides: Any) -> TrainSettings:
        """The recipe's own defaults, then the caller's overrides."""
        base = {"reference": {"batch_size": 16, "learning_rate": 1e-4, "augment": False,
                              "embedding_dim": 128}}.get(recipe, {})
        return cls(recipe=recipe, **{**base, **overrides})

    def pipeline(self) -> PipelineConfig:
        """The audio pipeline: the starting model's when fine-tuning, else the recipe's."""
        if self.init_from:
            return read_config(Path(self.init_from))[1]
        return reference_pipeline() if self.recipe == "reference" else PipelineConfig()

    def model(self) -> ModelConfig:
        """The network: the starting model's when fine-tuning (a ported ECAPA-TDNN stays one)."""
        if self.init_from:
            model = read_config(Path(self.init_from))[2]
            if model.backbone == "fusion":
                raise SpeakerIDError(
                    f"{self.init_from} fuses several encoders and cannot be fine-tuned as one: start from "
                    "one of its member folders (e.g. weights/ecapa or weights/fast)")
            if model.backbone == "resnet" and (model.channels, model.embedding_dim) != (
                    tuple(self.channels), self.embedding_dim):
                raise SpeakerIDError(
                    f"{self.init_from} cannot start this run: its network has channels {model.channels} "
                    f"and {model.embedding_dim}-d embeddings, this run asks for {tuple(self.channels)} "
                    f"and {self.embedding_dim}")
            return model
        if self.recipe == "reference":
            return dataclasses.replace(reference_model(), embedding_dim=self.embedding_dim)
        return ModelConfig(channels=tuple(self.channels), embedding_dim=self.embedding_dim)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        values = dict(data)
        for key in ("channels", "exclude_speakers"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)


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
                            cwd=Path(__file__).resolve().parent.parent)


class RunMonitor:
    """Writes status and history for whoever watches (app, CLI); notices stop requests."""

    def __init__(self, run_dir: Path, epochs: int) -> None:
        self.run_dir = run_dir
        self.epochs = epochs
        self.stop_requested = False
        self._last_write = 0.0
        self._status: dict[str, Any] = {"state": "starting", "epoch": 0, "epochs": epochs, "step": 0,
                                        "steps": 0, "message": "", "pid": os.getpid()}
        (run_dir / "STOP").unlink(missing_ok=True)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stop_requested", True))

    def should_stop(self) -> bool:
        if (self.run_dir / "STOP").exists():
            self.stop_requested = True
        return self.stop_requested

    def update(self, force: bool = False, **fields: Any) -> None:
        self._status.update(fields)
        now = time.time()
        if force or now - self._last_write > 1.0:
            self._status["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            _atomic_text(self.run_dir / "status.json", json.dumps(self._status, indent=2))
            self._last_write = now

    def write_history(self, rows: list[dict[str, float]]) -> None:
        """history.csv replaced whole by the checkpoint's rows: never torn, never ahead of it."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in HISTORY_FIELDS} for row in rows)
        _atomic_text(self.run_dir / "history.csv", text.getvalue())


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
        raise SpeakerIDError(f"training needs at least 2 speakers; found {len(training)}")
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


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["SpeakerAudio", "TrainSettings", "read_history", "read_status", "request_stop",
           "start_training_process", "train"]
