"""Every page of the Streamlit app with AppTest: it renders, reacts to input, and reports bad input as a
message rather than an exception. A small untrained model stands in for the shipped weights.

The untrained model is not accurate, so its threshold is set to 0.999 here: only the very audio
enrolled is a match, any other voice is unknown. That makes the verdicts below deterministic.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from processes import dead_pid
from synthetic import synth_voice

if "tensorflow" not in sys.modules:  # streamlit-webrtc must load before TensorFlow (see app.py)
    import streamlit_webrtc  # noqa: F401

from streamlit.testing.v1 import AppTest  # noqa: E402

from speakerid import paths  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
TIMEOUT = 180
THRESHOLD = 0.999


# --- fixtures and helpers ---------------------------------------------------------------------------
def wav(speaker: int, seconds: float, seed: int = 0, pauses: bool = False) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, synth_voice(speaker, seconds, RATE, seed, pauses=pauses), RATE, format="WAV")
    return buffer.getvalue()


def silent_wav(seconds: float) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * RATE), np.float32), RATE, format="WAV")
    return buffer.getvalue()


def make_model(path: Path, seed: int, false_accept_rate: float | None = None) -> Path:
    import keras

    from speakerid import Encoder
    from speakerid.models.networks import ModelConfig
    from speakerid.scoring import Calibration

    keras.utils.set_random_seed(seed)
    encoder = Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))
    encoder.calibration = Calibration(THRESHOLD, slope=400.0, offset=-399.0,
                                      method="test calibration: only identical audio matches",
                                      false_accept_rate=false_accept_rate)
    encoder.save(path)
    return path


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    return make_model(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(autouse=True)
def app_env(weights, monkeypatch, tmp_path, streamlit_option):
    """The test model; the app open as on one's own computer (bound to localhost, no password file
    read), with this test's folder as the data root the pages may read."""
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(weights))
    monkeypatch.setenv("SPEAKERID_DATA_ROOTS", str(tmp_path))
    streamlit_option("server.address", "localhost")
    streamlit_option("secrets.files", [])


def enrol(name: str, audio: bytes, model: Path | None = None, **details) -> None:
    """Enrol through the library (with the app's model unless told), as another user would."""
    from speakerid import Gallery, load_model
    from speakerid.audio import decode_bytes

    with Gallery(paths.gallery_path(), load_model(model)) as gallery:
        gallery.enroll(name, decode_bytes(audio, f"{name}.wav"), **details)


def speakers() -> dict[str, object]:
    from speakerid import Gallery

    with Gallery(paths.gallery_path()) as gallery:
        return {s.name: s for s in gallery.speakers()}


def open_app(page: str | None = None) -> AppTest:
    """The app after its first page and, as in a browser, the redraw once the model has loaded."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    if not model_loaded():
        at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def model_loaded() -> bool:
    """Wait for the model's libraries, which the app imports in the background; whether they were
    in already."""
    from speakerid_ui import resources

    importing = resources._importing()
    done = importing.done()
    importing.result(TIMEOUT)
    return done


def texts(at: AppTest) -> str:
    """Every piece of text on the page, for assertions that do not care about the element kind."""
    parts = [*at.markdown, *at.caption, *at.title, *at.success, *at.info, *at.warning, *at.error]
    return "\n".join(str(p.value) for p in parts)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- Identify -----------------------------------------------------------------------------------
def test_first_visit_explains_how_to_start():
    at = open_app()
    assert at.title[0].value == "Who is speaking?"
    assert "Getting started" in texts(at) and "Enrol two voices" in texts(at)
    assert "**0** speakers enrolled" in texts(at)
    assert at.file_uploader(key="identify_upload") is not None


def test_from_a_first_visit_to_a_demo_verdict_in_two_clicks(monkeypatch):
    """The shipped model (the demo's examples are other passages of the enrolled readers, which
    only a trained model recognises): "Try the demo voices", then an example."""
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(ROOT / "weights"))
    from speakerid.demo import demo_examples

    at = open_app()
    at.button(key="demo_enrol_identify").click()  # click 1
    rerun(at)
    assert "Enrolled 4 demo voices" in texts(at) and "**4** speakers enrolled" in texts(at)
    assert "Getting started" not in texts(at)
    first, *_, unknown = demo_examples()
    at.button(key="demo_example_0").click()  # click 2
    rerun(at)
    page = texts(at)
    assert f":green[:material/check_circle:] {ui_md(first.speaker)}\\: " in page
    # the fused model's two front ends, one spectrogram each, labelled with their network
    assert [t.label for t in at.tabs] == ["Read by ECAPA-TDNN (60% of the score)",
                                          "Read by thin ResNet (40% of the score)"]
    assert len(at.get("image")) == 3 and not at.error
    at.button(key=f"demo_example_{len(demo_examples()) - 1}").click()
    rerun(at)
    assert "Unknown speaker" in texts(at) and "unknown" in unknown.path.name


def ui_md(text: str) -> str:
    import speakerid_ui

    return speakerid_ui.md(text)


def test_the_sidebar_says_the_model_and_how_strict_it_is_in_words(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(make_model(tmp_path / "newsroom", 1, false_accept_rate=0.01)))
    at = open_app()
    said = texts(at.sidebar)
    assert "**Model:** thin ResNet \\(newsroom\\)" in said
    assert ("**Decision:** strict: about 1 in 100 comparisons of two different people would be taken "
            "for the same person") in said
    figures = texts(next(e for e in at.sidebar.expander if e.label == "The figures"))
    assert "threshold 1.00 · 1% false accepts" in figures
    assert "threshold" not in said.replace(figures, "")  # the figures only in the expander


def test_identify_names_an_enrolled_speaker_and_says_unknown_otherwise():
    alice = wav(0, 6.0)
    enrol("Alice", alice, party="Blue party")
    enrol("Bob", wav(1, 6.0))
    at = open_app()
    assert "Getting started" not in texts(at)
    at.file_uploader(key="identify_upload").upload("clip.wav", alice, "audio/wav")
    rerun(at)
    page = texts(at)
    assert ":green[:material/check_circle:] Alice\\: " in page and "Blue party" in page
    assert "probability that this is Alice's voice" in page
    assert {m.label for m in at.metric} >= {"Input", "Speech kept"}
    assert [e.label for e in at.expander if e.label == "How this was decided"]
    assert "names Alice" in page and "test calibration" in page  # plain words, then the specialists'
    assert len(at.get("image")) == 2  # waveforms, spectrogram (one model: one front end, no tabs)
    assert len(at.get("progress")) == 2  # one bar per enrolled voice, the best first, named:
    assert ":green[:material/check_circle:] **Alice** · " in page and "\n**Bob** · " in page
    assert not at.error

    at.file_uploader(key="identify_upload").clear().upload("other.wav", wav(7, 6.0), "audio/wav")
    rerun(at)
    page = texts(at)
    assert "Unknown speaker" in page and "closest" in page and "names nobody" in page
    assert ":green[:material/check_circle:] **" not in page


def test_the_first_page_is_drawn_while_the_model_loads(monkeypatch):
    from speakerid_ui import resources

    enrol("Alice", wav(0, 6.0))
    release = threading.Event()
    monkeypatch.setattr(resources, "_import_model_code", lambda: release.wait(TIMEOUT))
    resources._importing.cache_clear()  # as in a fresh server: nothing imported yet
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    try:
        at.run()
        assert not at.exception and not resources.model_code_loaded()
        assert at.title[0].value == "Who is speaking?" and at.file_uploader(key="identify_upload")
        assert "loading the speaker model" in texts(at) and "**1** speaker enrolled" in texts(at)
    finally:
        release.set()
    at.file_uploader(key="identify_upload").upload("clip.wav", wav(0, 6.0), "audio/wav")
    rerun(at)  # the analysis waits for the model
    assert ":green[:material/check_circle:] Alice\\: " in texts(at)
    assert "loading the speaker model" not in texts(at)


def test_a_newly_loaded_model_is_warmed_up_on_its_own_thread_before_any_clip(monkeypatch):
    """A fresh server traces the network while the page is read, so that the first verdict does
    not pay for it; the page's own thread does not wait for that."""
    from speakerid.models.base import SpeakerModel
    from speakerid_ui import resources

    warmed: list[tuple[str, float]] = []
    warm_up = SpeakerModel.warm_up

    def recorded(model, seconds, sample_rate=16000):
        warmed.append((threading.current_thread().name, seconds))
        return warm_up(model, seconds, sample_rate)

    monkeypatch.setattr(SpeakerModel, "warm_up", recorded)
    enrol("Alice", wav(0, 6.0))
    resources._load_encoder.clear()  # as in a fresh server: no model loaded yet
    at = open_app()
    resources._model_thread().submit(lambda: None).result(TIMEOUT)  # one thread: the warm-up is done
    assert [(name.startswith("speakerid-model"), seconds) for name, seconds in warmed] == [
        (True, resources.WARM_UP_S)]
    at.file_uploader(key="identify_upload").upload("clip.wav", wav(0, 6.0), "audio/wav")
    rerun(at)
    assert ":green[:material/check_circle:] Alice\\: " in texts(at)
    assert len(warmed) == 1  # once per model loaded, not per clip


def test_identify_from_a_browser_recording():
    recording = wav(2, 5.0)
    enrol("Chandra", recording)
    at = open_app()
    at.radio(key="identify_source").set_value("Record in the browser")
    rerun(at)
    at.audio_input(key="identify_record").upload("recording.wav", recording)
    rerun(at)
    assert "Chandra" in texts(at)


@pytest.mark.parametrize("name, data, message", [
    ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "not a readable audio file"),
    ("empty.mp3", b"", "empty"),
    ("notes.mp3", b"hello, this is not audio at all" * 10, "not a readable audio file"),
    ("silence.wav", None, "no speech found"),
    ("blip.wav", b"short", "not a readable audio file"),
])
def test_bad_uploads_are_explained(name, data, message):
    at = open_app()
    at.file_uploader(key="identify_upload").upload(name, silent_wav(4.0) if data is None else data)
    rerun(at)
    assert at.error, texts(at)
    assert message in at.error[0].value
    assert "Traceback" not in texts(at)


def test_a_long_clip_gets_a_timeline():
    enrol("Alice", wav(0, 6.0))
    clip = np.concatenate([synth_voice(0, 11.0, RATE, 1, pauses=False), np.zeros(RATE, np.float32),
                           synth_voice(1, 11.0, RATE, 1, pauses=False)])
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, clip, RATE, format="WAV")
    at = open_app()
    at.file_uploader(key="identify_upload").upload("debate.wav", buffer.getvalue(), "audio/wav")
    rerun(at)
    assert "Who speaks when" in texts(at)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["from", "to", "speaker", "score", "probability"] and len(table) >= 1
    assert "Speaking time" in texts(at)
    [chart] = at.get("vega_lite_chart")  # drawn by the browser, names in its own fonts
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    assert set(convert_arrow_bytes_to_pandas_df(chart.proto.data.data)["speaker"]) == set(table["speaker"])
    assert json.loads(chart.proto.spec)["encoding"]["x2"] == {"field": "end_s"}


def test_a_voice_found_in_the_timeline_is_enrolled_from_it(monkeypatch):
    fast = ROOT / "weights" / "fast"  # a trained model: the untrained one hears every window apart
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(fast))
    enrol("Alice", wav(0, 8.0, seed=3), model=fast)
    gap = np.zeros(RATE, np.float32)
    turns = [synth_voice(speaker, 8.0, RATE, seed, pauses=False) for seed, speaker in enumerate((0, 1, 0, 1))]
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([x for turn in turns for x in (gap, turn)]), RATE, format="WAV")
    at = open_app()
    at.file_uploader(key="identify_upload").upload("debate.wav", buffer.getvalue(), "audio/wav")
    rerun(at)
    table = at.dataframe[-1].value
    assert list(table["speaker"]) == ["Alice", "Voice A", "Alice", "Voice A"]
    assert "Voices nobody enrolled" in texts(at)
    # the verdict says two people speak, not one name; the found voice's rows show its own number
    assert ":blue[:material/groups:] Several voices\\: Alice \\(0\\:00\\-" in texts(at)
    assert "\\), Voice A \\(0\\:" in texts(at) and "that its turns are one voice" in texts(at)
    assert len(set(table["probability"][table["speaker"] == "Voice A"])) == 1
    at.text_input(key="voice_name_0").input("Bob")
    at.button(key="voice_enrol_0").click()
    rerun(at)
    assert "Enrolled **Bob** from Voice A" in texts(at)
    assert speakers()["Bob"].clips == 2
    assert list(at.dataframe[-1].value["speaker"]) == ["Alice", "Bob", "Alice", "Bob"]
    assert "Several voices\\: Alice \\(0\\:00\\-" in texts(at) and "\\), Bob \\(0\\:" in texts(at)


def test_a_long_upload_is_streamed_and_only_what_the_page_shows_is_kept(monkeypatch):
    from speakerid import longform

    monkeypatch.setattr(longform, "STREAM_MIN_DURATION_S", 20.0)  # 10 min in use: too slow here
    enrol("Alice", wav(0, 24.0))  # the same audio: streamed, it still matches (see test_longform)
    at = open_app()
    at.file_uploader(key="identify_upload").upload("debate.wav", wav(0, 24.0), "audio/wav")
    rerun(at)
    summary = at.session_state["identify_result"][1]
    assert isinstance(summary, longform.RecordingSummary) and len(summary.overview) <= 4000
    assert summary.identification.speaker == "Alice" and "Alice" in texts(at)
    assert "Speech kept" in [m.label for m in at.metric] and "Who speaks when" in texts(at)
    assert len(at.dataframe[-1].value) >= 1


def test_without_a_model_every_page_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(tmp_path / "no-model"))
    at = open_app()
    assert "No speaker model is installed yet" in texts(at)
    for page in ("gallery", "archive", "live"):
        at.switch_page(f"pages/{page}.py")
        rerun(at)
        assert "No speaker model is installed yet" in texts(at)
    at.switch_page("pages/train.py")
    rerun(at)
    assert at.title[0].value == "Train a model" and "No training runs yet" in texts(at)


def test_a_gallery_from_another_model_is_reenrolled(tmp_path):
    enrol("Dawa", wav(3, 5.0), model=make_model(tmp_path / "other", seed=3))
    at = open_app()
    assert "enrolled with another model" in texts(at)
    at.button(key="reenroll_gallery").click()
    rerun(at)
    assert "enrolled with another model" not in texts(at)
    assert "Dawa" in speakers()


# --- Gallery ------------------------------------------------------------------------------------
def test_enrol_from_uploads():
    at = open_app("gallery")
    assert "Getting started" in texts(at)
    assert at.button(key="enrol_go_0").disabled
    at.text_input(key="enrol_name_0").input("Sita Sharma")
    at.selectbox(key="enrol_0_gender").set_value("female")
    at.text_input(key="enrol_0_party").input("Green")
    uploader = at.file_uploader(key="enrol_upload_0")
    uploader.upload("sita1.wav", wav(4, 4.0)).upload("sita2.wav", wav(4, 4.0, 1))
    rerun(at)
    assert len(at.success) == 2 and "Together" in texts(at)
    at.button(key="enrol_go_0").click()
    rerun(at)
    assert "now has 2 clip(s)" in texts(at)
    enrolled = speakers()["Sita Sharma"]
    assert (enrolled.clips, enrolled.gender, enrolled.party) == (2, "female", "Green")
    assert at.dataframe[0].value["Name"].tolist() == ["Sita Sharma"]
    assert at.text_input(key="enrol_name_1").value == ""  # the form starts afresh


def test_enrol_from_a_recording_checks_the_speech_live():
    at = open_app("gallery")
    at.text_input(key="enrol_name_0").input("Hari")
    at.radio(key="enrol_mode_0").set_value("Record now")
    rerun(at)
    at.audio_input(key="enrol_record_0").upload("rec.wav", wav(5, 3.0))
    rerun(at)
    assert "keep talking" in texts(at) and at.button(key="enrol_go_0").disabled
    at.audio_input(key="enrol_record_0").upload("rec.wav", silent_wav(6.0))
    rerun(at)
    assert "no speech found" in texts(at) and at.button(key="enrol_go_0").disabled
    at.audio_input(key="enrol_record_0").upload("rec.wav", wav(5, 8.0))
    rerun(at)
    assert "good" in at.success[0].value and not at.button(key="enrol_go_0").disabled
    at.button(key="enrol_go_0").click()
    rerun(at)
    assert speakers()["Hari"].clips == 1


def test_the_threshold_is_refit_on_the_gallerys_own_voices_and_reset():
    from speakerid import Gallery, load_model
    from speakerid.audio import decode_bytes

    at = open_app("gallery")
    at.button(key="calibrate_fit").click()
    rerun(at)
    assert "needs at least 10 speakers with two or more clips" in texts(at)
    with Gallery(paths.gallery_path(), load_model()) as gallery:
        for speaker in range(10):
            gallery.enroll(f"Speaker {speaker}", [decode_bytes(wav(speaker, 5.0, seed), f"{seed}.wav")
                                                  for seed in (0, 1)])
    at.button(key="calibrate_fit").click()
    rerun(at)
    assert "20 same-speaker and 180 different-speaker trials from 10 enrolled speakers" in texts(at)
    assert "On this gallery's own clips, now: 14 of 20 genuine clips missed" in texts(at)
    at.button(key="calibrate_apply").click()
    rerun(at)
    assert "refit on this gallery" in texts(at)
    at.button(key="calibrate_reset").click()
    rerun(at)
    assert "the model’s own" in texts(at)


def test_add_clips_edit_and_remove_with_confirmation():
    enrol("Alice", wav(0, 6.0))
    enrol("Bob", wav(1, 6.0))
    at = open_app("gallery")
    at.selectbox(key="add_speaker").set_value("Bob")
    at.file_uploader(key="add_upload_0").upload("bob2.wav", wav(1, 5.0, 2))
    rerun(at)
    at.button(key="add_go_0").click()
    rerun(at)
    assert speakers()["Bob"].clips == 2

    at.selectbox(key="edit_speaker").set_value("Alice")
    rerun(at)
    at.text_input(key="edit_name_Alice_1").input("Alice Rai")
    at.text_input(key="edit_Alice_1_party").input("Independent")
    at.button(key="edit_save_1").click()
    rerun(at)
    assert "Saved" in texts(at)
    assert speakers()["Alice Rai"].party == "Independent" and "Alice" not in speakers()

    at.selectbox(key="edit_speaker").set_value("Bob")
    at.button(key="remove_ask").click()
    rerun(at)
    assert "The History tab can undo it" in texts(at)
    at.button(key="remove_cancel").click()
    rerun(at)
    assert "Bob" in speakers() and "The History tab can undo it" not in texts(at)
    at.button(key="remove_ask").click()
    rerun(at)
    at.button(key="remove_yes").click()
    rerun(at)
    assert "Removed" in texts(at) and set(speakers()) == {"Alice Rai"}


def test_enrolment_errors_are_messages():
    enrol("Alice", wav(0, 6.0))
    at = open_app("gallery")
    at.selectbox(key="edit_speaker").set_value("Alice")
    rerun(at)
    at.text_input(key="edit_name_Alice_0").input("   ")  # blank name
    at.button(key="edit_save_0").click()
    rerun(at)
    assert "name is empty" in at.error[0].value
    at.file_uploader(key="enrol_upload_0").upload("bad.wav", b"garbage bytes")
    rerun(at)
    assert "cannot be used" in at.error[-1].value


def dataset(root: Path) -> Path:
    import soundfile as sf

    for index, name in enumerate(["Ram", "Shyam"]):
        (root / name).mkdir(parents=True)
        sf.write(root / name / "1.wav", synth_voice(10 + index, 5.0, RATE, pauses=False), RATE)
    (root / "Mute").mkdir()
    sf.write(root / "Mute" / "1.wav", np.zeros(3 * RATE, np.float32), RATE)
    return root


def test_import_a_folder_and_a_zip(tmp_path):
    folder = dataset(tmp_path / "speakers")
    at = open_app("gallery")
    at.text_input(key="import_folder").input(str(tmp_path / "nowhere"))
    rerun(at)
    assert "not a folder" in at.error[0].value
    at.text_input(key="import_folder").input(str(folder))
    rerun(at)
    assert "Found 3 speaker(s)" in texts(at)
    at.button(key="import_go").click()
    rerun(at)
    assert "Imported 2 speaker(s)" in texts(at) and "Skipped **Mute**" in texts(at)
    assert set(speakers()) == {"Ram", "Shyam"}

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("new/Gopal/1.wav", wav(12, 5.0))
        archive.writestr("new/Gita.wav", wav(13, 5.0))
    at.radio(key="import_kind").set_value("A zip archive")
    rerun(at)
    at.file_uploader(key="import_zip_1").upload("new.zip", buffer.getvalue(), "application/zip")
    rerun(at)
    at.button(key="import_zip_go").click()
    rerun(at)
    assert set(speakers()) == {"Ram", "Shyam", "Gopal", "Gita"}

    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../escape.wav", wav(12, 5.0))
    at.file_uploader(key="import_zip_2").upload("evil.zip", evil.getvalue(), "application/zip")
    rerun(at)
    at.button(key="import_zip_go").click()
    rerun(at)
    assert "path traversal" in at.error[0].value


@pytest.mark.parametrize("page, key", [("gallery", "import_folder"), ("train", "train_folder")])
def test_a_server_folder_outside_the_data_roots_is_refused(tmp_path, monkeypatch, page, key):
    dataset(tmp_path / "elsewhere" / "speakers")  # real speakers, just out of bounds
    monkeypatch.setenv("SPEAKERID_DATA_ROOTS", str(tmp_path / "data"))
    at = open_app(page)
    at.text_input(key=key).input(str(tmp_path / "data" / ".." / "elsewhere" / "speakers"))
    rerun(at)
    assert "is outside the folders this app may read" in at.error[0].value
    assert "Ram" not in texts(at) and "speaker(s)" not in texts(at) and "3 speakers" not in texts(at)


def test_export_and_import_gallery_files(tmp_path):
    from speakerid import Gallery, load_model
    from speakerid.audio import decode_bytes

    enrol("Alice", wav(0, 6.0))
    other = tmp_path / "other.sqlite"
    with Gallery(other, load_model()) as gallery:
        gallery.enroll("Kiran", decode_bytes(wav(6, 5.0), "kiran.wav"))
    at = open_app("gallery")
    assert at.get("download_button")  # the export button is there
    at.file_uploader(key="import_file_0").upload("other.sqlite", other.read_bytes())
    rerun(at)
    at.button(key="import_file_go").click()
    rerun(at)
    assert "Imported 1 speaker(s)" in texts(at) and set(speakers()) == {"Alice", "Kiran"}

    at.file_uploader(key="import_file_1").upload("junk.sqlite", b"SQLite format 3\x00" + b"junk" * 100)
    rerun(at)
    at.button(key="import_file_go").click()
    rerun(at)
    assert at.error and "junk.sqlite" in at.error[0].value

    at.radio(key="import_how").set_value("Replace the current gallery")
    rerun(at)
    assert at.button(key="import_file_go").disabled  # until the deletion is confirmed
    at.checkbox(key="import_replace_ok").check()
    at.file_uploader(key="import_file_1").clear().upload("other.sqlite", other.read_bytes())
    rerun(at)
    at.button(key="import_file_go").click()
    rerun(at)
    assert set(speakers()) == {"Kiran"}


# --- Train --------------------------------------------------------------------------------------
def write_run(name: str, state: str, pid: int, epochs: int = 4, history: int = 4) -> Path:
    """A run folder as speakerid.training.train writes it (the contract between training and the app)."""
    run_dir = paths.runs_dir() / name
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text(json.dumps({
        "state": state, "epoch": history, "epochs": epochs, "step": 10, "steps": 20,
        "message": f"{state} message", "pid": pid, "updated": "2026-01-01T00:00:00"}))
    rows = ["epoch,loss,same_distance,different_distance,eer,seconds"]
    rows += [f"{e},{3 / e:.3f},{0.3 / e:.3f},{0.6 + e / 10:.3f},{0.3 / e:.3f},12.0"
             for e in range(1, history + 1)]
    (run_dir / "history.csv").write_text("\n".join(rows) + "\n")
    (run_dir / "train.log").write_text("loading\nepoch 1: 50%\repoch 1: 100%\n")
    return run_dir


def test_start_a_training_run(tmp_path, fake_training):
    folder = dataset(tmp_path / "data")
    at = open_app("train")
    assert "No training runs yet" in texts(at) and at.button(key="train_start").disabled
    assert at.radio(key="train_purpose").options == [  # by purpose, not by recipe
        "Adapt the model in use to your voices", "Train a new model from your recordings",
        "Train the original Siamese DenseNet method"]
    at.text_input(key="train_folder").input(str(folder))
    at.radio(key="train_purpose").set_value("reference")
    rerun(at)
    assert "3 speakers" in texts(at) and "Twenty or more" in texts(at)
    advanced = next(e for e in at.expander if e.label == "Advanced")  # the specialist settings
    assert {n.key for n in advanced.number_input} == {f"train_{n}_reference" for n in ("batch", "lr", "crop")}
    assert at.number_input(key="train_batch_reference").value == 16  # the recipe's own defaults
    assert "contrastive" in texts(advanced)
    assert "1e-04 means 0.0001" in at.number_input(key="train_lr_reference").help
    assert all(at.number_input(key=f"train_{name}_reference").help for name in ("epochs", "batch", "crop"))
    at.number_input(key="train_epochs_reference").set_value(3)
    at.text_input(key="train_label").input("newsroom")
    rerun(at)
    # 2 training speakers (one held out): 2 x 100 same + 2 x 25 different pairs, 15 batches of 16 a epoch
    assert "Estimated duration: **about" in texts(at) and "45 steps" in texts(at)
    at.button(key="train_start").click()
    rerun(at)
    assert "Training started" in texts(at)
    call = fake_training[-1]
    assert call["settings"].recipe == "reference" and call["settings"].epochs == 3
    assert call["run_dir"].name.startswith("newsroom-") and not call["resume"]
    assert "newsroom" in at.selectbox(key="train_selected").value
    assert any(b.key == "train_stop" for b in at.button)  # the process is alive: it can be stopped


def test_a_training_run_can_fine_tune_the_model_in_use(tmp_path, fake_training):
    from speakerid.models.encoder import default_model_dir

    at = open_app("train")
    at.text_input(key="train_folder").input(str(dataset(tmp_path / "data")))
    rerun(at)
    assert at.radio(key="train_purpose").value == "adapt"  # the first purpose offered
    assert "additive angular margin" in texts(next(e for e in at.expander if e.label == "Advanced"))
    assert "200 steps" in texts(at)  # 4 epochs of 50 steps, the fine-tuning defaults
    at.button(key="train_start").click()
    rerun(at)
    settings = fake_training[-1]["settings"]
    assert settings.recipe == "aam" and settings.init_from == str(default_model_dir())
    assert settings.learning_rate == 2e-5 and settings.epochs == 4


def test_a_running_run_shows_progress_curves_and_can_be_stopped():
    run_dir = write_run("live-run", "running", os.getpid(), epochs=10, history=3)
    at = open_app("train")
    assert ":blue[:material/sync: Running]" in texts(at)
    assert at.get("progress")[0].proto.value == 25  # (3 - 1 + 10/20) / 10 epochs
    charts = at.get("vega_lite_chart")  # loss, distances and EER, drawn by the browser
    assert [json.loads(c.proto.spec)["title"]["text"] for c in charts] == [
        "training loss", "mean distance on validation pairs", "validation EER (%)"]
    assert not any(b.key == "train_delete_ask" for b in at.button)  # not while it runs
    at.button(key="train_stop").click()
    rerun(at)
    assert (run_dir / "STOP").exists()
    assert at.button(key="train_stop").label == "Stopping…" and at.button(key="train_stop").disabled


def test_an_interrupted_run_can_be_resumed(tmp_path, fake_training):
    folder = dataset(tmp_path / "data")
    run_dir = write_run("old-run", "running", dead_pid())
    (run_dir / "checkpoint").mkdir()
    (run_dir / "settings.json").write_text(json.dumps({"recipe": "aam", "epochs": 4}))
    (run_dir / "launch.json").write_text(json.dumps({"data_dirs": [str(folder)], "pid": dead_pid()}))
    at = open_app("train")
    assert "Interrupted" in texts(at) and "Resume it" in texts(at)
    at.button(key="train_resume").click()
    rerun(at)
    assert "Resumed" in texts(at)
    assert fake_training[-1]["resume"] and fake_training[-1]["run_dir"] == run_dir


def test_a_failed_run_shows_its_log():
    write_run("bad-run", "failed", dead_pid(), history=0)
    at = open_app("train")
    assert "Failed" in texts(at) and "failed message" in texts(at)
    assert at.main.expander[-1].label == "Log" and "epoch 1: 100%" in at.code[0].value


def test_a_run_that_is_not_running_can_be_deleted_after_confirmation():
    write_run("old-run", "cancelled", dead_pid())
    at = open_app("train")
    at.button(key="train_delete_ask").click()
    rerun(at)
    assert "This cannot be undone" in texts(at)
    at.button(key="train_delete_cancel").click()
    rerun(at)
    assert (paths.runs_dir() / "old-run").is_dir() and "This cannot be undone" not in texts(at)
    at.button(key="train_delete_ask").click()
    rerun(at)
    at.button(key="train_delete_yes").click()
    rerun(at)
    assert "Deleted **old\\-run**" in texts(at) and "No training runs yet" in texts(at)
    assert not (paths.runs_dir() / "old-run").exists()


def test_a_finished_run_reports_and_becomes_active(monkeypatch, weights):
    monkeypatch.delenv("SPEAKERID_WEIGHTS")
    monkeypatch.setattr("speakerid.paths.SHIPPED_WEIGHTS", weights)  # "shipped" = the test model
    enrol("Alice", wav(0, 6.0), model=weights)
    run_dir = write_run("done-run", "finished", dead_pid())
    make_model(run_dir / "model", seed=5)
    (run_dir / "evaluation.json").write_text(json.dumps({
        "eer": 0.05, "min_dcf": 0.3, "threshold": 0.6, "same_distance": 0.2, "different_distance": 0.8,
        "top1_identification": 0.9, "speakers": 12,
        "precision_recall": [{"threshold": t, "precision": t, "recall": 1 - t} for t in (0.2, 0.5, 0.8)]}))
    at = open_app("train")
    assert {m.label: m.value for m in at.metric}["Equal error rate"] == "5.0%"
    charts = at.get("vega_lite_chart")  # the curves, then precision/recall against the threshold
    assert json.loads(charts[-1].proto.spec)["title"]["text"].startswith("precision / recall")
    at.button(key="train_activate").click()
    rerun(at)
    assert "is now the active model" in texts(at) and "1 gallery clip(s) re-enrolled" in texts(at)
    assert "This model is in use" in texts(at)
    from speakerid import load_model

    assert load_model().encoder_id == load_model(run_dir / "model").encoder_id
    at.switch_page("pages/identify.py")
    rerun(at)
    assert "another model" not in texts(at)  # the gallery follows the new model


def test_activation_is_explained_when_the_model_is_pinned():
    run_dir = write_run("pinned", "finished", dead_pid())
    make_model(run_dir / "model", seed=6)
    at = open_app("train")
    assert any("SPEAKERID_WEIGHTS" in info.value for info in at.info)
    assert not any(b.key == "train_activate" for b in at.button)


# --- Live ---------------------------------------------------------------------------------------
def test_live_page_shows_the_current_speaker():
    if "streamlit_webrtc" not in sys.modules:
        pytest.skip("TensorFlow was imported before streamlit-webrtc in this process (run this file "
                    "first or alone): importing it now would crash")
    voice = wav(8, 6.0)
    enrol("Maya", voice)
    at = open_app("live")
    assert "Waiting for audio" in texts(at)
    identifier = at.session_state["live_identifier"]
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(voice), dtype="int16")
    identifier.push(samples, rate)
    identifier.update()  # what the page's worker does while the microphone streams
    rerun(at)
    assert ":green[:material/record_voice_over:] Maya" in texts(at)
    assert {m.label: m.value for m in at.metric}["Heard"] == "6.0 s"


def test_live_stun_and_turn_servers_come_from_the_environment(monkeypatch):
    from speakerid import SpeakerIDError
    from speakerid_ui.ice import ice_servers

    assert ice_servers() == []  # one machine or a LAN: none needed
    servers = [{"urls": ["stun:stun.example.org:3478"]},
               {"urls": "turn:turn.example.org:3478", "username": "desk", "credential": "s3cret"}]
    monkeypatch.setenv("SPEAKERID_ICE_SERVERS", json.dumps(servers))
    assert ice_servers() == servers
    for bad in ("[{urls: 1}", '{"urls": "stun:x"}', '[{"url": "stun:x"}]'):
        monkeypatch.setenv("SPEAKERID_ICE_SERVERS", bad)
        with pytest.raises(SpeakerIDError, match="SPEAKERID_ICE_SERVERS"):
            ice_servers()
