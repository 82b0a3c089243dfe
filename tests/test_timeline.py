"""Windowed identification: time mapping, window merging, and a two-speaker clip end to end."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.audio import from_array
from speakerid.features import window_starts
from speakerid.gallery import Gallery
from speakerid.timeline import (
    TimeMap,
    WindowResult,
    build_segments,
    identify_timeline,
    smooth_labels,
)

RATE = 16000


@pytest.fixture(scope="module")
def seeded_encoder():
    """A small untrained encoder with fixed weights: it tells these synthetic voices apart."""
    import keras

    from speakerid import Encoder
    from speakerid.models.networks import ModelConfig

    keras.utils.set_random_seed(0)
    return Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))


def window(start: float, end: float, speaker: str | None, score: float = 0.8) -> WindowResult:
    return WindowResult(start, end, speaker, speaker or "somebody", score, 0.9 if speaker else 0.1)


def test_time_map_maps_speech_positions_back_to_the_original_clip():
    time_map = TimeMap([(1.0, 3.0), (5.0, 6.0)], offset_s=10.0)
    assert time_map.speech_s == pytest.approx(3.0)
    assert time_map.to_original(0.0) == pytest.approx(11.0)
    assert time_map.to_original(1.0) == pytest.approx(12.0)
    assert time_map.to_original(2.5) == pytest.approx(15.5)
    assert time_map.to_original(99.0) == pytest.approx(16.0)  # clamped to the end of the speech
    assert time_map.original_spans(1.0, 2.5) == [pytest.approx((12.0, 13.0)), pytest.approx((15.0, 15.5))]
    assert time_map.original_spans(0.0, 3.0) == [pytest.approx((11.0, 13.0)), pytest.approx((15.0, 16.0))]


def test_time_map_of_a_prepared_clip_lands_in_its_speech(seeded_encoder):
    speech = synth_voice(0, 4.0, RATE, pauses=False)
    signal = np.concatenate([np.zeros(2 * RATE, np.float32), speech, np.zeros(3 * RATE, np.float32),
                             speech])
    prepared = seeded_encoder.prepare(from_array(signal, RATE, "gap.wav"))
    time_map = TimeMap.from_prepared(prepared)
    assert time_map.speech_s == pytest.approx(prepared.speech_s, abs=0.01)
    spans = time_map.original_spans(0.0, time_map.speech_s)
    assert len(spans) == 2  # the silent gap is not part of the speech
    assert spans[0][0] == pytest.approx(2.0, abs=0.2) and spans[1][1] == pytest.approx(13.0, abs=0.2)
    assert spans[0][1] <= spans[1][0]


def test_window_starts_cover_the_whole_signal():
    assert window_starts(100, 300, 150) == [0]
    assert window_starts(1000, 300, 150) == [0, 150, 300, 450, 600, 700]
    starts = window_starts(1000, 300, 150)
    assert starts[-1] + 300 == 1000


def test_isolated_windows_are_smoothed_but_real_turns_are_kept():
    assert smooth_labels(["A", "B", "A"]) == ["A", "A", "A"]
    assert smooth_labels(["A", None, "A", "B", "B"]) == ["A", "A", "A", "B", "B"]
    assert smooth_labels(["A", "B", "B", "A"]) == ["A", "B", "B", "A"]


def test_consecutive_windows_of_one_speaker_become_one_segment():
    windows = [window(0.0, 3.0, "A"), window(1.5, 4.5, "A"), window(3.0, 6.0, "B", 0.6),
               window(4.5, 7.5, "B", 0.7), window(6.0, 9.0, None, 0.2)]
    segments = build_segments(windows, TimeMap([(0.0, 9.0)]), smooth=False)
    assert [s.speaker for s in segments] == ["A", "B", None]
    assert segments[0].start_s == 0.0 and segments[-1].end_s == pytest.approx(9.0)
    # boundaries in the middle of the overlaps
    assert segments[0].end_s == pytest.approx(3.75) and segments[1].start_s == pytest.approx(3.75)
    assert segments[1].score == pytest.approx(0.65) and segments[1].windows == 2
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(segments, segments[1:]))


def test_pauses_inside_a_turn_are_bridged_and_long_silences_split_it():
    windows = [window(0.0, 3.0, "A"), window(1.5, 4.5, "A")]
    short_pause = build_segments(windows, TimeMap([(0.0, 2.0), (3.0, 5.5)]), merge_gap_s=2.0)
    assert [(s.start_s, s.end_s) for s in short_pause] == [pytest.approx((0.0, 5.5))]
    long_pause = build_segments(windows, TimeMap([(0.0, 2.0), (10.0, 12.5)]), merge_gap_s=2.0)
    assert [(s.start_s, s.end_s) for s in long_pause] == [pytest.approx((0.0, 2.0)),
                                                          pytest.approx((10.0, 12.5))]
    assert {s.speaker for s in long_pause} == {"A"}


def test_two_speaker_clip_gives_two_turns_in_order(tmp_path, seeded_encoder):
    first = synth_voice(0, 12.0, RATE, seed=5, pauses=False)
    second = synth_voice(1, 12.0, RATE, seed=5, pauses=False)
    gap = np.zeros(RATE, np.float32)
    with Gallery(tmp_path / "g.sqlite", seeded_encoder) as gallery:
        gallery.enroll("Alice", from_array(first, RATE, "alice.wav"))
        gallery.enroll("Bob", from_array(second, RATE, "bob.wav"))
        clip = from_array(np.concatenate([gap, first, gap, second]), RATE, "debate.wav")
        prepared = seeded_encoder.prepare(clip)
        calls = []
        timeline = identify_timeline(prepared, seeded_encoder, gallery,
                                     progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] == len(timeline.windows)
    assert timeline.duration_s == pytest.approx(clip.duration_s)
    assert [s.speaker for s in timeline.segments] == ["Alice", "Bob"]
    alice, bob = timeline.segments
    assert alice.start_s == pytest.approx(1.0, abs=0.5)
    assert bob.start_s == pytest.approx(14.0, abs=1.6)
    assert bob.end_s == pytest.approx(26.0, abs=0.5)
    assert alice.end_s <= bob.start_s
    totals = timeline.speaking_time()
    assert set(totals) == {"Alice", "Bob"} and sum(totals.values()) <= clip.duration_s
    assert timeline.to_dict()["segments"][0]["speaker"] == "Alice"


def test_an_empty_gallery_gives_unknown_segments(tmp_path, seeded_encoder):
    clip = from_array(synth_voice(2, 8.0, RATE, pauses=False), RATE, "x.wav")
    with Gallery(tmp_path / "g.sqlite", seeded_encoder) as gallery:
        timeline = identify_timeline(seeded_encoder.prepare(clip), seeded_encoder, gallery)
    assert timeline.segments and all(s.speaker is None for s in timeline.segments)
    assert all(w.best is None for w in timeline.windows)


def test_bad_window_settings_are_refused(tmp_path, seeded_encoder):
    clip = from_array(synth_voice(2, 3.0, RATE), RATE, "x.wav")
    with Gallery(tmp_path / "g.sqlite", seeded_encoder) as gallery, pytest.raises(SpeakerIDError):
        identify_timeline(seeded_encoder.prepare(clip), seeded_encoder, gallery, hop_s=0)
