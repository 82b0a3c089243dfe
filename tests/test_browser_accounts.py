"""Accounts end to end in headless Chromium, as a newsroom sets them up: the first admin is added on
the server (``python -m speakerid app-user add``); in the app the admin enrols the demo voices and,
on the Accounts page, adds an editor and a viewer; the viewer signs in, stays signed in across a
reload (the signed cookie), identifies a demo clip, and is offered no control that enrols or
removes anyone, nor the Train and Accounts pages. Nothing here is timed.

Skipped without Chromium, Playwright or the shipped model (``weights/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit_browser import CHROMIUM, ROOT, app_env, launch_chromium, streamlit_server

SHIPPED_MODEL = ROOT / "weights"
PASSWORDS = {"Ada Admin": "admin's long password", "Ed Editor": "editor's long password",
             "Vera Viewer": "viewer's long password"}

if not CHROMIUM.is_file():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")
from test_browser import wait_idle, watched_page  # noqa: E402 (after the skips)


def silent_microphone(path: Path) -> Path:
    """The fake microphone's input (nothing here records): a second of silence."""
    import numpy as np
    import soundfile as sf

    sf.write(path, np.zeros(48000, np.float32), 48000, subtype="PCM_16")
    return path


def open_page(playwright, tmp_path: Path):
    """Chromium with a 1440 px page, its steps waited for as the other browser tests wait: (browser, page)."""
    browser = launch_chromium(playwright, silent_microphone(tmp_path / "mic.wav"))
    return browser, watched_page(browser.new_context(viewport={"width": 1440, "height": 1000}))


def sign_in(page, name: str) -> None:
    wait_idle(page)
    form = page.locator('[data-testid="stForm"]')
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Password", exact=True).fill(PASSWORDS[name])
    form.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebar"]').get_by_text(f"Signed in as {name}").wait_for()
    wait_idle(page)


def add_account(page, name: str, role: str) -> None:
    """The Accounts page's form, as an admin fills it in."""
    form = page.locator('[data-testid="stForm"]').filter(has_text="Add someone")
    form.get_by_label("Name", exact=True).fill(name)
    form.locator('[data-testid="stSelectbox"]').click()
    page.get_by_role("option", name=re.compile(f"^{role}:")).click()
    form.get_by_label("Password (8 characters or more)").fill(PASSWORDS[name])
    form.get_by_label("The password again").fill(PASSWORDS[name])
    form.get_by_role("button", name="Add").click()
    page.get_by_text(f"Added {name} ({role})").wait_for()
    wait_idle(page)


def test_an_admin_adds_an_editor_and_a_viewer_who_identifies_but_changes_nothing(tmp_path: Path):
    from speakerid.app.accounts import add_account as add_on_the_server
    from speakerid.demo import demo_examples

    if not (SHIPPED_MODEL / "config.json").is_file():
        pytest.skip(f"the shipped model is not in this checkout ({SHIPPED_MODEL})")
    home = tmp_path / "home"
    env = app_env(home, SHIPPED_MODEL)
    add_on_the_server("Ada Admin", PASSWORDS["Ada Admin"], "admin",
                      path=home / "secrets" / "accounts.json")
    first = demo_examples()[0]
    with (streamlit_server("app.py", env, tmp_path / "streamlit.log") as url,
          playwright_api.sync_playwright() as playwright):
        browser, page = open_page(playwright, tmp_path)
        try:
            page.goto(url)
            sign_in(page, "Ada Admin")
            page.get_by_role("button", name="Try the demo voices").click()
            page.get_by_role("button", name=first.label).wait_for()
            wait_idle(page)

            page.goto(f"{url}/accounts")  # a new page load: still signed in, by the cookie
            page.get_by_role("heading", name="Accounts").wait_for()
            add_account(page, "Ed Editor", "editor")
            add_account(page, "Vera Viewer", "viewer")
            page.get_by_role("button", name="Sign out").click()

            sign_in(page, "Vera Viewer")
            page.reload()
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Signed in as Vera Viewer (viewer)").wait_for()
            wait_idle(page)
            page.get_by_role("button", name=first.label).click()
            page.locator(".st-key-verdict h3").filter(has_text=first.speaker).wait_for()
            wait_idle(page)
            assert page.get_by_role("button", name="Try the demo voices").count() == 0
            assert sidebar.get_by_role("link", name="Train").count() == 0
            assert sidebar.get_by_role("link", name="Accounts").count() == 0

            page.goto(f"{url}/gallery")
            page.get_by_text("Enrolling, editing and removing speakers is for editors and admins.").wait_for()
            wait_idle(page)
            assert page.get_by_role("tab", name=re.compile("Enrol a speaker|Edit or remove")).count() == 0
            assert page.get_by_role("button", name=re.compile("^(Enrol|Remove)")).count() == 0
            assert "Traceback" not in page.locator("body").inner_text()
        finally:
            page.screenshot(path=str(tmp_path / "accounts.png"), full_page=True)
            browser.close()
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log, log[-3000:]
