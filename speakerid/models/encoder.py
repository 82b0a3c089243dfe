"""The public face of a trained model: audio in, speaker embedding out.

A model directory holds ``config.json`` (pipeline + network settings), the weights
(``encoder.weights.h5``, or ``encoder.weights.int8.npz`` for large shipped models: weights only,
nothing executable is ever loaded) and ``calibration.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..config import FeatureConfig, PipelineConfig, read_config
from ..errors import SpeakerIDError
from ..features import log_mel, split_windows
from ..i18n import _
from ..paths import CONFIG_FILE, SHIPPED_WEIGHTS, WEIGHTS_FILE, default_model_dir  # noqa: F401 (re-exported)
from ..preprocess import Prepared
from ..runtime import single_threaded_blas
from ..scoring import Calibration, ScoreNormaliser, default_calibration, unit
from .base import FORMAT_VERSION, SpeakerModel, atomic_write_text
from .networks import ModelConfig, build_encoder, inference_form
from .scorer import CALIBRATION_FILE, COHORT_FILE, ModelScoring, read_scoring  # noqa: F401 (re-exported)
from .weight_store import QUANTISED_WEIGHTS_FILE, load_quantised, save_quantised


class Encoder(SpeakerModel):
    """One network: embeds speech; compares embeddings; knows its calibrated decision threshold.

    Example::

        from speakerid import load_model

        model = load_model()                      # the shipped weights/ (or load_model("weights/fast"))
        a, b = model.embed_file("ann1.wav"), model.embed_file("ann2.wav")
        same = model.similarity(a, b) >= model.threshold
        print(same, model.probability_same(model.similarity(a, b)))

    Build one with :meth:`create` (untrained) or load a folder of one network with :meth:`load`
    (any model folder, fused ones too, with :func:`speakerid.models.loader.load_model`);
    :meth:`save` writes one.
    """

    def __init__(self, network, pipeline: PipelineConfig, model_config: ModelConfig,
                 calibration: Calibration | None = None, path: Path | None = None,
                 normaliser: ScoreNormaliser | None = None, inference_network=None) -> None:
        """``inference_network``: the same function in a faster form (:func:`inference_form`),
        used to embed; ``network`` stays the one that trains and is saved."""
        import tensorflow as tf

        single_threaded_blas()
        self.network = network
        self.pipeline = pipeline
        self.model_config = model_config
        self.calibration = calibration or default_calibration(model_config.metric)
        self.path = path
        self.normaliser = normaliser
        self._id: str | None = None
        self.inference_network = inference_network or network
        self._forward = tf.function(
            lambda x: tf.cast(self.inference_network(x, training=False), tf.float32), reduce_retracing=True,
            input_signature=[tf.TensorSpec([None, None, pipeline.features.n_mels], tf.float32)])

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, model_config: ModelConfig | None = None,
               pipeline: PipelineConfig | None = None,
               imagenet_weights: str | Path | None = None) -> Encoder:
        """A new, untrained encoder.

        Args:
            model_config: the network (default: :class:`~speakerid.models.networks.ModelConfig`).
            pipeline: preprocessing and features (default: :class:`~speakerid.config.PipelineConfig`).
            imagenet_weights: ImageNet weights for the backbone's first layers, where it has them.

        Returns:
            The encoder, with the metric's default calibration.
        """
        pipeline = pipeline or PipelineConfig()
        model_config = model_config or ModelConfig()
        network = build_encoder(model_config, pipeline.features.n_mels, imagenet_weights)
        return cls(network, pipeline, model_config)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Encoder:
        """Load a folder that holds one network (any folder: :func:`speakerid.load_model`).

        Args:
            path: the model folder; None: the one :func:`default_model_dir` names.

        Returns:
            The encoder, with the folder's calibration and cohort.

        Raises:
            SpeakerIDError: no readable config, a config that fuses several networks, no weights,
                weights that do not fit the network, or a damaged calibration or cohort.
        """
        path = Path(path) if path else default_model_dir()
        meta, pipeline, model_config = read_config(path)
        if "fusion" in meta:
            raise SpeakerIDError(_("{path} holds several networks fused, not one encoder: load it with "
                                   "speakerid.load_model").format(path=path))
        weights_path = weights_file(path)
        if weights_path is None:
            raise SpeakerIDError(_("no trained encoder in {path}: expected {weights_file} beside "
                                   "{config_file}").format(
                                       path=path, weights_file=WEIGHTS_FILE, config_file=CONFIG_FILE))
        calibration, normaliser = read_scoring(path, model_config)
        network = build_encoder(model_config, pipeline.features.n_mels)
        try:
            if weights_path.name == QUANTISED_WEIGHTS_FILE:
                load_quantised(network, weights_path)
            else:
                network.load_weights(weights_path)
        except Exception as exc:  # a truncated or foreign file
            raise SpeakerIDError(_("{weights_path} could not be loaded: {exc}").format(
                weights_path=weights_path, exc=exc)) from exc
        return cls(network, pipeline, model_config, calibration, path, normaliser,
                   inference_network=inference_form(network, model_config))

    def save(self, path: str | Path, extra: dict | None = None, quantised: bool = False) -> Path:
        """Write weights, pipeline config and calibration; ``extra`` goes into config.json.

        ``quantised``: kernels as int8 with a scale per group of inputs
        (:mod:`speakerid.models.weight_store`)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_VERSION, "pipeline": self.pipeline.to_dict(),
                "model": self.model_config.to_dict(), **(extra or {})}
        atomic_write_text(path / CONFIG_FILE, json.dumps(meta, indent=2))
        for stale in (WEIGHTS_FILE, QUANTISED_WEIGHTS_FILE):
            (path / stale).unlink(missing_ok=True)
        if quantised:
            save_quantised(self.network, path / QUANTISED_WEIGHTS_FILE)
        else:
            tmp = path / (WEIGHTS_FILE + ".tmp.weights.h5")
            self.network.save_weights(tmp)
            os.replace(tmp, path / WEIGHTS_FILE)
        self.save_scoring(path)
        self.path, self._id = path, None
        return path

    # --- embedding ----------------------------------------------------------------------------
    @property
    def encoder_id(self) -> str:
        """Fingerprint of weights, network and pipeline: galleries refuse vectors from another one."""
        if self._id is None:
            digest = hashlib.sha256(json.dumps([self.pipeline.to_dict(), self.model_config.to_dict()],
                                            sort_keys=True).encode())
            for variable in self.network.weights:
                digest.update(np.asarray(variable.numpy()).tobytes())
            self._id = f"{self.model_config.backbone}-{digest.hexdigest()[:16]}"
        return self._id

    def features(self, prepared: Prepared) -> np.ndarray:
        """Log-mel spectrogram (frames, n_mels) of the prepared speech."""
        return log_mel(prepared.signal, prepared.sample_rate, self.pipeline.features)

    def embed_features(self, features: np.ndarray) -> np.ndarray:
        """One embedding for a whole clip: the windows' embeddings averaged."""
        windows = split_windows(features, self.pipeline)
        if windows.shape[1] < self.model_config.min_frames:  # repeat a very short clip to fit
            windows = np.tile(windows, (1, -(-self.model_config.min_frames // windows.shape[1]), 1))
        return self.pool_windows(self._forward(windows.astype(np.float32)).numpy())

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of equal-length feature windows (batch, frames, n_mels)."""
        return self._forward(np.asarray(windows, dtype=np.float32)).numpy()

    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        """The windows' mean: of unit vectors, made unit again, for cosine scoring."""
        if self.model_config.metric == "cosine":
            return unit(unit(vectors).mean(axis=0)).astype(np.float32)
        return vectors.mean(axis=0).astype(np.float32)

    @property
    def feature_configs(self) -> list[FeatureConfig]:
        return [self.pipeline.features]

def weights_file(model_dir: Path) -> Path | None:
    """The weights file of a model directory (float32 HDF5 or int8 ``.npz``), or None."""
    for name in (WEIGHTS_FILE, QUANTISED_WEIGHTS_FILE):
        if (model_dir / name).is_file():
            return model_dir / name
    return None
