"""Speaker names and details as the gallery stores them: one cleaned form, refused when unusable,
and the key names are matched by, so that one name typed two ways is one speaker."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence

from ..errors import SpeakerIDError
from ..i18n import _

MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 10_000


def clean_name(name: str) -> str:
    """The stored form of a speaker name (NFC, runs of spaces made one, stripped); any Unicode,
    but one line of it."""
    if not isinstance(name, str):
        raise SpeakerIDError(_("a speaker name must be text, not {kind}").format(kind=type(name).__name__))
    stripped = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(char) == "Cc" for char in stripped):  # before newlines become spaces
        raise SpeakerIDError(_("the speaker name must be one line without control characters"))
    cleaned = normal_form(stripped)
    if not cleaned:
        raise SpeakerIDError(_("the speaker name is empty"))
    if len(cleaned) > MAX_NAME_CHARS:
        raise SpeakerIDError(_("the speaker name has {length} characters; at most "
                               "{max_name_chars} are allowed").format(
                                   length=len(cleaned), max_name_chars=MAX_NAME_CHARS))
    return cleaned


def normal_form(text: str) -> str:
    """``text`` in NFC with every run of whitespace one space, stripped (nothing refused)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def name_key(name: str) -> str:
    """What names and aliases are matched by: the normal form, case folded (Latin and every other
    script with case; Devanagari has none), so "Ann  LEE" and "ann lee" are one name."""
    return unicodedata.normalize("NFC", normal_form(name).casefold())


def clean_text(value: str | None, field: str) -> str | None:
    """A stripped optional detail; blank means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpeakerIDError(_("{field} must be text, not {kind}").format(
            field=field, kind=type(value).__name__))
    cleaned = value.strip()
    if len(cleaned) > MAX_TEXT_CHARS:
        raise SpeakerIDError(_("{field} is longer than {max_text_chars} characters").format(
            field=field, max_text_chars=MAX_TEXT_CHARS))
    return cleaned or None


def near_names(typed: str, names: Sequence[str], most: int = 3) -> list[str]:
    """The enrolled ``names`` a shortened or mistyped ``typed`` may mean: those that hold it (as
    names are matched, case aside), then the closest spellings; at most ``most``."""
    key = name_key(typed)
    keys = {name_key(name): name for name in names}
    holding = [name for found, name in keys.items() if key and key in found]
    close = [keys[found] for found in difflib.get_close_matches(key, list(keys), n=most, cutoff=0.8)]
    return list(dict.fromkeys(holding + close))[:most]


def not_enrolled(name: str, near: Sequence[str] = ()) -> SpeakerIDError:
    """Nobody of ``name`` is enrolled; ``near``: the enrolled names it may mean (:func:`near_names`)."""
    if near:
        return SpeakerIDError(_("{name!r} is not enrolled; did you mean {names}?").format(
            name=name, names=", ".join(map(repr, near))))
    return SpeakerIDError(_("{name!r} is not enrolled").format(name=name))
