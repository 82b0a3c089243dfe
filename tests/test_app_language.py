"""The app in Nepali with AppTest: ``/?lang=ne`` opens it in Nepali, every page follows the sidebar's
switch, and the address keeps the language from page to page."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest
from test_app import ROOT, TIMEOUT, app_env, model_loaded, rerun, texts, weights  # noqa: F401 (fixtures)

DEVANAGARI = re.compile("[\u0900-\u097f]")
TITLES = {  # each page's title in English and Nepali
    "identify": ("Who is speaking?", "को बोल्दै हुनुहुन्छ?"),
    "gallery": ("Gallery", "ग्यालरी"),
    "archive": ("Archive", "अभिलेख"),
    "live": ("Live", "लाइभ"),
    "train": ("Train a model", "मोडेललाई तालिम दिनुहोस्"),
}


def open_in(language: str) -> AppTest:
    """The app as ``/?lang=<language>`` opens it, after the redraw once the model has loaded."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["lang"] = language
    at.run()
    if not model_loaded():
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_lang_ne_opens_the_app_in_nepali():
    at = open_in("ne")
    assert at.title[0].value == "को बोल्दै हुनुहुन्छ?"
    assert at.radio(key="language").value == "ne"
    assert "सुरु गर्नुहोस्" in texts(at) and "**०** वक्ता दर्ता भएका छन्" in texts(at)
    assert not re.search("Getting started|speakers enrolled", texts(at))


def test_every_page_switches_language_and_the_address_keeps_it():
    at = open_in("ne")
    for page, (english, nepali) in TITLES.items():
        at.switch_page(f"pages/{page}.py")
        rerun(at)
        assert at.title[0].value == nepali and DEVANAGARI.search(nepali), page
        assert at.query_params["lang"] in ("ne", ["ne"]), page
        at.radio(key="language").set_value("en")
        rerun(at)
        assert at.title[0].value == english, page
        at.radio(key="language").set_value("ne")
        rerun(at)
        assert at.title[0].value == nepali, page
