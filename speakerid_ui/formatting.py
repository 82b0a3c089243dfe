"""Text for the pages: durations, times in a clip, user text made literal in Markdown."""

from __future__ import annotations

MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$:"


def md(text: str) -> str:
    """User text (a speaker's name) shown literally inside Markdown."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


def without_name(message: str, name: str) -> str:
    """An error message without the file name it starts with (the page shows the name already)."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def seconds(value: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def clock(value: float) -> str:
    """A time in a clip as m:ss.s"""
    return f"{int(value // 60)}:{value % 60:04.1f}"
