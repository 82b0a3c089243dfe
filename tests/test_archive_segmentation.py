"""Turn changes re-decided from each stretch's own audio (speakerid.archive.segmentation), on made-up
embeddings: two voices whose embeddings are orthogonal, and a change the windows put too early."""

import numpy as np

from speakerid.archive.segmentation import recut_turns
from speakerid.results import Segment, Timeline, WindowResult
from speakerid.scoring import unit
from speakerid.timeline import TimeMap

A, B = np.eye(4)[0], np.eye(4)[1]
# speech 0-4 s is voice A, then a pause (4-4.5 s), then voice B (4.5-8 s): 7.5 s of speech
TIME_MAP = TimeMap([(0.0, 4.0), (4.5, 8.0)])


def own_audio(start_s: float, end_s: float) -> np.ndarray:
    """What embedding a stretch of speech time gives: each voice in the share it holds."""
    a_share = max(0.0, min(end_s, 4.0) - start_s)
    return unit(a_share * A + (end_s - start_s - a_share) * B)


def timeline(cut_s: float) -> Timeline:
    windows = [WindowResult(s, s + 3.0, None, None, float("nan"), 0.0) for s in (0.0, 1.5, 3.0, 4.5)]
    embeddings = np.stack([own_audio(w.start_s, w.end_s) for w in windows]).astype(np.float32)
    segments = [Segment(0.0, cut_s, None, 1.0, 0.9, 2, "Voice A"),
                Segment(cut_s, 8.0, None, 1.0, 0.9, 2, "Voice B")]
    return Timeline(segments, windows, 0.0, 8.0, 7.5, embeddings, TIME_MAP)


def spans(result: Timeline) -> list[tuple[float, float, str | None]]:
    return [(round(s.start_s, 2), round(s.end_s, 2), s.voice) for s in result.segments]


def test_a_change_inside_a_turn_moves_onto_the_pause():
    result = recut_turns(timeline(3.0), own_audio, lambda a, b: a @ b.T)
    assert spans(result) == [(0.0, 4.0, "Voice A"), (4.5, 8.0, "Voice B")]


def test_a_stretch_like_neither_voice_stays_where_the_voice_finding_put_it():
    def unlike_both(start_s: float, end_s: float) -> np.ndarray:
        return np.eye(4)[2] if (start_s, end_s) == (3.0, 4.0) else own_audio(start_s, end_s)

    result = recut_turns(timeline(3.0), unlike_both, lambda a, b: a @ b.T - 0.5)
    assert spans(result) == [(0.0, 3.0, "Voice A"), (3.0, 8.0, "Voice B")]  # the short pause bridged
    # the same stretch, sounding like voice A, moves even with that offset on the scores
    moved = recut_turns(timeline(3.0), own_audio, lambda a, b: a @ b.T - 0.5)
    assert spans(moved) == [(0.0, 4.0, "Voice A"), (4.5, 8.0, "Voice B")]


def test_one_voice_is_left_as_it_is():
    single = timeline(3.0)
    single = Timeline([Segment(0.0, 8.0, None, 1.0, 0.9, 4, "Voice A")], single.windows, 0.0, 8.0, 7.5,
                      single.embeddings, TIME_MAP)
    assert recut_turns(single, own_audio, lambda a, b: a @ b.T) is single
