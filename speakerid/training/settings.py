"""What a training run is asked to do (:class:`TrainSettings`): the one object the driver
(:mod:`.train`), the trainer, the CLI and the app pass around, saved in the run directory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from ..config import ModelConfig, PipelineConfig, read_config, reference_model, reference_pipeline
from ..errors import SpeakerIDError
from ..i18n import _

Recipe = Literal["aam", "reference"]
Distribute = Literal["none", "mirrored", "multiworker"]
DISTRIBUTE_CHOICES: tuple[str, ...] = get_args(Distribute)


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
            raise SpeakerIDError(_("distribute must be one of {choices}, "
                                   "not {distribute!r}").format(
                                       choices=', '.join(DISTRIBUTE_CHOICES), distribute=self.distribute))

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
                    _("{init_from} fuses several encoders and cannot be fine-tuned as one: start from "
                      "one of its member folders (e.g. weights/ecapa or weights/fast)").format(
                          init_from=self.init_from))
            if model.backbone == "resnet" and (model.channels, model.embedding_dim) != (
                    tuple(self.channels), self.embedding_dim):
                raise SpeakerIDError(
                    _("{init_from} cannot start this run: its network has channels {model_channels} "
                      "and {model_dim}-d embeddings, this run asks for {channels} "
                      "and {dim}").format(
                          init_from=self.init_from, model_channels=model.channels,
                          model_dim=model.embedding_dim, channels=tuple(self.channels),
                          dim=self.embedding_dim))
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
