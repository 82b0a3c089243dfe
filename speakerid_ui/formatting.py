"""Text for the pages: durations and times in a clip in the page's language, user text made literal
in Markdown."""

from __future__ import annotations

from speakerid import numerals
from speakerid.i18n import pgettext

MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$:"


def md(text: str) -> str:
    """User text (a speaker's name) shown literally inside Markdown."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


def without_name(message: str, name: str) -> str:
    """An error message without the file name it starts with (the page shows the name already)."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def seconds(value: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min (in the page's language)."""
    return numerals.duration(value)


def rough_duration(value: float) -> str:
    """An estimate to the minute: 17 min, 2 h 50 min."""
    return numerals.rough_duration(value)


def compact_duration(value: float) -> str:
    """12.3 s, 5:12, 1:02:05: short enough for a metric card or a table cell."""
    if value < 60:
        return numerals.digits(pgettext("short", "{seconds:.1f} s").format(seconds=value))
    whole = int(value)
    if whole < 3600:
        return numerals.digits(f"{whole // 60}:{whole % 60:02d}")
    return numerals.digits(f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}")


def clock(value: float) -> str:
    """A time in a clip as m:ss.s"""
    return numerals.digits(f"{int(value // 60)}:{value % 60:04.1f}")
