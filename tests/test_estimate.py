"""A run's duration said before Start: steps times the step speed of earlier runs, else the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speakerid.training.estimate import DEFAULT_STEP_SECONDS, estimate, steps
from speakerid.training.settings import TrainSettings
from speakerid_ui.formatting import rough_duration


def earlier_run(root: Path, name: str, settings: TrainSettings, steps_per_epoch: int,
                epoch_seconds: list[float]) -> None:
    """A run folder as the trainer leaves it: its settings, status and per-epoch history."""
    run = root / name
    run.mkdir(parents=True)
    (run / "settings.json").write_text(json.dumps(settings.to_dict()))
    (run / "status.json").write_text(json.dumps({"state": "finished", "steps": steps_per_epoch}))
    rows = ["epoch,loss,seconds"] + [f"{i + 1},1.0,{s}" for i, s in enumerate(epoch_seconds)]
    (run / "history.csv").write_text("\n".join(rows) + "\n")


def test_without_earlier_runs_the_recipes_default_speed(tmp_path):
    guess = estimate(TrainSettings(), 20, tmp_path / "runs")
    assert guess.steps == 30 * 200 and guess.measured_runs == 0
    assert guess.step_seconds == DEFAULT_STEP_SECONDS["aam"]
    assert guess.seconds == pytest.approx(6000 * DEFAULT_STEP_SECONDS["aam"])


def test_earlier_runs_of_the_same_kind_give_the_speed_scaled_to_the_batch(tmp_path):
    earlier_run(tmp_path, "a", TrainSettings(batch_size=32), 100, [200.0, 220.0, 200.0])  # 2 s a step
    earlier_run(tmp_path, "ref", TrainSettings.for_recipe("reference"), 10, [900.0])  # another kind
    (tmp_path / "unpacked-dataset").mkdir()  # not a run
    guess = estimate(TrainSettings(batch_size=64, epochs=2, steps_per_epoch=50), 20, tmp_path)
    assert guess.measured_runs == 1 and guess.steps == 100
    assert guess.step_seconds == pytest.approx(4.0)  # twice the batch, twice the work


def test_fine_tuning_is_its_own_kind(tmp_path):
    earlier_run(tmp_path, "a", TrainSettings(), 100, [170.0])
    guess = estimate(TrainSettings(init_from="weights/ecapa", batch_size=32), 20, tmp_path)
    assert guess.measured_runs == 0 and guess.step_seconds == DEFAULT_STEP_SECONDS["fine-tune"]


def test_the_siamese_steps_grow_with_the_speakers_pairs():
    reference = TrainSettings.for_recipe("reference", epochs=2)  # batches of 16 pairs
    assert steps(reference, 10) == 2 * ((10 * 100 + 10 * 9 * 25) // 16)
    assert steps(TrainSettings.for_recipe("reference", max_pairs_per_epoch=640), 10) == 30 * 40


def test_an_estimate_is_said_to_the_minute():
    assert [rough_duration(s) for s in (20.0, 1000.0, 10080.0)] == ["1 min", "17 min", "2 h 48 min"]
