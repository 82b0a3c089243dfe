"""The archive with the local engine: add, find, voices, name, who, relabelling and re-adding.

Two recordings of espeak-ng voices taking turns (tests/conversations.py), indexed with the shipped
fast model (``weights/fast``): three voices speak in both, one in the first only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conversations import (  # noqa: F401 (fixtures)
    archive_fixture,
    fast_encoder_fixture,
    recordings_fixture,
    write_enrolment,
)

from speakerid.archive import parse_voice
from speakerid.archive.labels import label_turns
from speakerid.archive.turn_cache import load_turns
from speakerid.archive.turn_scores import TurnScores
from speakerid.errors import SpeakerIDError
from speakerid.scoring import unit


def spans(hits) -> set[tuple[str, int]]:
    """(recording's file name, start rounded to the second) of each hit or turn."""
    return {(Path(h.recording).name, round(h.start_s)) for h in hits}


def test_a_person_enrolled_after_indexing_is_found_in_every_recording(archive, tmp_path):
    archive.gallery.enroll("Bob", write_enrolment(tmp_path / "bob.wav", 1))  # en+m3
    hits = archive.find("Bob")
    assert {Path(h.recording).name for h in hits} == {"first.wav", "second.wav"}
    assert len(hits) >= 4 and all(h.speaker == "Bob" and h.probability > 0.5 for h in hits)
    assert [h.probability for h in hits] == sorted((h.probability for h in hits), reverse=True)
    assert hits[0].to_dict().keys() == {"recording", "title", "start_s", "end_s", "speaker", "probability"}
    assert archive.find("Bob", min_probability=1.0) == []
    who = archive.who(str(archive.recordings()[0].source))
    assert {(t.start_s, t.end_s) for t in who if t.speaker == "Bob"} >= {
        (h.start_s, h.end_s) for h in hits if h.recording == archive.recordings()[0].source}


def test_voices_are_linked_across_recordings_and_a_named_voice_is_found_everywhere(archive):
    voices = archive.voices()
    shared = [v for v in voices if len(v.recordings) == 2]
    assert shared, f"no voice linked across the two recordings: {[v.to_dict() for v in voices]}"
    voice = shared[0]
    assert voice.voice.startswith("Voice ") and voice.seconds > 4
    assert voice.to_dict().keys() == {"voice", "recordings", "seconds", "turns"}
    info = archive.name_voice(voice.voice, "Carol")
    assert info.name == "Carol" and info.clips >= 2
    hits = archive.find("Carol")
    assert {Path(h.recording).name for h in hits} == {"first.wav", "second.wav"}
    assert spans(hits) >= spans(voice.turns)
    assert voice.voice not in {v.voice for v in archive.voices()}


def test_the_gallery_relabels_the_archive_without_re_adding(archive, tmp_path):
    archive.gallery.enroll("Bob", write_enrolment(tmp_path / "bob.wav", 1))
    before = spans(archive.find("Bob"))
    archive.gallery.rename("Bob", "Robert")
    assert spans(archive.find("Robert")) == before
    archive.gallery.add_alias("Robert", "बब")  # found by an alias in another script, named by name
    assert [(h.speaker, h.start_s) for h in archive.find("  बब ")] == [
        (h.speaker, h.start_s) for h in archive.find("robert")]
    with pytest.raises(SpeakerIDError, match="not enrolled"):
        archive.find("Bob")
    archive.gallery.remove("Robert")
    assert all(t.speaker is None for t in archive.who(archive.recordings()[1].source))
    assert archive.summary().named_share == 0.0


def test_adding_known_recordings_again_does_no_model_work(archive, recordings):
    class NoModel:
        model, model_id, model_dir = None, archive.model_id, None

        def run(self, jobs, stage_progress=None):
            assert not jobs, "a known recording was indexed again"
            return iter(())

    version = archive.store.version()
    report = archive.add([recordings[0].parent], engine=NoModel())
    assert sorted(report.known) == sorted(str(r) for r in recordings) and not report.added
    assert archive.store.version() == version


def test_a_recording_is_asked_for_by_path_title_or_number_and_an_unknown_one_refused(archive, recordings):
    by_path = archive.who(str(recordings[1]))
    assert archive.who("second.wav") == by_path == archive.who(2)
    with pytest.raises(SpeakerIDError, match="not in the archive"):
        archive.who("third.wav")
    with pytest.raises(SpeakerIDError, match="not an archive voice"):
        parse_voice("Somebody")
    with pytest.raises(SpeakerIDError, match="no unnamed Voice 999"):
        archive.name_voice("Voice 999", "Nobody")


def test_a_turn_plays_from_the_recording(archive, recordings):
    turn = archive.who(str(recordings[0]))[0]
    clip = archive.turn_audio(str(recordings[0]), turn.start_s, turn.end_s)
    assert clip.sample_rate == 16000
    assert abs(clip.duration_s - (turn.end_s - turn.start_s)) < 0.01


def test_a_turn_nobody_enrolled_is_named_in_has_no_probability(archive, tmp_path):
    """An unnamed voice's turn is nobody's "3 %": its probability is None (null in JSON), never the
    probability of the closest enrolled person."""
    archive.gallery.enroll("Bob", write_enrolment(tmp_path / "bob.wav", 1))
    who = archive.who(archive.recordings()[0].source)
    unnamed = [t for t in who if t.speaker is None]
    named = [t for t in who if t.speaker is not None]
    assert unnamed and named
    assert all(t.probability is None and t.to_dict()["probability"] is None for t in unnamed)
    assert all(0.5 < t.probability <= 1.0 for t in named)


def test_a_voice_is_heard_and_enrolled_from_its_most_typical_turns(archive, monkeypatch):
    voice = max(archive.voices(), key=lambda v: len(v.turns))
    best = archive.best_turns(voice.voice)
    assert best and spans(best) <= spans(voice.turns) and all(t.end_s - t.start_s >= 2.0 for t in best)
    # ranked by score against the voice's centroid: each turn's own embedding tells
    turns = archive.store.turns(archive.model_id)
    ids, centroids, _ = archive.store.voices(archive.model_id)
    centroid = centroids[list(ids).index(parse_voice(voice.voice))]
    recordings = {row.id: row.source for row in archive.recordings()}
    row_of = {(recordings[r], round(start, 3)): i
              for i, (r, start) in enumerate(zip(turns.recording_ids, turns.starts))}
    vectors = turns.embeddings[[row_of[t.recording, round(t.start_s, 3)] for t in best]].astype(np.float32)
    scores = archive.model.score_matrix(vectors, centroid[None])[:, 0]
    assert list(scores) == sorted(scores, reverse=True)
    enrolled = []
    monkeypatch.setattr(archive.gallery, "enroll", lambda name, clips: enrolled.extend(clips))
    archive.name_voice(voice.voice, "Carol")
    assert [clip.name for clip in enrolled] == [
        f"{Path(t.recording).name} {t.start_s:.1f}-{t.end_s:.1f} s" for t in best[:len(enrolled)]]


def test_the_searched_turns_are_unit_normalised_and_score_as_the_model_scores_them(archive, tmp_path):
    archive.gallery.enroll("Bob", write_enrolment(tmp_path / "bob.wav", 1))
    model, enrolled = archive.model, archive.gallery.enrolled_centroids()
    stored = archive.store.turns(archive.model_id)
    cache = tmp_path / "cache"
    written = load_turns(archive.store, cache, archive.model_id, unit=True)  # from SQLite, then written
    read = load_turns(archive.store, cache, archive.model_id, unit=True)  # from the files
    expected = model.score_matrix(stored.embeddings.astype(np.float32), enrolled.matrix,
                                  enrolled.statistics, stored.cohort)
    raw = unit(stored.embeddings.astype(np.float32)) @ unit(enrolled.matrix).T  # AS-norm, written out
    (mean_a, std_a), (mean_b, std_b) = stored.cohort, enrolled.statistics
    np.testing.assert_allclose(expected, 0.5 * ((raw - mean_a[:, None]) / std_a[:, None]
                                                + (raw - mean_b[None, :]) / std_b[None, :]), atol=1e-4)
    for table in (written, read):
        assert table.unit
        norms = np.linalg.norm(table.embeddings.astype(np.float32), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=2e-3)
        rows = slice(0, len(table.ids))
        np.testing.assert_allclose(TurnScores(table, enrolled, model)(rows), expected, atol=0.02)
        ids, centroids, speech = archive.store.voices(archive.model_id)
        assert np.array_equal(label_turns(table, ids, centroids, speech, enrolled, model).speaker,
                              label_turns(stored, ids, centroids, speech, enrolled, model).speaker)
    assert [p.name for p in cache.iterdir()] == [f"{archive.model_id}-u1-{archive.store.generation()}"]
