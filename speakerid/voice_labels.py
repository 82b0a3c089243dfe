"""The labels of voices nobody enrolled ("Voice A" in a clip's timeline, "Voice 17" in the
archive): made, shown in the language in use, and read back as people type them. The label itself
is the identifier in JSON, reports and files; only its display is translated. A module of its own,
with no dependency but the catalog and its digits, so that the verdict's wording can use it without
importing the voice finding (which needs the gallery)."""

from __future__ import annotations

import string

from .i18n import _
from .numerals import digits, latin_digits

VOICE_PREFIX = "Voice"


def voice_label(index: int) -> str:
    """ "Voice A" ... "Voice Z", then "Voice AA", "Voice AB", ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return f"{VOICE_PREFIX} {letters}"


def shown_voice(label: str | None) -> str | None:
    """A voice's label ("Voice A" here, "Voice 17" in the archive) as people read it, in the
    language in use ("आवाज A", "आवाज १७"); the label itself stays the identifier in JSON, reports
    and files. Anything else (an enrolled name, None) is returned as it is."""
    if label is None or not label.startswith(VOICE_PREFIX + " "):
        return label
    return _("Voice {id}").format(id=digits(label[len(VOICE_PREFIX) + 1:]))


def typed_voice(text: str) -> str:
    """A voice as a person typed it, in English or in the language in use ("आवाज A", "voice a",
    "आवाज १७"), as its label ("Voice A", "Voice 17"); text naming no voice comes back with its
    spaces tidied."""
    words = text.split()
    prefixes = {VOICE_PREFIX.casefold(), _("Voice {id}").format(id="").strip().casefold()}
    if len(words) == 2 and words[0].casefold() in prefixes:
        return f"{VOICE_PREFIX} {latin_digits(words[1]).upper()}"
    return " ".join(words)
