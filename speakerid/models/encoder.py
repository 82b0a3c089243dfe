"""The public face of a trained model: audio in, speaker embedding out.

A model directory holds ``config.json`` (pipeline + network settings), the weights
(``encoder.weights.h5``, or ``encoder.weights.int8.npz`` for large shipped models: weights only,
nothing executable is ever loaded) and ``calibration.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..audio import AudioClip, from_array, load_audio
from ..config import FeatureConfig, PipelineConfig, read_config
from ..errors import SpeakerIDError
from ..features import log_mel, split_windows
from ..paths import CONFIG_FILE, SHIPPED_WEIGHTS, WEIGHTS_FILE, default_model_dir  # noqa: F401 (re-exported)
from ..preprocess import Prepared, prepare
from ..runtime import single_threaded_blas
from ..scoring import Calibration, ScoreNormaliser, default_calibration, unit
from .networks import ModelConfig, build_encoder, inference_form
from .scorer import CALIBRATION_FILE, COHORT_FILE, ModelScoring, read_scoring  # noqa: F401 (re-exported)
from .weight_store import QUANTISED_WEIGHTS_FILE, load_quantised, save_quantised

FORMAT_VERSION = 1


class SpeakerModel(ModelScoring):
    """What every model directory loads as: audio in, embedding out, calibrated scores (the scores
    in :class:`~speakerid.models.scorer.ModelScoring`, which needs no TensorFlow).

    Subclasses give ``pipeline``, ``model_config``, ``calibration``, ``normaliser``, ``path``,
    :attr:`encoder_id`, :meth:`features`, :meth:`embed_features` and :meth:`embed_windows`;
    preparation and everything about scores is shared here.
    """

    @property
    def encoder_id(self) -> str:
        raise NotImplementedError

    def features(self, prepared: Prepared) -> np.ndarray:
        raise NotImplementedError

    def embed_features(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        """One clip's embedding from its windows' vectors (:meth:`embed_windows`)."""
        raise NotImplementedError

    @property
    def feature_configs(self) -> list[FeatureConfig]:
        """The front ends whose features :meth:`features` sets side by side, in that order."""
        raise NotImplementedError

    def prepare(self, clip: AudioClip, trim_ends: bool = False) -> Prepared:
        """The clip's stages (see :func:`~speakerid.preprocess.prepare`); ``trim_ends`` cuts the
        first and last minute of a long recording, as training data is cut."""
        return prepare(clip, self.pipeline.preprocess, trim_ends=trim_ends)

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        return self.embed_features(self.features(prepared))

    def embed(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Embedding (1-D) of a raw signal, (frames,) or (frames, channels), at any rate."""
        return self.embed_prepared(self.prepare(from_array(signal, sample_rate)))

    def embed_file(self, path: str | Path) -> np.ndarray:
        return self.embed_prepared(self.prepare(load_audio(path)))

    def save_scoring(self, path: str | Path) -> None:
        """Write the calibration and the score-normalisation cohort (after :func:`fit_scoring`)."""
        path = Path(path)
        _atomic_write_text(path / CALIBRATION_FILE, json.dumps(self.calibration.to_dict(), indent=2))
        if self.normaliser is not None:
            tmp = path / (COHORT_FILE + ".tmp.npy")
            np.save(tmp, self.normaliser.cohort)
            os.replace(tmp, path / COHORT_FILE)


class Encoder(SpeakerModel):
    """One network: embeds speech; compares embeddings; knows its calibrated decision threshold."""

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
        """A new, untrained encoder."""
        pipeline = pipeline or PipelineConfig()
        model_config = model_config or ModelConfig()
        network = build_encoder(model_config, pipeline.features.n_mels, imagenet_weights)
        return cls(network, pipeline, model_config)

    @classmethod
    def load(cls, path: str | Path | None = None) -> SpeakerModel:
        """Load a model directory; by default the one :func:`default_model_dir` names. One network,
        or several whose scores are fused (:class:`speakerid.models.fusion.FusedEncoder`)."""
        path = Path(path) if path else default_model_dir()
        meta, pipeline, model_config = read_config(path)
        if "fusion" in meta:
            from .fusion import FusedEncoder

            return FusedEncoder.load(path, meta, pipeline, model_config)
        weights_path = weights_file(path)
        if weights_path is None:
            raise SpeakerIDError(f"no trained encoder in {path}: expected {WEIGHTS_FILE} beside "
                                 f"{CONFIG_FILE}")
        calibration, normaliser = read_scoring(path, model_config)
        network = build_encoder(model_config, pipeline.features.n_mels)
        try:
            if weights_path.name == QUANTISED_WEIGHTS_FILE:
                load_quantised(network, weights_path)
            else:
                network.load_weights(weights_path)
        except Exception as exc:  # a truncated or foreign file
            raise SpeakerIDError(f"{weights_path} could not be loaded: {exc}") from None
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
        _atomic_write_text(path / CONFIG_FILE, json.dumps(meta, indent=2))
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


def install_model(model_dir: str | Path) -> Path:
    """Copy a trained model into the user's models folder (so the run can be deleted); refuses one
    that does not load. Not active yet: see :func:`make_active`. The copy is renamed into place
    whole, so a half-copied model is never installed."""
    source = Path(model_dir)
    Encoder.load(source)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(4).hex()}"
    partial = paths.models_dir() / f".{name}.partial"
    shutil.copytree(source, partial)
    os.replace(partial, partial.with_name(name))
    return partial.with_name(name)


def make_active(installed: Path) -> Path:
    """Make an installed model the default for the app and CLI, in one atomic replace of the file
    that names it; the model it replaces is deleted only then."""
    previous = paths.active_model_dir()
    _atomic_write_text(paths.home() / paths.ACTIVE_MODEL_FILE, json.dumps({"model": installed.name}))
    if previous != installed:
        shutil.rmtree(previous, ignore_errors=True)
    return installed


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
