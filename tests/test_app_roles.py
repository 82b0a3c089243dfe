"""Accounts and roles in the app (AppTest): people sign in with their own name and password, failed
tries are slowed down (an injected clock), the sidebar says who is signed in; on every page a viewer
gets no control that changes the gallery or the archive, and the gallery file stays byte for byte
what it was after the viewer has used everything the page offers them; editors and admins get theirs.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from conversations import FAST_MODEL, write_two_recordings
from streamlit.testing.v1 import AppTest
from synthetic import synth_voice
from test_app import (  # noqa: F401 (fixtures)
    RATE,
    ROOT,
    TIMEOUT,
    app_env,
    enrol,
    make_model,
    model_loaded,
    rerun,
    texts,
    wav,
    weights,
)

from speakerid import paths
from speakerid.app import accounts
from speakerid.app.access import hash_password
from speakerid.app.throttle import SignInThrottle
from speakerid_ui import access_gate

PASSWORD = "correct horse battery"
PEOPLE = {"admin": "Ada Admin", "editor": "Ed Editor", "viewer": "Vera Viewer"}
# Keys of every widget that changes the gallery or the archive, or manages models, runs or accounts.
CHANGING = ("enrol_", "add_", "edit_", "remove_", "import_", "calibrate_", "voice_enrol_", "voice_name_",
            "demo_enrol_", "reenroll_gallery", "archive_add", "archive_reindex", "archive_upload_",
            "archive_folder_", "archive_source", "archive_name_", "archive_voice_name", "train_",
            "accounts_")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def people(monkeypatch) -> Clock:
    """An admin, an editor and a viewer; sign-ins slowed down on a clock the test moves."""
    for role, name in PEOPLE.items():
        accounts.add_account(name, PASSWORD, "admin" if role == "admin" else "viewer")
        accounts.set_role(name, role)
    clock = Clock()
    monkeypatch.setattr(access_gate, "THROTTLE", SignInThrottle(clock))
    return clock


def visit(password_hash: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if password_hash is not None:
        at.secrets["speakerid_auth"] = {"password_hash": password_hash}
    return rerun(at)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="sign_in_submit").click()
    return rerun(at)


def signed_in(role: str, page: str | None = None) -> AppTest:
    """The app as ``role``'s person sees it after signing in (on ``page``), model loaded."""
    at = sign_in(visit(), PEOPLE[role])
    if not model_loaded():
        rerun(at)
    if page is not None:
        at.switch_page(f"pages/{page}.py")
        rerun(at)
    return at


def widget_keys(at: AppTest) -> set[str]:
    """The key of every widget on the page, in the sidebar and in every tab and form."""
    found = set()

    def walk(node) -> None:
        key = getattr(node, "key", None)
        if isinstance(key, str):
            found.add(key)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def changing_widgets(at: AppTest) -> set[str]:
    return {key for key in widget_keys(at) if key.startswith(CHANGING)}


def gallery_bytes() -> bytes:
    return paths.gallery_path().read_bytes()


# --- signing in --------------------------------------------------------------------------------------
def test_each_person_signs_in_with_their_own_name_and_password():
    at = visit()
    assert at.text_input(key="sign_in_name") and not at.sidebar.children
    sign_in(at, "Vera Viewer", "Ada's password is not hers")
    assert at.error[0].value == "Wrong name or password." and at.text_input(key="sign_in_name")
    sign_in(at, "vera viewer")  # names in any case
    assert at.title[0].value == "Who is speaking?" and not at.error
    assert at.session_state["signed_in_user"] == "Vera Viewer"
    assert "Signed in as **Vera Viewer** (viewer)" in [c.value for c in at.sidebar.caption]

    at.button(key="sign_out").click()
    rerun(at)
    assert at.text_input(key="sign_in_name") and not at.sidebar.children
    assert "signed_in_user" not in at.session_state


def test_failed_sign_ins_are_slowed_down_and_the_message_says_how_long(people):
    at = visit()
    for _ in range(2):  # a typo or two costs nothing
        sign_in(at, "Ada Admin", "wrong")
        assert at.error[0].value == "Wrong name or password."
    sign_in(at, "Ada Admin", "wrong")
    assert at.error[0].value == "Wrong name or password. Wait 2 s before the next try."
    sign_in(at, "Ada Admin")  # the right password, too soon: not even checked
    assert at.error[0].value == "Too many failed sign-ins: wait 2 s before the next try."
    people.now = 1.5
    sign_in(at, "Ed Editor")  # from the same client, another name waits too
    assert "wait 1 s" in at.error[0].value
    people.now = 2.0
    sign_in(at, "Ada Admin")
    assert not at.error and at.session_state["signed_in_user"] == "Ada Admin"


def test_accounts_come_before_a_shared_password_and_this_computer(streamlit_option):
    streamlit_option("server.address", "localhost")  # open without accounts; not with them
    at = visit(hash_password("the shared one"))
    assert at.text_input(key="sign_in_name")  # a name is asked for: the shared password is not enough
    sign_in(at, "", "the shared one")
    assert at.error[0].value == "Wrong name or password."


def test_without_accounts_the_shared_password_gives_every_right(streamlit_option):
    for name in PEOPLE.values():
        if accounts.find_account(name).role != "admin":
            accounts.remove_account(name)
    accounts.remove_account("Ada Admin")
    at = visit(hash_password("the shared one"))
    assert not [t for t in at.text_input if t.key == "sign_in_name"]
    at.text_input(key="sign_in_password").input("the shared one")
    at.button(key="sign_in_submit").click()
    rerun(at)
    assert "Signed in with the shared password" in [c.value for c in at.sidebar.caption]
    assert "signed_in_user" not in at.session_state
    at.switch_page("pages/train.py")
    assert rerun(at).title[0].value == "Train a model"


# --- what each role is offered, page by page ------------------------------------------------------
def test_a_viewer_identifies_but_enrols_nothing(monkeypatch):
    """Example clips of the demo voices, and a debate with a voice nobody enrolled."""
    import soundfile as sf

    from speakerid import Gallery, load_model
    from speakerid.demo import demo_examples, enrol_demo

    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(FAST_MODEL))  # trained: it hears a second voice
    with Gallery(paths.gallery_path(), load_model(FAST_MODEL)) as gallery:
        enrol_demo(gallery)
    enrol("Alice", wav(0, 8.0, seed=3), model=FAST_MODEL)
    before = gallery_bytes()

    at = signed_in("viewer")
    assert not changing_widgets(at) and "Try the demo voices" not in texts(at)
    for index in range(len(demo_examples())):
        at.button(key=f"demo_example_{index}").click()
        rerun(at)
        assert "Verdict" in texts(at) and not changing_widgets(at)
    at.toggle(key="identify_trim_ends").set_value(True)
    rerun(at)
    gap = np.zeros(RATE, np.float32)
    turns = [synth_voice(speaker, 8.0, RATE, seed, pauses=False) for seed, speaker in enumerate((0, 1, 0, 1))]
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([x for turn in turns for x in (gap, turn)]), RATE, format="WAV")
    at.file_uploader(key="identify_upload").upload("debate.wav", buffer.getvalue(), "audio/wav")
    rerun(at)
    assert ("Voice A: heard in the clip, matching nobody in the gallery. An editor can enrol them."
            in texts(at))
    assert not changing_widgets(at) and gallery_bytes() == before


def test_a_viewer_searches_and_listens_to_the_gallery_but_changes_nothing():
    enrol("Alice Example", wav(0, 6.0), party="Blue")
    enrol("Bob Example", wav(1, 6.0))
    before = gallery_bytes()
    at = signed_in("viewer", "gallery")
    assert at.title[0].value == "Gallery" and not changing_widgets(at) and not at.tabs
    at.text_input(key="gallery_search").input("blue")
    rerun(at)
    assert list(at.dataframe[0].value["Name"]) == ["Alice Example"]
    for name in ("Alice Example", "Bob Example"):
        at.selectbox(key="listen_speaker").set_value(name)
        rerun(at)
        assert at.get("audio") and not changing_widgets(at)
    assert gallery_bytes() == before


def test_a_viewer_searches_the_archive_and_listens_but_adds_and_names_nothing(tmp_path, monkeypatch):
    from speakerid import Gallery, load_model
    from speakerid.archive import Archive, default_archive_dir

    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(FAST_MODEL))
    enrol("Bob", wav(1, 8.0), model=FAST_MODEL)
    with Gallery(paths.gallery_path(), load_model(FAST_MODEL)) as gallery:
        with Archive(default_archive_dir(), gallery) as archive:
            archive.add(list(write_two_recordings(tmp_path / "data" / "debates")))
    before = gallery_bytes()

    at = signed_in("viewer", "archive")
    assert at.title[0].value == "Archive" and [t.label for t in at.tabs] == ["Find a person",
                                                                             "Voices nobody named"]
    assert not changing_widgets(at)
    at.selectbox(key="archive_person").set_value("Bob")
    rerun(at)
    at.slider(key="archive_min_probability").set_value(5)
    rerun(at)
    voices = at.selectbox(key="archive_voice").options
    assert voices
    for index in range(len(voices)):
        at.selectbox(key="archive_voice").set_value(index)
        rerun(at)
        assert "An editor can name this voice." in texts(at) and not changing_widgets(at)
    assert gallery_bytes() == before


def test_a_viewer_follows_a_speaker_live_without_changing_anything():
    enrol("Alice", wav(0, 6.0))
    before = gallery_bytes()
    at = signed_in("viewer", "live")
    assert at.title[0].value == "Live" and not changing_widgets(at)
    assert gallery_bytes() == before


@pytest.mark.parametrize("page, title", [("train", "Train a model"), ("accounts", "Accounts")])
@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_training_models_and_accounts_are_for_admins_only(role, page, title):
    """Not in the menu, nor reachable by address (the pages check the role themselves too)."""
    at = signed_in(role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"pages/{page}.py")
    at = signed_in("admin", page)
    assert at.title[0].value == title


def test_an_empty_gallery_offers_a_viewer_no_demo_enrolment():
    at = signed_in("viewer")
    assert "Getting started" in texts(at) and "demo_enrol_identify" not in widget_keys(at)
    at = signed_in("editor")
    assert "demo_enrol_identify" in widget_keys(at)


def test_a_viewer_is_told_to_ask_when_the_model_is_missing_or_the_gallery_is_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(tmp_path / "no-model"))
    at = signed_in("viewer")
    assert "No speaker model is installed yet" in texts(at) and "is for admins: ask one" in texts(at)

    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(make_model(tmp_path / "in-use", seed=0)))
    enrol("Dawa", wav(3, 5.0), model=make_model(tmp_path / "other", seed=3))
    before = gallery_bytes()
    for page in ("identify", "gallery", "archive", "live"):
        at.switch_page(f"pages/{page}.py")
        rerun(at)
        assert "enrolled with another model" in texts(at) and "An editor or an admin can do it" in texts(at)
        assert not changing_widgets(at)
    assert gallery_bytes() == before


def test_an_editor_gets_every_control_that_changes_the_gallery_and_the_archive():
    enrol("Alice", wav(0, 6.0))
    at = signed_in("editor", "gallery")
    assert {"enrol_go_0", "add_go_0", "edit_save_0", "remove_ask", "calibrate_fit"} <= widget_keys(at)
    at.switch_page("pages/archive.py")
    assert "archive_add" in widget_keys(rerun(at))


def test_an_admin_adds_changes_and_removes_accounts_in_the_app():
    at = signed_in("admin", "accounts")
    assert at.title[0].value == "Accounts"
    assert list(at.dataframe[0].value["Name"]) == ["Ada Admin", "Ed Editor", "Vera Viewer"]
    at.text_input(key="accounts_new_name_0").input("Nima Reporter")
    at.text_input(key="accounts_new_password_0").input("a long password")
    at.text_input(key="accounts_new_again_0").input("a long passworD")
    at.button(key="accounts_add_go").click()
    rerun(at)
    assert "The two passwords differ" in at.error[0].value and accounts.find_account("Nima") is None
    at.text_input(key="accounts_new_again_0").input("a long password")
    at.button(key="accounts_add_go").click()
    rerun(at)
    assert accounts.signed_in_account("nima reporter", "a long password").role == "viewer"
    assert "Ada Admin" not in at.selectbox(key="accounts_person").options  # never one's own account

    at.selectbox(key="accounts_person").set_value("Nima Reporter")
    rerun(at)
    at.selectbox(key="accounts_role_Nima Reporter_1").set_value("editor")
    rerun(at)
    at.button(key="accounts_role_go").click()
    rerun(at)
    assert accounts.find_account("Nima Reporter").role == "editor"
    at.selectbox(key="accounts_person").set_value("Nima Reporter")
    at.button(key="accounts_remove_ask").click()
    rerun(at)
    at.button(key="accounts_remove_yes").click()
    rerun(at)
    assert accounts.find_account("Nima Reporter") is None and "Removed **Nima Reporter**." in texts(at)
