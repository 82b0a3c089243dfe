"""Numbers and durations as the reader's language writes them: Nepali with its own digits (०-९)
and words ("१ मिनेट ५ सेकेन्ड"), English as before ("1 min 05 s"). Used by the app and the CLI."""

from __future__ import annotations

import unicodedata

from speakerid.i18n import _, current_language

DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")
NATIVE_DIGITS = {"ne": DEVANAGARI_DIGITS}


def digits(text: str) -> str:
    """``text`` with its digits in the current language's own (unchanged in English)."""
    table = NATIVE_DIGITS.get(current_language())
    return text.translate(table) if table else text


def latin_digits(text: str) -> str:
    """``text`` with the digits of any script as 0-9: a number as typed ("१७") as stored ("17")."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def number(value: float, spec: str = "") -> str:
    """``format(value, spec)`` in the current language's digits: ``number(1234, ",")`` -> ``१,२३४``."""
    return digits(format(value, spec))


def percent(share: float, spec: str = ".0%") -> str:
    """A share as a percentage: 0.42 -> ``42%`` (``४२%`` in Nepali). For a probability shown to
    people, :func:`speakerid.verdict.percent`, which never rounds to a false 100 % or 0 %."""
    return number(share, spec)


def duration(value: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min (Nepali: १२.३ सेकेन्ड, ४ मिनेट ५ सेकेन्ड, १ घण्टा २ मिनेट)."""
    if value < 60:
        return digits(_("{seconds:.1f} s").format(seconds=value))
    if value < 3600:
        return digits(_("{minutes} min {seconds:02d} s").format(minutes=int(value // 60),
                                                               seconds=int(value % 60)))
    return digits(_("{hours} h {minutes:02d} min").format(hours=int(value // 3600),
                                                         minutes=int(value % 3600 // 60)))


def rough_duration(value: float) -> str:
    """An estimate to the minute: 17 min, 2 h 50 min."""
    minutes = max(1, round(value / 60))
    if minutes < 60:
        return digits(_("{minutes} min").format(minutes=minutes))
    return digits(_("{hours} h {minutes:02d} min").format(hours=minutes // 60, minutes=minutes % 60))
