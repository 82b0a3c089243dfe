"""Words for people in their language: gettext catalogs under ``speakerid/locale/`` (Babel
extracts and compiles them, translators use their usual tools). Every message a person reads goes
through ``_``; the language is chosen per thread (each Streamlit session runs its script in its own
thread, so one journalist's Nepali never leaks into another's English page)."""

from __future__ import annotations

import gettext
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "speakerid"
LANGUAGES = {"en": "English", "ne": "नेपाली"}
DEFAULT_LANGUAGE = "en"

_current = threading.local()


def set_language(code: str | None) -> str:
    """Use ``code``'s catalog for this thread's messages; an unknown code falls back to English.

    Returns:
        The language now in use.
    """
    language = code if code in LANGUAGES else DEFAULT_LANGUAGE
    _current.language = language
    return language


def language_from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """The first of our languages named by gettext's variables (``LANGUAGE``, ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``, in gettext's order): ``LANG=ne_NP.UTF-8`` gives ``ne``; None if none."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for entry in environ.get(variable, "").split(":"):
            code = entry.split(".")[0].split("_")[0].split("@")[0].lower()
            if code in LANGUAGES:
                return code
    return None


def current_language() -> str:
    return getattr(_current, "language", DEFAULT_LANGUAGE)


@contextmanager
def in_language(code: str) -> Iterator[str]:
    """``code``'s messages for this thread inside the block, its language before restored after:
    for work done later, on another thread, in the language of the page that asked for it."""
    before = current_language()
    try:
        yield set_language(code)
    finally:
        set_language(before)


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """``message`` in this thread's language (itself where the catalog has no translation)."""
    return _catalog(current_language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is defined (a constant, read before any language is
    chosen); it is translated with ``_`` where it is shown."""
    return message


def translator() -> Callable[[str], str]:
    """This thread's ``_``, bound to its language now: for a widget's ``format_func``, which
    Streamlit may call from another thread (its test harness does)."""
    return _catalog(current_language()).gettext


def pgettext(context: str, message: str) -> str:
    """``message`` as said in ``context`` ("short": a metric card's few characters), where one
    English text needs two translations."""
    return _catalog(current_language()).pgettext(context, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message that fits ``count`` in this thread's language."""
    return _catalog(current_language()).ngettext(singular, plural, count)
