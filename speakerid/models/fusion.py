"""Several encoders as one: their cosine scores fused by weights, fixed or chosen by the clip's condition.

Networks trained on different speech err differently: the ported ECAPA-TDNN knows 7 205 VoxCeleb
voices from web video; the thin ResNet learnt telephone speech here. A weighted sum of their
cosines beats each alone where they disagree. It is computed without changing anything downstream:
each member's unit embedding is scaled by the square root of its weight and the pieces are
concatenated, so the fused vector has unit length and its cosine with another fused vector is
exactly ``sum(weight * member cosine)``. The gallery, search, AS-norm and calibration see one
ordinary cosine embedding.

Which member to trust depends on the clip: the ResNet helps on telephone speech and hurts on short
studio clips. With a ``conditions`` table (:class:`~speakerid.models.quality.ConditionTable`,
fitted by ``benchmarks/conditions.py``), each clip's weights follow its band (telephone or wide)
and its seconds of speech, measured from its own features (:mod:`speakerid.models.quality`). The
fused vector still has unit length, and its cosine with another is the sum over members of
``sqrt(w_a * w_b) * member cosine``: exactly the table's weighted sum for two clips of one
condition. AS-norm (:class:`MemberWeightedNormaliser`) scores each clip against the cohort at that
clip's own weights, so a condition whose weights are all on one member scores as that member alone.

A fused model directory holds ``config.json`` with a ``fusion`` entry (members as sub-folders of the
directory, each a complete model, their default weights and optionally the ``conditions`` table),
and its own ``calibration.json`` and
``cohort.npy`` for the fused score. Every member must prepare audio the same way and produce
frames at the same rate, so that one prepared clip and one frame axis serve them all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from ..config import FeatureConfig, ModelConfig, PipelineConfig
from ..errors import SpeakerIDError
from ..i18n import _
from ..paths import CONFIG_FILE
from ..preprocess import Prepared
from ..scoring import Calibration, ScoreNormaliser, default_calibration, unit
from .base import FORMAT_VERSION, SpeakerModel, atomic_write_text, network_name, read_scoring
from .encoder import Encoder
from .quality import NARROWBAND_BELOW_DB, Condition, ConditionTable, high_band_db


class FusedEncoder(SpeakerModel):
    """Members' unit embeddings, each scaled by sqrt(weight), side by side (weights sum to 1):
    ``weights``, or the ``conditions`` table's for the clip's band and length."""

    def __init__(self, members: Sequence[SpeakerModel], weights: Sequence[float], names: Sequence[str],
                 calibration: Calibration | None = None, normaliser: ScoreNormaliser | None = None,
                 path: Path | None = None, conditions: ConditionTable | None = None) -> None:
        if len(members) < 2 or len(members) != len(weights) or len(names) != len(members):
            raise SpeakerIDError(_("a fusion needs two or more members, each with a weight and a name"))
        if min(weights) < 0 or not np.isclose(sum(weights), 1.0):
            raise SpeakerIDError(_("fusion weights must be non-negative and sum to 1, not {weights}").format(
                weights=list(weights)))
        first = members[0].pipeline
        for member in members[1:]:
            if (member.pipeline.preprocess != first.preprocess
                    or member.pipeline.features.hop_length != first.features.hop_length
                    or member.model_config.metric != "cosine"):
                raise SpeakerIDError(_("fused encoders must prepare audio alike, share a frame rate and "
                                       "compare by cosine"))
        self.members, self.weights, self.names = list(members), [float(w) for w in weights], list(names)
        self.pipeline = PipelineConfig(first.preprocess, first.features)
        self.model_config = ModelConfig(
            backbone="fusion", metric="cosine",
            embedding_dim=sum(m.model_config.embedding_dim for m in members))
        self.conditions = conditions
        self.calibration = calibration or default_calibration("cosine")
        self._dims = np.cumsum([0] + [m.model_config.embedding_dim for m in members])
        self.normaliser = normaliser
        self.path = path
        self._bands = np.cumsum([0] + [m.pipeline.features.n_mels for m in members])

    @property
    def normaliser(self) -> MemberWeightedNormaliser | None:
        return self._normaliser

    @normaliser.setter
    def normaliser(self, normaliser: ScoreNormaliser | None) -> None:
        """Any cohort of fused vectors, whatever weights it was made with, met at each clip's own."""
        self._normaliser = None if normaliser is None else MemberWeightedNormaliser(
            normaliser.cohort, self._dims, normaliser.top_k)

    @property
    def encoder_id(self) -> str:
        table = None if self.conditions is None else self.conditions.to_list()
        digest = hashlib.sha256(json.dumps([[m.encoder_id for m in self.members], self.weights]
                                           + ([table] if table else [])).encode())
        return f"fusion-{digest.hexdigest()[:16]}"

    def condition(self, features: np.ndarray) -> Condition:
        """The band and seconds of speech of a clip (or window) from its fused features, read off
        the first member's front end."""
        config = self.members[0].pipeline.features
        part = np.asarray(features)[..., self._bands[0]:self._bands[1]]
        seconds = part.shape[-2] * config.hop_length / self.pipeline.preprocess.sample_rate
        narrow = high_band_db(part, config, self.pipeline.preprocess.sample_rate) < NARROWBAND_BELOW_DB
        return Condition(narrow, seconds)

    def weights_for(self, features: np.ndarray) -> tuple[float, ...]:
        """The members' weights for a clip of these features (the fixed ones without a table)."""
        if self.conditions is None:
            return tuple(self.weights)
        return self.conditions.weights(self.condition(features))

    def features(self, prepared: Prepared) -> np.ndarray:
        """Every member's features of the clip side by side, (frames, sum of bands), cut to the
        frames they all have (front ends pad the edges differently, by a frame or two)."""
        parts = [member.features(prepared) for member in self.members]
        frames = min(part.shape[0] for part in parts)
        return np.concatenate([part[:frames] for part in parts], axis=1)

    def embed_features(self, features: np.ndarray) -> np.ndarray:
        return fuse([m.embed_features(part)[None] for m, part in self._parts(features, axis=1)],
                          np.array([self.weights_for(features)]))[0]

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """Each window weighted by its own condition (a timeline's windows differ in band)."""
        weights = np.array([self.weights_for(window) for window in windows])
        return fuse([m.embed_windows(part) for m, part in self._parts(windows, axis=2)], weights)

    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        """Each member's windows pooled as that member pools them, then fused at the windows' mean
        weights (each window's weights are its pieces' squared lengths)."""
        pieces = [vectors[:, low:high] for low, high in zip(self._dims, self._dims[1:])]
        weights = np.stack([(piece ** 2).sum(axis=1) for piece in pieces], axis=1).mean(axis=0)
        return fuse([m.pool_windows(piece)[None] for m, piece in zip(self.members, pieces)],
                          (weights / weights.sum())[None])[0]

    @property
    def feature_configs(self) -> list[FeatureConfig]:
        return [m.pipeline.features for m in self.members]

    @property
    def feature_readers(self) -> list[str]:
        if self.conditions is None:
            return [f"{network_name(m.model_config)} ({w:.0%} of the score)"
                    for m, w in zip(self.members, self.weights)]
        shares = np.array([row.weights for row in self.conditions.rows])
        template = (_("{network} ({low:.0%}-{high:.0%} of the score, by channel and length)")
                    if any(row.up_to_s for row in self.conditions.rows)
                    else _("{network} ({low:.0%}-{high:.0%} of the score, by channel)"))
        return [template.format(network=network_name(m.model_config), low=low, high=high)
                for m, low, high in zip(self.members, shares.min(axis=0), shares.max(axis=0))]

    def _parts(self, features: np.ndarray, axis: int):
        for member, low, high in zip(self.members, self._bands, self._bands[1:]):
            yield member, np.take(features, np.arange(low, high), axis=axis)

    # --- persistence --------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, meta: dict, pipeline: PipelineConfig,
             model_config: ModelConfig) -> FusedEncoder:
        """The members named in ``meta["fusion"]``, each one network in a sub-folder of ``path``
        (:meth:`Encoder.load <speakerid.models.encoder.Encoder.load>`); ``meta``, ``pipeline`` and
        ``model_config`` are the folder's config as :func:`speakerid.models.loader.load_model` read it."""
        try:
            entries = meta["fusion"]["members"]
            names = [_member_folder(entry["path"]) for entry in entries]
            weights = [float(entry["weight"]) for entry in entries]
            table = meta["fusion"].get("conditions")
            conditions = None if table is None else ConditionTable.from_list(table, len(names))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpeakerIDError(_("{config}: malformed fusion entry ({exc})").format(
                config=path / CONFIG_FILE, exc=exc)) from None
        members = [Encoder.load(path / name) for name in names]
        fused = cls(members, weights, names, path=path, conditions=conditions)
        if fused.model_config != model_config or fused.pipeline.preprocess != pipeline.preprocess:
            raise SpeakerIDError(_("{config} does not describe its members").format(
                config=path / CONFIG_FILE))
        fused.calibration, fused.normaliser = read_scoring(path, model_config)
        fused.calibration = fused.calibration or default_calibration("cosine")
        return fused

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write config.json and the fused score's calibration and cohort; the members must
        already be saved in sub-folders of ``path`` named as in ``names``."""
        path = Path(path)
        for name in self.names:
            if not (path / name / CONFIG_FILE).is_file():
                raise SpeakerIDError(_("save member {name!r} in {folder} first").format(
                    name=name, folder=path / name))
        fusion: dict = {"members": [{"path": n, "weight": w} for n, w in zip(self.names, self.weights)]}
        if self.conditions is not None:
            fusion["conditions"] = self.conditions.to_list()
        meta = {"format": FORMAT_VERSION, "pipeline": self.pipeline.to_dict(),
                "model": self.model_config.to_dict(), "fusion": fusion, **(extra or {})}
        atomic_write_text(path / CONFIG_FILE, json.dumps(meta, indent=2))
        self.save_scoring(path)
        self.path = path
        return path


def fuse(vectors: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Members' vectors (rows, dim) side by side, each unit row scaled by the square root of its
    weight in ``weights`` (rows or 1, members): what a fused encoder embeds."""
    return np.concatenate([np.sqrt(weights[:, [k]]) * unit(v) for k, v in enumerate(vectors)],
                          axis=-1).astype(np.float32)


def _member_folder(name: object) -> str:
    """A member's folder: one plain name inside the fused model's folder (no paths out of it)."""
    if not isinstance(name, str) or len(PurePosixPath(name).parts) != 1 or name in ("", ".", "..") \
            or "\\" in name:
        raise ValueError(f"member path must be a folder name inside the model, not {str(name)[:40]!r}")
    return name



class MemberWeightedNormaliser(ScoreNormaliser):
    """AS-norm for fused vectors whose members' weights differ from clip to clip.

    A clip meets each cohort voice at its own weights: its score against the cohort is the sum over
    members of ``w * member cosine``, whatever weights the cohort's vectors were saved with. A clip
    weighted wholly on one member is then normalised exactly as that member alone would be.
    """

    def __init__(self, cohort: np.ndarray, dims: np.ndarray, top_k: int = 100) -> None:
        super().__init__(cohort, "cosine", top_k)
        self._dims = dims
        self._units = np.concatenate([unit(piece) for piece in self._pieces(self.cohort)], axis=1)

    def _pieces(self, vectors: np.ndarray) -> list[np.ndarray]:
        return [vectors[:, low:high] for low, high in zip(self._dims, self._dims[1:])]

    def cohort_scores(self, embeddings: np.ndarray) -> np.ndarray:
        # a piece of length sqrt(w) times its length is w times its unit vector
        pieces = self._pieces(np.asarray(embeddings, dtype=np.float32))
        weighted = np.concatenate([p * np.linalg.norm(p, axis=1, keepdims=True) for p in pieces], axis=1)
        return weighted @ self._units.T
