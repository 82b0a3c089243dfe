"""Everything about a model's scores that needs no network: its calibration, its AS-norm cohort and
the comparison of embeddings, read from a model directory without importing TensorFlow.

:class:`~speakerid.models.encoder.SpeakerModel` builds on :class:`ModelScoring`; a process that
only compares stored embeddings (``archive find``, see :mod:`speakerid.archive`) uses
:class:`ScoringModel`, which answers in a fraction of a second because no network is built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ModelConfig, PipelineConfig, read_config
from ..errors import SpeakerIDError
from ..i18n import _
from ..runtime import single_threaded_blas
from ..scoring import Calibration, ScoreNormaliser, default_calibration, score_matrix

CALIBRATION_FILE = "calibration.json"
COHORT_FILE = "cohort.npy"


class ModelScoring:
    """Comparison of embeddings: scores, AS-norm, calibrated threshold and probability."""

    pipeline: PipelineConfig
    model_config: ModelConfig
    calibration: Calibration
    normaliser: ScoreNormaliser | None
    path: Path | None

    @property
    def threshold(self) -> float:
        """Scores (see :meth:`similarity`) at or above this mean "same speaker" (full-length clips;
        ``calibration.for_duration`` gives the threshold for shorter ones)."""
        return self.calibration.threshold

    @property
    def metric(self) -> str:
        return self.model_config.metric

    def score_matrix(self, a: np.ndarray, b: np.ndarray,
                     b_statistics: tuple[np.ndarray, np.ndarray] | None = None,
                     a_statistics: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Scores between rows of ``a`` and ``b``: AS-normalised when the model ships a cohort.

        A gallery passes its enrolled speakers' cohort statistics (:meth:`cohort_statistics`,
        computed once) as ``b_statistics``, so a query costs one product with the cohort; an
        archive passes its stored turns' as ``a_statistics`` too, so a search costs none.
        """
        raw = score_matrix(a, b, self.metric)
        if self.normaliser is None:
            return raw
        return self.normaliser.normalise(raw, a, b, b_statistics, a_statistics)

    def cohort_statistics(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """What :meth:`score_matrix` needs about enrolled embeddings; None without a cohort."""
        return self.normaliser.statistics(embeddings) if self.normaliser is not None else None

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """The score of two embeddings of this model.

        Args:
            a, b: embeddings from the model's ``embed`` or ``embed_file``.

        Returns:
            Higher means more likely the same speaker; at or above :attr:`threshold` means "same"
            (AS-normalised when the model ships a cohort, as its threshold expects).
        """
        return float(self.score_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])

    def probability_same(self, similarity: float) -> float:
        """Calibrated probability that a score came from one speaker (full-length clips)."""
        return self.calibration.probability(similarity)


class ScoringModel(ModelScoring):
    """A model directory's scoring alone, for embeddings it made earlier: ``encoder_id`` is given
    by whoever knows it (it fingerprints the weights, which only the network can read)."""

    def __init__(self, path: str | Path, encoder_id: str) -> None:
        # as the full encoder does: a search's products are blocks of stored turns against the
        # gallery, too small to pay for BLAS threads (their spinning cost an archive's relabelling
        # of 10 000 h 1.7 s of CPU on two busy cores: benchmarks/archive_benchmark.py size)
        single_threaded_blas()
        self.path = Path(path)
        _, self.pipeline, self.model_config = read_config(self.path)
        calibration, self.normaliser = read_scoring(self.path, self.model_config)
        self.calibration = calibration or default_calibration(self.model_config.metric)
        self._encoder_id = encoder_id

    @property
    def encoder_id(self) -> str:
        return self._encoder_id


def read_scoring(path: Path, model_config: ModelConfig) -> tuple[Calibration | None, ScoreNormaliser | None]:
    """A model directory's calibration (None when it has none) and AS-norm cohort (None likewise)."""
    calibration_path = path / CALIBRATION_FILE
    try:
        calibration = Calibration.load(calibration_path) if calibration_path.is_file() else None
    except (ValueError, TypeError, RecursionError) as exc:
        raise SpeakerIDError(_("{calibration_path} is not a speakerid calibration: {exc}").format(
            calibration_path=calibration_path, exc=exc)) from exc
    return calibration, _load_cohort(path / COHORT_FILE, model_config)


def _load_cohort(path: Path, model_config: ModelConfig) -> ScoreNormaliser | None:
    if not path.is_file():
        return None
    try:
        cohort = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise SpeakerIDError(_("{path} is not a plain array of cohort embeddings: {exc}").format(
            path=path, exc=exc)) from exc
    if (cohort.ndim != 2 or not np.issubdtype(cohort.dtype, np.floating) or len(cohort) < 2
            or cohort.shape[1] != model_config.embedding_dim):
        raise SpeakerIDError(_("{path}: expected a (count, {embedding_dim}) float array "
                               "of cohort embeddings").format(
                                   path=path, embedding_dim=model_config.embedding_dim))
    return ScoreNormaliser(cohort, model_config.metric)
