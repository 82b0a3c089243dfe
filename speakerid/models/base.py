"""What every model folder loads as (:class:`SpeakerModel`): audio in, embedding out, calibrated
scores; and the files beside the weights that every kind of model keeps (calibration, cohort).

Two kinds implement it: :class:`speakerid.models.encoder.Encoder` (one network) and
:class:`speakerid.models.fusion.FusedEncoder` (several, their scores fused);
:func:`speakerid.models.loader.load_model` picks the one a folder holds.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..audio import AudioClip, from_array, load_audio
from ..config import FeatureConfig, ModelConfig, PipelineConfig
from ..preprocess import Prepared, Stage, prepare
from ..scoring import Calibration, ScoreNormaliser
from .scorer import CALIBRATION_FILE, COHORT_FILE, ModelScoring, read_scoring  # noqa: F401 (re-exported)

FORMAT_VERSION = 1
NETWORK_NAMES = {"ecapa": "ECAPA-TDNN", "resnet": "thin ResNet", "densenet121": "Siamese DenseNet"}


class SpeakerModel(ModelScoring, ABC):
    """What every model directory loads as: audio in, embedding out, calibrated scores (the scores
    in :class:`~speakerid.models.scorer.ModelScoring`, which needs no TensorFlow).

    Subclasses give ``pipeline``, ``model_config``, ``calibration``, ``normaliser``, ``path``,
    :attr:`encoder_id`, :meth:`features`, :meth:`embed_features`, :meth:`embed_windows`,
    :meth:`pool_windows` and :attr:`feature_configs`; preparation and everything about scores is
    shared here.
    """

    pipeline: PipelineConfig
    model_config: ModelConfig
    calibration: Calibration
    normaliser: ScoreNormaliser | None
    path: Path | None

    @property
    @abstractmethod
    def encoder_id(self) -> str:
        """Fingerprint of the model: galleries refuse vectors from another one."""

    @abstractmethod
    def features(self, prepared: Prepared) -> np.ndarray:
        """The model's input features (frames, bands) of prepared speech."""

    @abstractmethod
    def embed_features(self, features: np.ndarray) -> np.ndarray:
        """One embedding for a whole clip's features."""

    @abstractmethod
    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of equal-length feature windows (batch, frames, bands)."""

    @abstractmethod
    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        """One clip's embedding from its windows' vectors (:meth:`embed_windows`)."""

    @property
    @abstractmethod
    def feature_configs(self) -> list[FeatureConfig]:
        """The front ends whose features :meth:`features` sets side by side, in that order."""

    @property
    def feature_readers(self) -> list[str]:
        """Who reads each front end of :attr:`feature_configs`, in words for the app's figures."""
        return [network_name(self.model_config)]

    def prepare(self, clip: AudioClip, trim_ends: bool = False) -> Prepared:
        """The clip's stages (see :func:`~speakerid.preprocess.prepare`); ``trim_ends`` cuts the
        first and last minute of a long recording, as training data is cut."""
        return prepare(clip, self.pipeline.preprocess, trim_ends=trim_ends)

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        return self.embed_features(self.features(prepared))

    def warm_up(self, seconds: float, sample_rate: int = 16000) -> None:
        """Embed ``seconds`` of silence through the model's own front end and network.

        The first call of a network traces it: on the shipped model a 15 s clip's analysis took
        2.9 s on a fresh model and 0.45 s after a warm-up of 3 s (then 0.41 s), and the trace serves
        every later length. Run it where nobody waits (a thread, after loading), not before a verdict.
        """
        silence = np.zeros(int(seconds * sample_rate), np.float32)
        self.embed_prepared(Prepared([Stage("warm-up", silence, sample_rate, "silence")]))

    def embed(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Embedding of a raw signal.

        Args:
            signal: samples, (frames,) or (frames, channels), at any rate.
            sample_rate: its rate in Hz.

        Returns:
            One 1-D float32 vector (unit length for cosine models).

        Raises:
            SpeakerIDError: too little speech once silence is removed.
        """
        return self.embed_prepared(self.prepare(from_array(signal, sample_rate)))

    def embed_file(self, path: str | Path) -> np.ndarray:
        """Like :meth:`embed` for an audio file (any format :func:`speakerid.audio.load_audio`
        reads); a file that cannot be decoded is refused with a SpeakerIDError."""
        return self.embed_prepared(self.prepare(load_audio(path)))

    def save_scoring(self, path: str | Path) -> None:
        """Write the calibration and the score-normalisation cohort (after :func:`fit_scoring`)."""
        path = Path(path)
        atomic_write_text(path / CALIBRATION_FILE, json.dumps(self.calibration.to_dict(), indent=2))
        if self.normaliser is not None:
            tmp = path / (COHORT_FILE + ".tmp.npy")
            np.save(tmp, self.normaliser.cohort)
            os.replace(tmp, path / COHORT_FILE)


def network_name(config: ModelConfig) -> str:
    """The network a model config builds, as people call it."""
    return NETWORK_NAMES.get(config.backbone, config.backbone)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
