"""The gallery's history end to end in headless Chromium, as a newsroom editor would use it: the
editor signs in, enrols the demo voices, removes a speaker; the Gallery page's History tab lists the
removal under the editor's name, and its Undo button brings the speaker back with every clip.
Nothing here is timed.

Skipped without Chromium, Playwright or the shipped model (``weights/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit_browser import CHROMIUM, app_env, streamlit_server

if not CHROMIUM.is_file():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")
from test_browser import wait_idle  # noqa: E402 (after the skips)
from test_browser_accounts import PASSWORDS, SHIPPED_MODEL, open_page, sign_in  # noqa: E402


def test_an_editor_removes_a_speaker_sees_it_in_the_history_and_undoes_it(tmp_path: Path):
    from speakerid import Gallery, paths
    from speakerid.app.accounts import add_account

    if not (SHIPPED_MODEL / "config.json").is_file():
        pytest.skip(f"the shipped model is not in this checkout ({SHIPPED_MODEL})")
    home = tmp_path / "home"
    env = app_env(home, SHIPPED_MODEL)
    for name, role in (("Ada Admin", "admin"), ("Ed Editor", "editor")):  # the first account is an admin's
        add_account(name, PASSWORDS[name], role, path=home / "secrets" / "accounts.json")
    with (streamlit_server("app.py", env, tmp_path / "streamlit.log") as url,
          playwright_api.sync_playwright() as playwright):
        browser, page = open_page(playwright, tmp_path)
        try:
            page.goto(url)
            sign_in(page, "Ed Editor")
            page.get_by_role("button", name="Try the demo voices").click()
            wait_idle(page)
            with Gallery(home / paths.gallery_path().name) as gallery:
                before = {s.name: s.clips for s in gallery.speakers()}
            removed = sorted(before, key=str.casefold)[0]  # the Edit tab's first speaker

            page.goto(f"{url}/gallery")
            page.get_by_role("tab", name=re.compile("Edit or remove")).click()
            wait_idle(page)
            page.get_by_role("button", name=f"Remove {removed}…").click()
            page.get_by_role("button", name="Yes, remove").wait_for()
            wait_idle(page)  # a click during the rerun that drew the button can be lost (seen under load)
            page.get_by_role("button", name="Yes, remove").click()
            page.get_by_text(f"Removed {removed}.").wait_for()
            wait_idle(page)

            page.get_by_role("tab", name=re.compile("History")).click()
            with Gallery(home / paths.gallery_path().name) as gallery:
                removal = gallery.history(limit=1)[0]
            clips = f"{before[removed]} clip{'s' if before[removed] > 1 else ''}"
            assert (removal.what, removal.user) == (f"removed {removed} ({clips})", "Ed Editor")
            page.get_by_text(removal.what).wait_for()
            page.get_by_text("Ed Editor", exact=True).first.wait_for()  # the Who column, not the sidebar
            page.get_by_role("button", name="Undo").first.click()
            page.get_by_text(re.compile(r"Undid change \d+: removed ")).wait_for()
            wait_idle(page)
            with Gallery(home / paths.gallery_path().name) as gallery:
                assert {s.name: s.clips for s in gallery.speakers()} == before
                assert gallery.history(limit=1)[0].user == "Ed Editor"
            assert "Traceback" not in page.locator("body").inner_text()
        finally:
            page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
            browser.close()
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log, log[-3000:]
