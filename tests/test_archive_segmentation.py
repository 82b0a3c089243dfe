"""Turn changes re-decided from each stretch's own audio (speakerid.archive.segmentation), on made-up
embeddings: two voices whose embeddings are orthogonal, a change the windows put too early, and two
people the windows joined into one voice."""

import numpy as np

from speakerid.archive.segmentation import recut_turns
from speakerid.results import Segment, Timeline, WindowResult
from speakerid.scoring import unit
from speakerid.timeline import TimeMap

A, B = np.eye(4)[0], np.eye(4)[1]
# speech 0-4 s is voice A, then a pause (4-4.5 s), then voice B (4.5-8 s): 7.5 s of speech
TIME_MAP = TimeMap([(0.0, 4.0), (4.5, 8.0)])


def no_ratio(score: float, seconds: float) -> None:
    """A calibration that does not know its likelihood ratios: nothing is split."""


def log_lr(score: float, seconds: float) -> float:
    """A made-up calibration: cosine 0.5 is even odds, 0 a hundred to one for two people."""
    return 4.0 * (score - 0.5)


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
    result = recut_turns(timeline(3.0), own_audio, lambda a, b: a @ b.T, no_ratio)
    assert spans(result) == [(0.0, 4.0, "Voice A"), (4.5, 8.0, "Voice B")]


def test_a_stretch_like_neither_voice_stays_where_the_voice_finding_put_it():
    def unlike_both(start_s: float, end_s: float) -> np.ndarray:
        return np.eye(4)[2] if (start_s, end_s) == (3.0, 4.0) else own_audio(start_s, end_s)

    result = recut_turns(timeline(3.0), unlike_both, lambda a, b: a @ b.T - 0.5, no_ratio)
    assert spans(result) == [(0.0, 3.0, "Voice A"), (3.0, 8.0, "Voice B")]  # the short pause bridged
    # the same stretch, sounding like voice A, moves even with that offset on the scores
    moved = recut_turns(timeline(3.0), own_audio, lambda a, b: a @ b.T - 0.5, no_ratio)
    assert spans(moved) == [(0.0, 4.0, "Voice A"), (4.5, 8.0, "Voice B")]


def test_one_voice_is_left_as_it_is():
    single = timeline(3.0)
    single = Timeline([Segment(0.0, 8.0, None, 1.0, 0.9, 4, "Voice A")], single.windows, 0.0, 8.0, 7.5,
                      single.embeddings, TIME_MAP)
    assert recut_turns(single, own_audio, lambda a, b: a @ b.T, no_ratio) is single


def three_people(first_s: float) -> Timeline:
    """Speech time 0-3.5 s is person A, 3.5-7 s person B (a pause between them), 7-11 s person C;
    the windows joined A and B into Voice A, C is Voice B."""
    time_map = TimeMap([(0.0, 3.5), (4.0, 7.5), (8.0, 12.0)])
    people = (A, B, np.eye(4)[2])

    def audio(start_s: float, end_s: float) -> np.ndarray:
        spans = ((0.0, first_s), (first_s, 7.0), (7.0, 11.0))
        shares = [max(0.0, min(end_s, b) - max(start_s, a)) for a, b in spans]
        return unit(sum(share * person for share, person in zip(shares, people)))

    windows = [WindowResult(s, s + 3.0, None, None, float("nan"), 0.0) for s in np.arange(6) * 1.5]
    embeddings = np.stack([audio(w.start_s, w.end_s) for w in windows]).astype(np.float32)
    segments = [Segment(0.0, 7.5, None, 1.0, 0.9, 4, "Voice A"),
                Segment(8.0, 12.0, None, 1.0, 0.9, 2, "Voice B")]
    return Timeline(segments, windows, 0.0, 12.0, 11.0, embeddings, time_map), audio


def test_two_people_joined_into_one_voice_are_split_at_the_pause_between_them():
    joined, audio = three_people(3.5)
    result = recut_turns(joined, audio, lambda a, b: a @ b.T, log_lr)
    assert spans(result) == [(0.0, 3.5, "Voice A"), (4.0, 7.5, "Voice C"), (8.0, 12.0, "Voice B")]
    assert np.isnan(result.segments[1].probability)  # one piece: how surely it is one voice is not known
    # without likelihood ratios, or when both sides are one person, the run stays whole
    assert spans(recut_turns(joined, audio, lambda a, b: a @ b.T, no_ratio))[0] == (0.0, 7.5, "Voice A")
    one_person, audio = three_people(7.0)
    assert spans(recut_turns(one_person, audio, lambda a, b: a @ b.T, log_lr))[0] == (0.0, 7.5, "Voice A")


def test_the_part_of_a_split_run_unlike_its_voice_elsewhere_becomes_the_new_voice():
    """Person B (0-3.5 s) then person A (3.5-7 s) joined as Voice A, C as Voice B, and A again at
    the end as Voice A: B's part, not the later one, is the new voice."""
    time_map = TimeMap([(0.0, 3.5), (4.0, 7.5), (8.0, 12.0), (12.5, 16.0)])
    people = ((0.0, 3.5, B), (3.5, 7.0, A), (7.0, 11.0, np.eye(4)[2]), (11.0, 14.5, A))

    def audio(start_s: float, end_s: float) -> np.ndarray:
        return unit(sum(max(0.0, min(end_s, b) - max(start_s, a)) * person for a, b, person in people))

    windows = [WindowResult(s, s + 3.0, None, None, float("nan"), 0.0) for s in np.arange(8) * 1.5]
    embeddings = np.stack([audio(w.start_s, w.end_s) for w in windows]).astype(np.float32)
    segments = [Segment(0.0, 7.5, None, 1.0, 0.9, 4, "Voice A"),
                Segment(8.0, 12.0, None, 1.0, 0.9, 2, "Voice B"),
                Segment(12.5, 16.0, None, 1.0, 0.9, 2, "Voice A")]
    joined = Timeline(segments, windows, 0.0, 16.0, 14.5, embeddings, time_map)
    result = recut_turns(joined, audio, lambda a, b: a @ b.T, log_lr)
    assert spans(result) == [(0.0, 3.5, "Voice C"), (4.0, 7.5, "Voice A"), (8.0, 12.0, "Voice B"),
                             (12.5, 16.0, "Voice A")]
