"""The archive under bad input and accidents: each bad input is one sentence and leaves the archive
as it was, the others go on; a SIGKILL mid-add loses only that recording; a model change re-indexes
and never mixes two models' embeddings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from conversations import (  # noqa: F401 (fixtures)
    FAST_MODEL,
    archive_fixture,
    fast_encoder_fixture,
    recordings_fixture,
)
from media_server import serve
from synthetic import write_wav

from speakerid.archive import Archive
from speakerid.gallery import Gallery
from speakerid.inputs import EncodedAudio


def contents(archive: Archive) -> list[tuple]:
    """Every recording with its turns: what must not change when an input fails."""
    return [(row.source, row.sha256, len(archive.store.turns(row.model_id, row.id).ids))
            for row in archive.recordings()]


def test_bad_inputs_each_fail_in_one_sentence_and_the_others_are_added(tmp_path, fast_encoder, recordings):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (bad / "empty.wav").write_bytes(b"")
    write_wav(bad / "silent.wav", np.zeros(16000 * 10, np.float32))
    with (serve(bad) as server,
          Archive(tmp_path / "archive", Gallery(tmp_path / "g.sqlite", fast_encoder)) as archive):
        report = archive.add([bad / "corrupt.wav", bad / "empty.wav", bad / "silent.wav",
                              server.url("missing.wav"), recordings[0], tmp_path / "gone.wav"])
        assert report.added == [str(recordings[0])]
        failed = dict(report.failed)
        assert set(failed) == {str(bad / "corrupt.wav"), str(bad / "empty.wav"), str(bad / "silent.wav"),
                               server.url("missing.wav"), str(tmp_path / "gone.wav")}
        for name, sentence in failed.items():
            assert sentence.startswith(name) and "\n" not in sentence, sentence
        assert "speech" in failed[str(bad / "silent.wav")]
        assert "no such file" in failed[str(tmp_path / "gone.wav")]
        assert [row.source for row in archive.recordings()] == [str(recordings[0])]
        assert not list((tmp_path / "archive" / "media").glob("*"))  # the failed link kept nothing


def test_a_file_deleted_mid_run_fails_alone(tmp_path, fast_encoder, recordings):
    copy = tmp_path / "copy.wav"
    shutil.copy(recordings[1], copy)

    def delete_the_copy(stage, done, total):
        copy.unlink(missing_ok=True)

    with Archive(tmp_path / "archive", Gallery(tmp_path / "g.sqlite", fast_encoder)) as archive:
        report = archive.add([recordings[0], copy], stage_progress=delete_the_copy)
        assert report.added == [str(recordings[0])]
        assert [name for name, _ in report.failed] == [str(copy)]
        assert "no such file" in report.failed[0][1]
        assert [row.source for row in archive.recordings()] == [str(recordings[0])]


def test_a_write_error_fails_that_recording_and_leaves_the_archive_as_it_was(archive, recordings, tmp_path):
    extra = tmp_path / "extra.wav"
    write_wav(extra, np.concatenate([np.zeros(8000, np.float32),
                                     *[np.asarray(f, np.float32) for f in _speech(recordings[0])]]))
    before = contents(archive)
    conn = archive.store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
    report = archive.add([extra])
    assert not report.added and [name for name, _ in report.failed] == [str(extra)]
    assert "could not be written" in report.failed[0][1] and "full" in report.failed[0][1]
    assert contents(archive) == before
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert archive.add([extra]).added == [str(extra)]


def _speech(path: Path) -> list[np.ndarray]:
    """The first recording's audio reversed in time: different content, still speech."""
    import soundfile as sf

    return [sf.read(path, dtype="float32")[0][::-1].copy()]


KILL_IN_SECOND_WRITE = """
import os, signal, sys
sys.path[:0] = {paths!r}
from speakerid import load_model
from speakerid.archive import Archive, store
from speakerid.gallery import Gallery

writes = []
drop = store._drop_orphans
def die_in_the_second(conn):
    writes.append(1)
    if len(writes) == 2:  # inside the second recording's transaction, its turns written
        os.kill(os.getpid(), signal.SIGKILL)
    drop(conn)
store._drop_orphans = die_in_the_second
archive = Archive({folder!r}, Gallery({gallery!r}, load_model({model!r})))
archive.add([{first!r}, {second!r}])
"""


def test_a_sigkill_mid_add_loses_only_that_recording_and_adding_again_resumes(tmp_path, fast_encoder,
                                                                              recordings):
    folder, gallery = tmp_path / "archive", tmp_path / "g.sqlite"
    code = KILL_IN_SECOND_WRITE.format(paths=[str(Path("tests").resolve()), str(Path(".").resolve())],
                                       folder=str(folder), gallery=str(gallery), model=str(FAST_MODEL),
                                       first=str(recordings[0]), second=str(recordings[1]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    with Archive(folder, Gallery(gallery, fast_encoder)) as archive:
        assert [row.source for row in archive.recordings()] == [str(recordings[0])]
        turns = archive.store.turns(archive.model_id)
        assert set(turns.recording_ids.tolist()) == {archive.recordings()[0].id}
        voice_ids, _, _ = archive.store.voices(archive.model_id)
        assert set(turns.voice_ids[turns.voice_ids >= 0].tolist()) == set(voice_ids.tolist())
        report = archive.add(list(recordings))
        assert report.known == [str(recordings[0])] and report.added == [str(recordings[1])]


def test_a_model_change_re_indexes_and_never_mixes_embeddings(archive, recordings, untrained_encoder):
    old_model = archive.model_id
    with Archive(archive.folder, Gallery(archive.folder / "other.sqlite", untrained_encoder)) as other:
        assert len(other.stale_recordings()) == 2
        assert other.summary().recordings == 0 and other.summary().other_model == 2
        assert other.voices() == []
        report = other.add([])
        assert sorted(report.reindexed) == sorted(str(r) for r in recordings) and not report.failed
        assert {row.model_id for row in other.recordings()} == {other.model_id}
        assert len(other.store.turns(old_model).ids) == 0
        assert len(other.store.voices(old_model)[0]) == 0
        assert other.store.turns(other.model_id).embeddings.shape[1] == 64
        assert other.voices()


def test_a_failed_upload_names_the_upload_and_leaves_nothing_behind(archive, tmp_path):
    """A corrupt upload and a silent one: each sentence names the upload as the user called it (not
    the archive's copy), the copies are deleted and the archive is as it was."""
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(16000 * 10, np.float32))
    before = contents(archive)
    media = archive.folder / "media"
    report = archive.add([EncodedAudio("broken.wav", b"RIFF junk" * 20),
                          EncodedAudio("quiet.wav", silent.read_bytes())])
    failed = dict(report.failed)
    assert set(failed) == {"broken.wav", "quiet.wav"} and not report.added
    for name, sentence in failed.items():
        assert sentence.startswith(f"{name}: ") and "\n" not in sentence, sentence
        assert str(archive.folder) not in sentence and "media" not in sentence, sentence
    assert "not a readable audio file" in failed["broken.wav"] and "speech" in failed["quiet.wav"]
    assert not media.exists() or not list(media.iterdir())
    assert contents(archive) == before
