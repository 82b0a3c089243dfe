"""The language of messages is chosen per thread and falls back to English."""

import threading

from speakerid import i18n


def test_an_unknown_language_falls_back_to_english():
    assert i18n.set_language("xx") == "en"
    assert i18n._("Unknown speaker") == "Unknown speaker"


def test_each_thread_keeps_its_own_language():
    i18n.set_language("ne")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(i18n.current_language()))
    worker.start()
    worker.join()
    assert seen == ["en"] and i18n.current_language() == "ne"
    i18n.set_language("en")


def test_work_done_on_another_thread_can_be_in_the_pages_language():
    """As the Identify page's evidence download does: the language is taken along and given back."""
    i18n.set_language("ne")
    language = i18n.current_language()
    seen = []

    def later() -> None:
        with i18n.in_language(language):
            seen.append(i18n._("Unknown speaker"))
        seen.append(i18n.current_language())

    worker = threading.Thread(target=later)
    worker.start()
    worker.join()
    i18n.set_language("en")
    assert seen == ["अज्ञात वक्ता", "en"]
