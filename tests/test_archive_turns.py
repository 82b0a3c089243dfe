"""A recording's turns and their embeddings (speakerid.archive.indexer.turns_of), on made-up
embeddings: a turn's speech that was embedded already, as stretches or windows, is not run through
the model again."""

from types import SimpleNamespace

import numpy as np

from speakerid.archive.indexer import SpeechEmbedder, turns_of
from speakerid.config import PipelineConfig
from speakerid.results import Segment, Timeline, WindowResult
from speakerid.scoring import unit
from speakerid.timeline import TimeMap

A, B = np.eye(4)[0], np.eye(4)[1]
RATE = 100  # frames a second (the default pipeline's)
# speech 0-4 s is voice A, then a pause (4-4.5 s), then voice B (4.5-8 s): 7.5 s of speech
TIME_MAP = TimeMap([(0.0, 4.0), (4.5, 8.0)])


def own_audio(first: int, count: int) -> np.ndarray:
    """What embedding frames ``first`` to ``first + count`` give: each voice in the share it holds."""
    a_share = max(0, min(first + count, 4 * RATE) - first)
    return unit(a_share * A + (count - a_share) * B)


class Model:
    """What turns_of and SpeechEmbedder ask of a model; the frames it embeds, counted."""

    pipeline = PipelineConfig()
    model_config = SimpleNamespace(metric="cosine")

    def __init__(self) -> None:
        self.embedded: list[tuple[int, int]] = []

    def embed_features(self, features: np.ndarray) -> np.ndarray:
        first, count = int(features[0, 0]), len(features)
        self.embedded.append((first, count))
        return own_audio(first, count)

    def pool_windows(self, vectors: np.ndarray) -> np.ndarray:
        return unit(unit(vectors).mean(axis=0)).astype(np.float32)

    def cohort_statistics(self, vectors: np.ndarray) -> None:
        return None


def embedder(model: Model) -> SpeechEmbedder:
    recording = SimpleNamespace(features=lambda first, count: np.arange(first, first + count)[:, None])
    return SpeechEmbedder(recording, model)  # type: ignore[arg-type]


def timeline(starts: tuple[float, ...] = (0.0, 1.5, 3.0, 4.5)) -> Timeline:
    """3 s windows at ``starts`` (speech time): the last of the default ones lies wholly in B's turn."""
    windows = [WindowResult(s, s + 3.0, None, None, float("nan"), 0.0) for s in starts]
    embeddings = np.stack([own_audio(int(w.start_s * RATE), 3 * RATE) for w in windows]).astype(np.float32)
    segments = [Segment(0.0, 4.0, None, 1.0, 0.9, 2, "Voice A"),
                Segment(4.5, 8.0, None, 1.0, 0.9, 2, "Voice B")]
    return Timeline(segments, windows, 0.0, 8.0, 7.5, embeddings, TIME_MAP)


def test_a_turn_covered_by_embedded_stretches_and_windows_is_their_mean():
    model = Model()
    embed = embedder(model)
    embed(0.0, 1.0), embed(3.0, 4.0)  # stretches embedded to re-decide the turn changes
    model.embedded.clear()
    turns, voices = turns_of(timeline(), model, embed)  # type: ignore[arg-type]
    # voice A's turn: its two stretches and the window 0-3 s cover it; voice B's (4-7.5 s of
    # speech): the window 4.5-7.5 s covers 3 s of its 3.5 s
    assert model.embedded == []
    np.testing.assert_allclose(turns[0].embedding, A, atol=1e-6)
    np.testing.assert_allclose(turns[1].embedding, B, atol=1e-6)
    assert [t.voice for t in turns] == [0, 1] and [v.speech_s for v in voices] == [4.0, 3.5]


def test_a_turn_that_is_one_stretch_reuses_its_embedding():
    model = Model()
    embed = embedder(model)
    embed(0.0, 4.0)
    embed(4.0, 7.5)
    model.embedded.clear()
    turns, _ = turns_of(timeline(), model, embed)  # type: ignore[arg-type]
    assert model.embedded == []
    np.testing.assert_allclose(turns[1].embedding, B, atol=1e-6)


def test_a_turn_too_little_of_which_was_embedded_is_embedded_from_its_own_speech():
    model = Model()
    embed = embedder(model)
    embed(4.0, 4.5)  # half a second of B's 3.5 s, and no window lies wholly in B's turn
    model.embedded.clear()
    turns, _ = turns_of(timeline((0.0, 1.5, 3.0)), model, embed)  # type: ignore[arg-type]
    assert model.embedded == [(0, 400), (400, 350)]  # A's turn: no stretch, the window 0-3 s (3 of 4 s)
    np.testing.assert_allclose(turns[1].embedding, B, atol=1e-6)
