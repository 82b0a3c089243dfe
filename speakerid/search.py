"""Top-k search among enrolled speakers' centroids: exact for ordinary galleries, HNSW for huge ones.

Exact search is one matrix-vector product: for 20 000 speakers of 192 floats it reads 15 MB and
takes about a millisecond, and it is never wrong. Its cost grows with the gallery, though, and at a
million speakers every query reads 768 MB. Above ``exact_below`` speakers a FAISS HNSW graph
answers instead, in time that barely grows with the gallery, at the price of an occasional miss
(recall against exact search is measured in ``benchmarks/ann_benchmark.py``). Both answer with the
same :class:`Neighbours`, scored as :func:`scoring.score_matrix` scores, so a caller cannot tell
which one ran except by :attr:`SpeakerIndex.approximate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .runtime import single_threaded_blas
from .scoring import unit

METRICS = ("cosine", "euclidean")
EXACT_BELOW = 20_000
# HNSW settings chosen with benchmarks/ann_benchmark.py on clustered 192-d vectors (100 000 of
# them: recall@1 0.97 with efConstruction 80 and efSearch 32, 1.000 with these). Voices come in
# tight clusters, and a graph built carelessly links clusters poorly, which no search width repairs:
# a careful build costs build time once, a wide search costs a fraction of a millisecond a query.
HNSW_NEIGHBOURS = 32  # M: links per node (memory: about 2 * M * 4 bytes per speaker on top of the vectors)
HNSW_EF_CONSTRUCTION = 200  # candidates considered while linking a new node
HNSW_EF_SEARCH = 128  # candidates kept while searching (raised to k when k is larger)


@dataclass(frozen=True)
class Neighbours:
    """The best ``k`` indexed rows for each query, best first.

    ``indices`` and ``scores`` are (queries, k) with k = min(asked, size of the index); scores are
    cosine similarities, or minus the Euclidean distance, as in :func:`scoring.score_matrix`.
    """

    indices: np.ndarray  # int64 rows of the indexed matrix
    scores: np.ndarray  # float32


class SpeakerIndex:
    """Answers top-k queries over a fixed matrix of speaker centroids for one metric.

    Exact below ``exact_below`` rows, FAISS HNSW from there on (FAISS is imported only then).
    The index never changes after construction: a gallery that changes builds a new one, and
    any number of threads may search one at the same time.
    """

    def __init__(self, vectors: np.ndarray, metric: str, exact_below: int = EXACT_BELOW,
                 ef_search: int = HNSW_EF_SEARCH) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"expected a (speakers, dim) matrix, not shape {vectors.shape}")
        self.metric = metric
        self.dim = vectors.shape[1]
        self._size = len(vectors)
        self.approximate = self._size >= exact_below
        self._backend = _Hnsw(vectors, metric, ef_search) if self.approximate else _Exact(vectors, metric)

    def __len__(self) -> int:
        return self._size

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        """The ``k`` best rows for each query: ``queries`` is one vector (d,) or a batch (n, d)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        queries = self._check_queries(queries)
        k = min(k, self._size)
        if k == 0:
            return Neighbours(np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32))
        return self._backend.search(queries, k)

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        """A C-contiguous float32 (n, dim) batch; NaN or infinity is refused because HNSW would
        walk its graph on meaningless comparisons and answer with arbitrary rows."""
        queries = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries of shape {queries.shape} cannot be compared with "
                             f"{self.dim}-dimensional vectors")
        if not np.isfinite(queries).all():
            raise ValueError("queries must be finite (no NaN or infinity)")
        return queries


class _Exact:
    """:func:`scoring.score_matrix` with the gallery side (unit vectors or squared norms) computed
    once rather than per query; the same operations, so the same float32 scores bit for bit."""

    def __init__(self, vectors: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.vectors = unit(vectors) if metric == "cosine" else vectors
        self.squared_norms = (vectors ** 2).sum(1) if metric == "euclidean" else None

    def scores(self, queries: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return unit(queries) @ self.vectors.T
        squared = (queries ** 2).sum(1)[:, None] + self.squared_norms[None, :] - 2 * queries @ self.vectors.T
        return -np.sqrt(np.maximum(squared, 0.0))

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        """Partial sort: O(size) per query rather than a full sort; ties keep row order."""
        scores = self.scores(queries)
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        return Neighbours(best.astype(np.int64), np.take_along_axis(scores, best, axis=1))


class _Hnsw:
    """FAISS ``IndexHNSWFlat``: inner product on unit vectors for cosine, L2 for Euclidean."""

    def __init__(self, vectors: np.ndarray, metric: str, ef_search: int) -> None:
        import faiss

        single_threaded_blas()  # FAISS's own OpenBLAS, as the encoder limits NumPy's
        self.metric = metric
        self.ef_search = ef_search
        faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
        self.index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss_metric)
        self.index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        self.index.add(self._prepare(vectors))
        self.storage = faiss.downcast_index(self.index.storage)  # the same vectors, searched exactly

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        """Per-call search parameters (not ``hnsw.efSearch``), so concurrent searches with
        different k do not change each other's setting."""
        import faiss

        queries = self._prepare(queries)
        parameters = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        distances, indices = self.index.search(queries, k, params=parameters)
        short = (indices < 0).any(axis=1)
        if short.any():  # the graph walk found fewer than k rows: answer those queries exactly
            distances[short], indices[short] = self.storage.search(queries[short], k)
        return Neighbours(indices.astype(np.int64), self._scores(distances))

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        prepared = unit(vectors) if self.metric == "cosine" else vectors
        return np.ascontiguousarray(prepared, dtype=np.float32)

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        """FAISS gives inner products (cosine here) or squared L2 distances."""
        if self.metric == "cosine":
            return distances.astype(np.float32)
        return (-np.sqrt(np.maximum(distances, 0.0))).astype(np.float32)
