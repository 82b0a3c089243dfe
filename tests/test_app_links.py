"""The pages' link and batch inputs with AppTest: a link instead of an upload on Identify and in the
Gallery's enrolment, and several uploads giving a table to download. Media comes from a local
web server (yt-dlp's generic extractor), so no internet is needed."""

from __future__ import annotations

import pytest
from media_server import serve
from test_app import app_env, enrol, open_app, rerun, texts, wav, weights  # noqa: F401 (fixtures)

from speakerid import Gallery, paths


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "alice-interview.wav").write_bytes(wav(0, 6.0))
    (folder / "sita.wav").write_bytes(wav(4, 8.0))
    with serve(folder) as server:
        yield server


def fetch(at, prefix: str, url: str, start: str = "", end: str = ""):
    at.text_input(key=f"{prefix}_url").input(url)
    at.text_input(key=f"{prefix}_start").input(start)
    at.text_input(key=f"{prefix}_end").input(end)
    rerun(at)
    at.button(key=f"{prefix}_fetch").click()
    return rerun(at)


def test_identify_from_a_link_shows_every_stage(site):
    enrol("Alice", wav(0, 6.0))
    at = open_app()
    at.radio(key="identify_source").set_value("Paste a link")
    rerun(at)
    fetch(at, "identify", site.url("alice-interview.wav"))
    page = texts(at)
    assert "alice-interview" in page and site.url("alice-interview.wav") in page
    assert ":green[:material/check_circle:] Alice\\: " in page
    assert {m.label for m in at.metric} >= {"Input", "Speech kept"} and not at.error

    fetch(at, "identify", site.url("missing.wav"))
    assert "could not be fetched" in at.error[0].value and "404" in at.error[0].value


def test_several_uploads_give_a_table_to_download():
    alice = wav(0, 6.0)
    enrol("Alice", alice)
    at = open_app()
    uploader = at.file_uploader(key="identify_upload")
    uploader.upload("alice.wav", alice).upload("other.wav", wav(7, 6.0)).upload("broken.mp3", b"ID3 no")
    rerun(at)
    table = at.dataframe[0].value
    assert table["clip"].tolist() == ["alice.wav", "other.wav", "broken.mp3"]
    assert table["verdict"].tolist() == ["Alice", "unknown speaker", "error"]
    assert table["problem"].tolist()[:2] == ["", ""] and "not a readable audio file" in table["problem"][2]
    assert all(table[c].dropna().map(type).nunique() <= 1 for c in table)  # one type a column (pyarrow)
    assert "3 clips · 1 could not be identified" in texts(at)
    assert len(at.get("download_button")) == 2
    assert not at.get("image")  # the detailed view is for one clip


def test_the_gallery_enrols_from_a_link_and_keeps_its_source(site):
    at = open_app("gallery")
    at.text_input(key="enrol_name_0").input("Sita Sharma")
    at.radio(key="enrol_mode_0").set_value("From a link")
    rerun(at)
    fetch(at, "enrol_0", site.url("sita.wav"), end="0:07")
    assert "of speech" in at.success[0].value
    at.button(key="enrol_go_0").click()
    rerun(at)
    assert "now has 1 clip(s)" in texts(at)
    with Gallery(paths.gallery_path()) as gallery:
        [source] = gallery.clip_sources("Sita Sharma")
    assert (source.source, source.url) == ("sita", site.url("sita.wav")) and source.speech_s <= 7.0
