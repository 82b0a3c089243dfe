"""Speaker search: exact and HNSW answer alike; exact is what the gallery always computed.

HNSW is forced on a few thousand vectors by lowering ``exact_below``: the same code path as a
gallery of a million speakers, in well under a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from speakerid.scoring import score_matrix, unit
from speakerid.search import SpeakerIndex

DIM = 64
METRICS = ["cosine", "euclidean"]


def clustered(count: int, seed: int = 0, clusters: int = 20) -> np.ndarray:
    """Unit vectors in tight groups, like voices that resemble each other (accent, channel)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((clusters, DIM)))
    offsets = rng.standard_normal((count, DIM)) * 0.6 / np.sqrt(DIM)
    return unit(centres[rng.integers(0, clusters, count)] + offsets).astype(np.float32)


def near(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """New clips of the first ``count`` speakers: their vectors moved a little."""
    rng = np.random.default_rng(seed)
    return unit(vectors[:count] + rng.standard_normal((count, DIM)) * 0.2 / np.sqrt(DIM))


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(3000)


@pytest.mark.parametrize("metric", METRICS)
def test_hnsw_agrees_with_exact_on_the_best_match(vectors, metric):
    exact, hnsw = SpeakerIndex(vectors, metric), SpeakerIndex(vectors, metric, exact_below=1000)
    assert (exact.approximate, hnsw.approximate) == (False, True)
    queries = near(vectors, 500)
    truth, found = exact.search(queries, 5), hnsw.search(queries, 5)
    assert found.indices.shape == found.scores.shape == (500, 5)
    assert np.mean(found.indices[:, 0] == truth.indices[:, 0]) >= 0.99  # approximate, yet rarely wrong
    assert (truth.indices[:, 0] == np.arange(500)).all()  # the queries are unambiguous
    same = found.indices == truth.indices
    assert np.allclose(found.scores[same], truth.scores[same], atol=1e-5)  # the same score convention
    assert (np.diff(found.scores, axis=1) <= 1e-6).all()  # best first


@pytest.mark.parametrize("metric", METRICS)
def test_exact_scores_are_the_gallery_scores_bit_for_bit(vectors, metric):
    raw = vectors * np.linspace(0.5, 2.0, len(vectors), dtype=np.float32)[:, None]  # not unit length
    query = near(vectors, 1)[0] * 3
    found = SpeakerIndex(raw, metric).search(query, 10)
    scores = score_matrix(query[None], raw, metric)[0]
    assert found.indices[0].tolist() == np.argsort(-scores, kind="stable")[:10].tolist()
    assert np.array_equal(found.scores[0], scores[found.indices[0]])


@pytest.mark.parametrize("exact_below", [20_000, 10])
@pytest.mark.parametrize("metric", METRICS)
def test_k_larger_than_the_index_returns_every_row(metric, exact_below):
    vectors = clustered(40, clusters=4)
    found = SpeakerIndex(vectors, metric, exact_below=exact_below).search(vectors[:3], 100)
    assert found.indices.shape == (3, 40)
    assert all(sorted(row) == list(range(40)) for row in found.indices.tolist())
    assert found.indices[:, 0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("metric", METRICS)
def test_empty_index_answers_nothing(metric):
    index = SpeakerIndex(np.zeros((0, DIM), np.float32), metric)
    found = index.search(np.ones(DIM, np.float32), 5)
    assert len(index) == 0 and found.indices.shape == found.scores.shape == (1, 0)


def test_bad_arguments_are_refused(vectors):
    index = SpeakerIndex(vectors[:10], "cosine")
    with pytest.raises(ValueError, match="k must be"):
        index.search(vectors[0], 0)
    with pytest.raises(ValueError, match="dimensional"):
        index.search(np.ones(DIM + 1, np.float32), 1)
    with pytest.raises(ValueError, match="finite"):
        index.search(np.full(DIM, np.nan, np.float32), 1)
    with pytest.raises(ValueError, match="metric"):
        SpeakerIndex(vectors, "manhattan")
    with pytest.raises(ValueError, match="matrix"):
        SpeakerIndex(vectors[0], "cosine")


def test_gallery_ranks_alike_with_either_search(tmp_path, untrained_encoder, monkeypatch):
    from functools import partial

    from synthetic import synth_voice

    from speakerid import gallery as gallery_module
    from speakerid.audio import from_array
    from speakerid.gallery import ranking

    path = tmp_path / "gallery.sqlite"
    with gallery_module.Gallery(path, untrained_encoder) as gallery:
        for speaker in range(4):
            gallery.enroll(f"speaker {speaker}", from_array(synth_voice(speaker, 8.0, 16000), 16000))
        probe = untrained_encoder.embed(synth_voice(2, 6.0, 16000, seed=1), 16000)
        exact = gallery.identify_embedding(probe, top_k=10)
    monkeypatch.setattr(ranking, "SpeakerIndex", partial(SpeakerIndex, exact_below=1))
    with gallery_module.Gallery(path, untrained_encoder) as gallery:
        approximate = gallery.identify_embedding(probe, top_k=10)
        assert gallery._current_centroids().index.approximate
    assert [m.name for m in approximate.matches] == [m.name for m in exact.matches]
    assert [m.score for m in approximate.matches] == pytest.approx([m.score for m in exact.matches], abs=1e-5)


def test_an_hnsw_index_keeps_faiss_blas_on_one_thread(vectors):
    """FAISS loads its own OpenBLAS (a thread per core) after the encoder limited NumPy's: the
    index limits it too, so no BLAS threads spin on the cores the network uses."""
    from threadpoolctl import threadpool_info

    SpeakerIndex(vectors, "cosine", exact_below=1000)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas), blas
