"""The Archive page with AppTest: add recordings (uploads, a server folder, a link), find an enrolled
person in them, name a voice nobody enrolled and find that name in both recordings.

The recordings are tests/conversations.py's two espeak-ng conversations, indexed with the shipped
fast model (``weights/fast``): the small untrained model of the other app tests merges the voices
it was never given, so it links nothing worth naming.
"""

from __future__ import annotations

from pathlib import Path

from conversations import FAST_MODEL, write_enrolment, write_two_recordings
from media_server import serve
from test_app import app_env, enrol, open_app, rerun, speakers, texts, wav, weights  # noqa: F401 (fixtures)

import speakerid_ui as ui
from speakerid import paths
from speakerid.archive import default_archive_dir, open_for_search
from speakerid.archive.sources import file_hash


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def hits(at):
    """The table of hits (the one with probabilities)."""
    return next(table.value for table in at.dataframe if "probability" in table.value.columns)


def titles(at) -> set[str]:
    """The recordings' titles in the table of hits."""
    return set(hits(at)["title"])


def test_add_find_and_name_a_voice_found_in_two_recordings(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(FAST_MODEL))
    first, second = write_two_recordings(tmp_path / "data" / "debates")
    enrol("Bob", write_enrolment(tmp_path / "bob.wav", 1).read_bytes(), model=FAST_MODEL)  # en+m3
    at = open_app("archive")
    assert at.title[0].value == "Archive" and "The archive is empty" in texts(at)
    assert metrics(at)["Recordings"] == "0" and at.button(key="archive_add").disabled

    # uploads: one good, one corrupt (its own sentence; the other goes in)
    uploader = at.file_uploader(key="archive_upload_0")
    uploader.upload("first.wav", first.read_bytes(), "audio/wav").upload("broken.wav", b"RIFF junk" * 20)
    rerun(at)
    assert at.button(key="archive_add").label == "Add 2 recording(s)"
    at.button(key="archive_add").click()
    rerun(at)
    assert "1 recording(s) added." in texts(at)
    assert len(at.error) == 1 and at.error[0].value.startswith("broken\\.wav\\: not a readable audio file")
    assert str(default_archive_dir()) not in at.error[0].value  # the upload's name, not the archive's copy
    assert [p.name for p in (default_archive_dir() / "media").iterdir()] == [
        f"{file_hash(first)}.wav"]  # the good upload's copy; the broken one's is deleted
    assert metrics(at)["Recordings"] == "1"

    # a server folder: refused outside the data roots; inside, the file already added costs nothing
    at.radio(key="archive_source").set_value("A folder on the server")
    rerun(at)
    at.text_input(key="archive_folder_1").input(str(tmp_path / ".." / "elsewhere"))
    rerun(at)
    assert "is outside the folders this app may read" in at.error[0].value
    assert at.button(key="archive_add").disabled
    (tmp_path / "data" / "empty").mkdir()
    at.text_input(key="archive_folder_1").input(str(tmp_path / "data" / "empty"))
    rerun(at)
    assert "the folder holds no audio files" in at.error[0].value and at.button(key="archive_add").disabled
    at.text_input(key="archive_folder_1").input(str(first.parent))
    rerun(at)
    assert "2 recording(s) in" in texts(at)
    at.button(key="archive_add").click()
    rerun(at)
    assert "1 recording(s) added · 1 already in the archive (nothing to do)." in texts(at)
    assert metrics(at)["Recordings"] == "2" and not at.error

    # find the enrolled person in both recordings, and play a hit
    at.selectbox(key="archive_person").set_value("Bob")
    rerun(at)
    assert titles(at) == {"first.wav", "second.wav"}
    table = hits(at)
    assert list(table.columns) == ["recording", "title", "start", "end", "probability"]
    assert list(table["probability"]) == sorted(table["probability"], reverse=True)
    assert len(at.get("audio")) == 2  # the hit's turn, and the first unnamed voice's longest turn

    # name the voice that speaks in both recordings; it is then found in both
    voices = at.selectbox(key="archive_voice")
    shared = next(i for i, label in enumerate(voices.options) if "· 2 recording(s) ·" in label)
    voice = voices.options[shared].split(" · ")[0]
    voices.set_value(shared)
    rerun(at)
    # the player plays the voice's most typical turn: the first that naming it enrols from
    with open_for_search(default_archive_dir(), paths.gallery_path(), FAST_MODEL) as archive:
        best = archive.best_turns(voice)[0]
    heard = f"in {ui.md(Path(best.recording).name)} at {ui.clock(best.start_s)}"
    assert f"**{voice}** · its most typical turn, {heard}" in texts(at)
    at.text_input(key="archive_voice_name").input("Carol")
    at.button(key="archive_name_go").click()
    rerun(at)
    assert f"{voice} is now **Carol**" in texts(at) and "Carol" in speakers()
    assert voice not in " ".join(at.selectbox(key="archive_voice").options)
    at.selectbox(key="archive_person").set_value("Carol")
    rerun(at)
    assert titles(at) == {"first.wav", "second.wav"}
    assert float(metrics(at)["Named"].rstrip("%")) > 0


def test_a_link_is_added_once(tmp_path):
    """A link's audio is fetched and indexed; the same link again is known without a download."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "interview.wav").write_bytes(wav(0, 8.0))
    with serve(tmp_path / "site") as site:
        at = open_app("archive")
        at.radio(key="archive_source").set_value("A link")
        rerun(at)
        downloads = []
        for round_, said in enumerate(("1 recording(s) added.", "1 already in the archive (nothing to do).")):
            at.text_input(key=f"archive_url_{round_}").input(site.url("interview.wav"))
            rerun(at)
            at.button(key="archive_add").click()
            rerun(at)
            assert said in texts(at) and not at.error
            downloads.append(len(site.requested))
        assert downloads[0] > 0 and downloads[1] == downloads[0]  # known: not fetched again
    assert metrics(at)["Recordings"] == "1"
