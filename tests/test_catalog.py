"""The Nepali catalog: every message people read is translated (extracted with Babel from the code,
as ``make catalog`` does), the compiled .mo the app reads is the .po translators edit, and no
translation asks for a value the code does not give."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

from speakerid.i18n import DOMAIN, LOCALE_DIR

pytest.importorskip("babel", reason="Babel (requirements-dev.txt) extracts and reads the catalog")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.frontend import parse_mapping_cfg  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PO = LOCALE_DIR / "ne" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")
FIELD = re.compile(r"\{(\w*)")


Key = tuple[str | tuple[str, ...], str | None]  # (msgid, msgctxt)


def extracted() -> set[Key]:
    """Every message in the code, read as ``make catalog`` reads it (babel.cfg, default keywords)."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(ROOT, method_map, options_map):
        found.add((tuple(message) if isinstance(message, (list, tuple)) else message, context))
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as po:
        return read_po(po)


def strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def test_every_message_in_the_code_has_a_nepali_translation(catalog):
    messages = {(message.id, message.context): message for message in catalog if message.id}
    in_code = extracted()
    assert len(in_code) > 300  # the extraction found the app's words, not an empty tree
    missing = sorted(str(m) for m in in_code if m not in messages)
    assert not missing, f"not in the catalog (run `make catalog` and translate): {missing[:10]}"
    untranslated = sorted(str(m) for m in in_code if not all(s.strip() for s in strings(messages[m].string)))
    assert not untranslated, f"no Nepali translation: {untranslated[:10]}"
    fuzzy = sorted(str(m) for m in in_code if messages[m].fuzzy)
    assert not fuzzy, f"marked fuzzy (a guess to check): {fuzzy[:10]}"


def test_translations_ask_only_for_the_values_the_code_gives(catalog):
    """A {field} the English lacks would raise KeyError in ``.format`` on a Nepali page."""
    wrong = [message.id for message in catalog if message.id and
             set(FIELD.findall(" ".join(strings(message.string))))
             - set(FIELD.findall(" ".join(strings(message.id))))]
    assert not wrong


def test_translations_keep_the_spaces_and_lines_that_join_them_to_other_text(catalog):
    """" · {count} could not be identified" is appended to other words: its space must stay."""
    def shape(text: str) -> tuple[bool, bool, int]:
        return text[:1] == " ", text[-1:] == " ", text.count("\n")

    wrong = [message.id for message in catalog if message.id and
             any(shape(english) != shape(nepali)
                 for english, nepali in zip(strings(message.id), strings(message.string)))]
    assert not wrong


def test_the_compiled_catalog_is_the_one_translators_edit(catalog):
    with open(MO, "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for message in catalog:
        if not message.id:
            continue
        if message.pluralizable:
            singular, plural = message.id
            assert [compiled.ngettext(singular, plural, n) for n in (1, 2)] == list(message.string), singular
        elif message.context:
            assert compiled.pgettext(message.context, message.id) == message.string, message.id
        else:
            assert compiled.gettext(message.id) == message.string, message.id
