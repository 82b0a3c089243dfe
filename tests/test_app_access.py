"""Nobody in by default, in the app itself (AppTest): with a password set, a session without it gets the
sign-in form and nothing else, no page, no sidebar, no gallery; a wrong password is refused and the
right one opens the app. Served on a network address without a password, the app serves nothing."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from test_app import ROOT, TIMEOUT, enrol, make_model, texts, wav

from speakerid.app.access import hash_password

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(autouse=True)
def served(weights, monkeypatch, streamlit_option):
    """A gallery with a speaker in it; no secrets file read unless a test gives the app secrets."""
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(weights))
    streamlit_option("secrets.files", [])
    enrol("Alice Secretname", wav(0, 6.0))


def visit(password_hash: str | None = None) -> AppTest:
    """A new browser session's first look at the app (``password_hash``: the one in its secrets)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if password_hash is not None:
        at.secrets["speakerid_auth"] = {"password_hash": password_hash}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shows_nothing_of_the_app(at: AppTest) -> bool:
    everything = texts(at)  # every text element, in the sidebar too
    return ("Secretname" not in everything and "enrolled" not in everything and not at.sidebar.children
            and not at.file_uploader and "Who is speaking?" not in everything)


@pytest.mark.parametrize("address", ["localhost", "0.0.0.0"])
def test_with_a_password_set_nobody_gets_in_without_it(streamlit_option, stored_hash, address):
    streamlit_option("server.address", address)
    at = visit(stored_hash)
    assert at.text_input(key="sign_in_password").value == ""
    assert shows_nothing_of_the_app(at)
    at.switch_page("pages/gallery.py").run()  # a page's own address: the same form
    assert at.text_input(key="sign_in_password") and shows_nothing_of_the_app(at)

    at.text_input(key="sign_in_password").input("correct horse battery!")
    at.button(key="sign_in_submit").click()
    at.run()
    assert "Wrong password." in [e.value for e in at.error]
    assert shows_nothing_of_the_app(at)

    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button(key="sign_in_submit").click()
    at.run()  # signed in: the page that was asked for, with the sidebar
    assert not at.exception and not at.error
    assert not [t for t in at.text_input if t.key == "sign_in_password"]
    assert at.title[0].value == "Gallery" and "Secretname" in texts(at) + str([e.value for e in at.selectbox])
    assert "**1** speaker enrolled" in texts(at)
    at.switch_page("pages/identify.py").run()  # and stays signed in from page to page
    assert at.title[0].value == "Who is speaking?" and not at.exception


def test_on_the_network_without_a_password_nothing_is_served(streamlit_option):
    streamlit_option("server.address", "0.0.0.0")
    at = visit()
    assert shows_nothing_of_the_app(at) and not at.text_input
    refusal = at.error[0].value
    assert "nobody can sign in" in refusal and "app-user add" in refusal and "app-password" in refusal


def test_a_hash_the_app_cannot_read_lets_nobody_in(streamlit_option):
    streamlit_option("server.address", "localhost")
    at = visit("my plain password")
    at.text_input(key="sign_in_password").input("my plain password")
    at.button(key="sign_in_submit").click()
    at.run()
    assert "Nobody can sign in" in at.error[0].value and shows_nothing_of_the_app(at)


def test_on_this_computer_without_a_password_the_app_opens(streamlit_option):
    streamlit_option("server.address", "localhost")
    at = visit()
    assert at.title[0].value == "Who is speaking?" and not at.text_input
