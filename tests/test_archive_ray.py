"""``archive add --engine ray``: a local Ray of 2 CPUs gives the archive the local engine gives,
and a worker killed mid-recording is retried (or that recording fails alone), the archive whole."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conversations import (  # noqa: F401 (fixtures)
    FAST_MODEL,
    FIRST,
    fast_encoder_fixture,
    recordings_fixture,
    write_conversation,
)

from speakerid.archive import Archive
from speakerid.archive.ray_engine import RayEngine
from speakerid.gallery import Gallery
from speakerid.models.scorer import ScoringModel


@pytest.fixture(scope="module")
def ray_engine():
    engine = RayEngine(FAST_MODEL, workers=2, num_cpus=2)
    yield engine
    engine.close()


def ray_archive(folder, engine: RayEngine) -> Archive:
    """An archive whose driver holds no model: only the scoring, as the CLI's does."""
    return Archive(folder, Gallery(folder.parent / f"{folder.name}.sqlite",
                                   ScoringModel(FAST_MODEL, engine.model_id)))


def test_ray_and_the_local_engine_give_the_same_turns_and_voices(tmp_path, fast_encoder, recordings,
                                                                 ray_engine):
    with (Archive(tmp_path / "local", Gallery(tmp_path / "local.sqlite", fast_encoder)) as local,
          ray_archive(tmp_path / "ray", ray_engine) as distributed):
        assert local.add(list(recordings)).added == [str(r) for r in recordings]
        assert distributed.add(list(recordings), ray_engine).added == [str(r) for r in recordings]
        assert distributed.model_id == local.model_id
        mine, theirs = local.store.turns(local.model_id), distributed.store.turns(local.model_id)
        np.testing.assert_allclose(theirs.starts, mine.starts, atol=1e-6)
        np.testing.assert_allclose(theirs.ends, mine.ends, atol=1e-6)
        np.testing.assert_allclose(theirs.embeddings.astype(np.float32), mine.embeddings.astype(np.float32),
                                   atol=2e-3)
        np.testing.assert_array_equal(theirs.voice_ids, mine.voice_ids)
        assert [v.to_dict() for v in distributed.voices()] == [v.to_dict() for v in local.voices()]


def test_a_worker_killed_mid_recording_is_retried_and_the_archive_stays_whole(tmp_path, recordings,
                                                                              ray_engine):
    import ray

    long = tmp_path / "long.wav"
    write_conversation(long, FIRST * 4)
    inputs = [long, *recordings]

    def kill_the_workers():
        for actor in ray_engine.actors:
            ray.kill(actor, no_restart=False)  # as a crash would: Ray restarts it, the task is retried

    killer = threading.Timer(2.0, kill_the_workers)
    with ray_archive(tmp_path / "ray", ray_engine) as archive:
        killer.start()
        report = archive.add(inputs, ray_engine)
        killer.join()
        for name, sentence in report.failed:
            assert sentence.startswith(name) and "Ray worker" in sentence
        assert sorted(report.added + [name for name, _ in report.failed]) == sorted(map(str, inputs))
        assert [row.source for row in archive.recordings()] == report.added
        turns = archive.store.turns(archive.model_id)
        for row in archive.recordings():
            assert (turns.recording_ids == row.id).sum() > 0
        assert set(turns.voice_ids[turns.voice_ids >= 0].tolist()) == set(
            archive.store.voices(archive.model_id)[0].tolist())
        again = archive.add(inputs, ray_engine)
        assert sorted(again.known + again.added) == sorted(map(str, inputs)) and not again.failed
