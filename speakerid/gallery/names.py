"""Speaker names and details as the gallery stores them: one cleaned form, refused when unusable."""

from __future__ import annotations

import unicodedata

from ..errors import SpeakerIDError

MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 10_000


def clean_name(name: str) -> str:
    """The stored form of a speaker name (NFC, stripped); any Unicode, but one line of it."""
    if not isinstance(name, str):
        raise SpeakerIDError(f"a speaker name must be text, not {type(name).__name__}")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise SpeakerIDError("the speaker name is empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise SpeakerIDError(f"the speaker name has {len(cleaned)} characters; at most "
                             f"{MAX_NAME_CHARS} are allowed")
    if any(unicodedata.category(char) == "Cc" for char in cleaned):
        raise SpeakerIDError("the speaker name must be one line without control characters")
    return cleaned


def clean_text(value: str | None, field: str) -> str | None:
    """A stripped optional detail; blank means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpeakerIDError(f"{field} must be text, not {type(value).__name__}")
    cleaned = value.strip()
    if len(cleaned) > MAX_TEXT_CHARS:
        raise SpeakerIDError(f"{field} is longer than {MAX_TEXT_CHARS} characters")
    return cleaned or None


def not_enrolled(name: str) -> SpeakerIDError:
    return SpeakerIDError(f"{name!r} is not enrolled")
