"""How long a run will take, said before it starts: its steps times the duration of a step, as
measured by the finished epochs of earlier runs of the same kind in the runs folder, else the
recipe's default measured on the 2-core machine the project is developed on."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from .settings import TrainSettings
from .train import read_history, read_status

# Seconds a step at the kind's default batch and crop, on 2 CPU cores. aam: 30 epochs x 200 steps
# of 64 crops took about 2.8 h (issue 19); fine-tune: the ECAPA port, 5 s a step of 32 crops
# (weights/MODEL_CARD.md); reference: one-epoch runs on 12 synthetic speakers took 21.4 s a step of
# 16 pairs against 5.2 s for 8 aam steps (graph building and validation included), so about 4x
# aam's steady speed.
DEFAULT_STEP_SECONDS = {"aam": 1.7, "fine-tune": 5.0, "reference": 7.0}
DEFAULT_WORK = {"aam": 64 * 2.0, "fine-tune": 32 * 2.0, "reference": 16.0}


@dataclass(frozen=True)
class Estimate:
    """A run's expected duration and where its step duration comes from."""

    steps: int
    step_seconds: float
    measured_runs: int  # earlier runs whose epochs gave step_seconds; 0: the recipe's default

    @property
    def seconds(self) -> float:
        return self.steps * self.step_seconds


def kind(settings: TrainSettings) -> str:
    """Runs whose steps cost alike: fine-tuning the ECAPA port is slower than either recipe."""
    return "fine-tune" if settings.init_from else settings.recipe


def work(settings: TrainSettings) -> float:
    """What a step's cost grows with: recordings in the batch, and for crops their length."""
    return settings.batch_size * (1.0 if settings.recipe == "reference" else settings.crop_s)


def steps(settings: TrainSettings, training_speakers: int) -> int:
    """Steps in the whole run: the aam recipe's are set; the reference's come from its pair list
    (100 same-speaker pairs per speaker, 25 per other speaker, maybe capped) and the batch."""
    if settings.recipe == "aam":
        return settings.epochs * settings.steps_per_epoch
    n = training_speakers
    pairs = n * settings.same_pairs_per_speaker + n * (n - 1) * settings.different_pairs_per_other_speaker
    if settings.max_pairs_per_epoch:
        pairs = min(pairs, settings.max_pairs_per_epoch)
    return settings.epochs * max(1, pairs // settings.batch_size)


def measured_step_seconds(run_dir: Path, settings: TrainSettings) -> float | None:
    """A step's seconds in an earlier run of the same kind, scaled to ``settings``' batch and
    crop; None when it is of another kind or has no finished epoch."""
    try:
        earlier = TrainSettings.from_dict(json.loads((run_dir / "settings.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    steps_per_epoch = read_status(run_dir).get("steps")
    seconds = [row["seconds"] for row in read_history(run_dir) if row.get("seconds")]
    if kind(earlier) != kind(settings) or not steps_per_epoch or not seconds:
        return None
    return statistics.median(seconds) / int(steps_per_epoch) * work(settings) / work(earlier)


def estimate(settings: TrainSettings, training_speakers: int, runs_root: Path) -> Estimate:
    """The run's duration from the median step of earlier runs, else the recipe's default."""
    earlier = sorted(p for p in runs_root.iterdir() if p.is_dir()) if runs_root.is_dir() else []
    measured = [m for m in (measured_step_seconds(run, settings) for run in earlier) if m is not None]
    if measured:
        return Estimate(steps(settings, training_speakers), statistics.median(measured), len(measured))
    default = DEFAULT_STEP_SECONDS[kind(settings)] * work(settings) / DEFAULT_WORK[kind(settings)]
    return Estimate(steps(settings, training_speakers), default, 0)
