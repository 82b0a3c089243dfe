"""The CLI speaks Nepali when asked (``--lang ne``, before or after the command, or gettext's
variables such as ``LANG=ne_NP.UTF-8``), usage errors included, and leaves the caller's language."""

from __future__ import annotations

import pytest

from speakerid import i18n
from speakerid.cli import main


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize("where", ["before", "after"])
def test_lang_ne_answers_in_nepali(tmp_path, capsys, where):
    command = ["gallery", "list", "--gallery", str(tmp_path / "g.sqlite")]
    argv = ["--lang", "ne", *command] if where == "before" else [*command, "--lang", "ne"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("ग्यालरी खाली छ")
    assert i18n.current_language() == "en"  # the caller's language is back


def test_langs_environment_picks_nepali_for_usage_errors_too(capsys, monkeypatch):
    monkeypatch.setenv("LANG", "ne_NP.UTF-8")
    with pytest.raises(SystemExit):
        main(["identify", "--top-k", "0", "clip.wav"])
    error = capsys.readouterr().err
    assert error.startswith("त्रुटि: ") and "कम्तीमा १ को पूर्ण सङ्ख्या चाहिन्छ" in error


def test_english_stays_the_default(tmp_path, capsys):
    assert main(["gallery", "list", "--gallery", str(tmp_path / "g.sqlite")]) == 0
    assert capsys.readouterr().out.startswith("the gallery is empty")
