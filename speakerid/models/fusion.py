"""Several encoders as one: their cosine scores fused by fixed weights.

Networks trained on different speech err differently: the ported ECAPA-TDNN knows 7 205 VoxCeleb
voices from web video; the thin ResNet learnt telephone speech here. A weighted sum of their
cosines beats each alone where they disagree. It is computed without changing anything downstream:
each member's unit embedding is scaled by the square root of its weight and the pieces are
concatenated, so the fused vector has unit length and its cosine with another fused vector is
exactly ``sum(weight * member cosine)``. The gallery, search, AS-norm and calibration see one
ordinary cosine embedding.

A fused model directory holds ``config.json`` with a ``fusion`` entry (members as sub-folders of the
directory, each a complete model, and their weights), and its own ``calibration.json`` and
``cohort.npy`` for the fused score. Every member must prepare audio the same way and produce
frames at the same rate, so that one prepared clip and one frame axis serve them all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from ..config import FeatureConfig, ModelConfig, PipelineConfig
from ..errors import SpeakerIDError
from ..paths import CONFIG_FILE
from ..preprocess import Prepared
from ..scoring import Calibration, ScoreNormaliser, default_calibration, unit
from .base import FORMAT_VERSION, SpeakerModel, atomic_write_text, network_name, read_scoring


class FusedEncoder(SpeakerModel):
    """Members' unit embeddings, each scaled by sqrt(weight), side by side (weights sum to 1)."""

    def __init__(self, members: Sequence[SpeakerModel], weights: Sequence[float], names: Sequence[str],
                 calibration: Calibration | None = None, normaliser: ScoreNormaliser | None = None,
                 path: Path | None = None) -> None:
        if len(members) < 2 or len(members) != len(weights) or len(names) != len(members):
            raise SpeakerIDError("a fusion needs two or more members, each with a weight and a name")
        if min(weights) < 0 or not np.isclose(sum(weights), 1.0):
            raise SpeakerIDError(f"fusion weights must be non-negative and sum to 1, not {list(weights)}")
        first = members[0].pipeline
        for member in members[1:]:
            if (member.pipeline.preprocess != first.preprocess
                    or member.pipeline.features.hop_length != first.features.hop_length
                    or member.model_config.metric != "cosine"):
                raise SpeakerIDError("fused encoders must prepare audio alike, share a frame rate and "
                                     "compare by cosine")
        self.members, self.weights, self.names = list(members), [float(w) for w in weights], list(names)
        self.pipeline = PipelineConfig(first.preprocess, first.features)
        self.model_config = ModelConfig(
            backbone="fusion", metric="cosine",
            embedding_dim=sum(m.model_config.embedding_dim for m in members))
        self.calibration = calibration or default_calibration("cosine")
        self.normaliser = normaliser
        self.path = path
        self._bands = np.cumsum([0] + [m.pipeline.features.n_mels for m in members])

    @property
    def encoder_id(self) -> str:
        digest = hashlib.sha256(json.dumps([[m.encoder_id for m in self.members], self.weights]).encode())
        return f"fusion-{digest.hexdigest()[:16]}"

    def features(self, prepared: Prepared) -> np.ndarray:
        """Every member's features of the clip side by side, (frames, sum of bands), cut to the
        frames they all have (front ends pad the edges differently, by a frame or two)."""
        parts = [member.features(prepared) for member in self.members]
        frames = min(part.shape[0] for part in parts)
        return np.concatenate([part[:frames] for part in parts], axis=1)

    def embed_features(self, features: np.ndarray) -> np.ndarray:
        return self._fuse([m.embed_features(part)[None] for m, part in self._parts(features, axis=1)])[0]

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        return self._fuse([m.embed_windows(part) for m, part in self._parts(windows, axis=2)])

    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        """Each member's windows pooled as that member pools them, then fused."""
        dims = np.cumsum([0] + [m.model_config.embedding_dim for m in self.members])
        return self._fuse([m.pool_windows(vectors[:, low:high])[None]
                           for m, low, high in zip(self.members, dims, dims[1:])])[0]

    @property
    def feature_configs(self) -> list[FeatureConfig]:
        return [m.pipeline.features for m in self.members]

    @property
    def feature_readers(self) -> list[str]:
        return [f"{network_name(m.model_config)} ({w:.0%} of the score)"
                for m, w in zip(self.members, self.weights)]

    def _parts(self, features: np.ndarray, axis: int):
        for member, low, high in zip(self.members, self._bands, self._bands[1:]):
            yield member, np.take(features, np.arange(low, high), axis=axis)

    def _fuse(self, vectors: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.sqrt(w) * unit(v) for w, v in zip(self.weights, vectors)],
                              axis=-1).astype(np.float32)

    # --- persistence --------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, meta: dict, pipeline: PipelineConfig, model_config: ModelConfig,
             load_member: Callable[[Path], SpeakerModel]) -> FusedEncoder:
        """The members named in ``meta["fusion"]``, loaded from sub-folders of ``path`` by
        ``load_member`` (a member is itself a model folder: :meth:`Encoder.load
        <speakerid.models.encoder.Encoder.load>`; passed in, so that this module needs no
        encoder and the encoder can hand a fused folder here)."""
        try:
            entries = meta["fusion"]["members"]
            names = [_member_folder(entry["path"]) for entry in entries]
            weights = [float(entry["weight"]) for entry in entries]
        except (KeyError, TypeError, ValueError) as exc:
            raise SpeakerIDError(f"{path / CONFIG_FILE}: malformed fusion entry ({exc})") from None
        members = [load_member(path / name) for name in names]
        fused = cls(members, weights, names, path=path)
        if fused.model_config != model_config or fused.pipeline.preprocess != pipeline.preprocess:
            raise SpeakerIDError(f"{path / CONFIG_FILE} does not describe its members")
        fused.calibration, fused.normaliser = read_scoring(path, model_config)
        fused.calibration = fused.calibration or default_calibration("cosine")
        return fused

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write config.json and the fused score's calibration and cohort; the members must
        already be saved in sub-folders of ``path`` named as in ``names``."""
        path = Path(path)
        for name in self.names:
            if not (path / name / CONFIG_FILE).is_file():
                raise SpeakerIDError(f"save member {name!r} in {path / name} first")
        meta = {"format": FORMAT_VERSION, "pipeline": self.pipeline.to_dict(),
                "model": self.model_config.to_dict(),
                "fusion": {"members": [{"path": n, "weight": w} for n, w in zip(self.names, self.weights)]},
                **(extra or {})}
        atomic_write_text(path / CONFIG_FILE, json.dumps(meta, indent=2))
        self.save_scoring(path)
        self.path = path
        return path


def _member_folder(name: object) -> str:
    """A member's folder: one plain name inside the fused model's folder (no paths out of it)."""
    if not isinstance(name, str) or len(PurePosixPath(name).parts) != 1 or name in ("", ".", "..") \
            or "\\" in name:
        raise ValueError(f"member path must be a folder name inside the model, not {str(name)[:40]!r}")
    return name

