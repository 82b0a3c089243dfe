"""The app in Nepali, in Chromium: ``/?lang=ne`` opens it in Devanagari, a politician enrolled as
"पुष्पकमल दाहाल" is named in the verdict and on the timeline of a conversation, the sidebar's links
keep the language, the switch turns a page to English, and the server's log has no traceback and no
missing glyph. With ``SPEAKERID_SCREENSHOTS=1`` (``make screenshots``) it saves the README's Nepali
screenshots. The voices are the bundled demo readers (LibriSpeech, assets/demo/NOTICE) on the
shipped model, named here as a newsroom would name its speakers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit_browser import ROOT, app_env, streamlit_server
from test_browser import (  # noqa: F401 (fixtures)
    SHIPPED_MODEL,
    browser,
    files,
    screenshot,
    upload,
    wait_idle,
    watched_page,
)

DEMO = ROOT / "assets" / "demo"
DAHAL, THAPA = "पुष्पकमल दाहाल", "राम थापा"


def conversation(path: Path) -> Path:
    """Three readers in turn, 0.6 s apart (over 20 s, so the page draws who speaks when): Dahal's
    voice, a reader nobody enrolled, Thapa's voice; none of it the audio they were enrolled from."""
    import soundfile as sf

    parts = []
    for name in ("demo-reader-2", "unknown-reader", "demo-reader-4"):
        samples, rate = sf.read(DEMO / "examples" / f"{name}.flac", dtype="float32")
        parts += [samples, np.zeros(int(0.6 * rate), np.float32)]
    sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def nepali_server(tmp_path_factory):
    """The shipped model, with the two readers enrolled under Nepali names (through the library,
    as the Gallery page does)."""
    from speakerid.audio import load_audio
    from speakerid.gallery import Gallery
    from speakerid.models.loader import load_model

    if not (SHIPPED_MODEL / "config.json").is_file():
        pytest.skip(f"the shipped model is not in this checkout ({SHIPPED_MODEL})")
    root = tmp_path_factory.mktemp("nepali-app")
    home = root / "home"
    home.mkdir()
    with Gallery(home / "gallery.sqlite", load_model(SHIPPED_MODEL)) as gallery:
        gallery.enroll(DAHAL, load_audio(DEMO / "voices" / "reader-2.flac"), party="नेपाल कम्युनिस्ट पार्टी")
        gallery.enroll(THAPA, load_audio(DEMO / "voices" / "reader-4.flac"), party="नेपाली काङ्ग्रेस")
    with streamlit_server("app.py", app_env(home, SHIPPED_MODEL), root / "streamlit.log") as url:
        yield {"url": url, "log": root / "streamlit.log", "clip": conversation(root / "भेला.wav")}


def test_nepali_pages_name_a_devanagari_speaker_and_keep_the_language(browser, nepali_server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 1300}, device_scale_factor=1)
    try:
        page = watched_page(context)
        page.goto(f"{nepali_server['url']}/?lang=ne")
        page.locator("h1").filter(has_text="को बोल्दै हुनुहुन्छ?").wait_for()
        upload(page, "अडियो वा भिडियो फाइलहरू", nepali_server["clip"])
        page.get_by_text("कसले कहिले बोल्यो").first.wait_for()
        page.get_by_text("बोलेको समय:").wait_for()
        wait_idle(page)
        body = page.locator("body").inner_text()
        assert DAHAL in page.locator(".st-key-verdict").inner_text()
        timeline = body.split("कसले कहिले बोल्यो", 1)[1]
        assert DAHAL in timeline and THAPA in timeline  # the speaking times under the chart
        assert "Who is speaking" not in body and "Traceback" not in body
        assert "Voice A" not in body and "आवाज A" in timeline  # a found voice, said in Nepali
        screenshot(page, "identify-ne.png")
        page.get_by_text("कसले कहिले बोल्यो").first.evaluate("heading => heading.scrollIntoView()")
        screenshot(page, "timeline-ne.png")

        page.get_by_role("link", name="ग्यालरी").click()  # the sidebar's menu keeps ?lang=ne
        page.locator("h1").filter(has_text="ग्यालरी").wait_for()
        wait_idle(page)
        assert re.search(r"[?&]lang=ne\b", page.url), page.url
        screenshot(page, "gallery-ne.png")

        page.get_by_text("English", exact=True).click()  # the switch: the same page, in English
        page.locator("h1").filter(has_text="Gallery").wait_for()
        wait_idle(page)
        assert re.search(r"[?&]lang=en\b", page.url), page.url
        assert "Everyone the app can recognise" in page.locator("body").inner_text()
    finally:
        context.close()
    log = nepali_server["log"].read_text()
    assert not re.search("Traceback|Glyph|missing from font", log), log[-3000:]
