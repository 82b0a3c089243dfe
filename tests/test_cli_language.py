"""The CLI speaks Nepali when asked (``--lang ne``, before or after the command, or gettext's
variables such as ``LANG=ne_NP.UTF-8``), usage errors, ``--help`` and the library's refusals included,
and leaves the caller's language."""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Iterator

import pytest

from speakerid import i18n
from speakerid.cli import build_parser, main
from speakerid.i18n import in_language


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


DEVANAGARI = re.compile("[\u0900-\u097f]")


def help_texts(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every text ``--help`` shows for ``parser`` and its sub-commands: descriptions, summaries and
    the help of each option (argparse keeps the sub-commands' in private fields)."""
    yield parser.description
    for action in parser._actions:
        if action.help not in (None, argparse.SUPPRESS):
            yield action.help
        if isinstance(action, argparse._SubParsersAction):
            yield from (choice.help for choice in action._choices_actions)
            for subparser in action.choices.values():
                yield from help_texts(subparser)


def test_every_help_text_of_every_command_is_in_nepali():
    with in_language("ne"):
        nepali = list(help_texts(build_parser()))
    english = list(help_texts(build_parser()))
    assert len(nepali) == len(english) > 200  # every command, every option
    untranslated = [text for text in nepali if not DEVANAGARI.search(text)]
    assert not untranslated
    assert not set(nepali) & set(english)


@pytest.mark.parametrize("how", ["--lang", "LANG"])
def test_help_is_shown_in_nepali_headings_included(capsys, monkeypatch, how):
    if how == "LANG":
        monkeypatch.setenv("LANG", "ne_NP.UTF-8")
    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "ne", "gallery", "--help"] if how == "--lang" else ["identify", "--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("प्रयोग: python -m speakerid ")
    assert "विकल्पहरू:" in shown and "यो सहायता सन्देश देखाउनुहोस् र बाहिरिनुहोस्" in shown
    for english in ("usage:", "options:", "positional arguments", "show this help", "list the enrolled",
                    "tell who is speaking", "print machine-readable JSON", "%%"):
        assert english not in shown
    assert i18n.current_language() == "en"


def test_english_help_is_unchanged_and_shows_one_percent_sign(capsys):
    with pytest.raises(SystemExit):
        main(["identify", "--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("usage: python -m speakerid identify")
    assert "show this help message and exit" in shown and "how many ranked matches to show" in shown
    assert "15 % of it" in " ".join(shown.split())


def test_a_library_refusal_reaches_a_nepali_reader_in_nepali(tmp_path, capsys):
    gallery = ["--gallery", str(tmp_path / "g.sqlite")]
    assert main(["--lang", "ne", "gallery", "rename", "Nobody", "Somebody", *gallery]) == 2
    assert capsys.readouterr().err.strip() == "त्रुटि: 'Nobody' दर्ता भएका छैनन्"
    assert main(["gallery", "rename", "Nobody", "Somebody", *gallery]) == 2
    assert capsys.readouterr().err.strip() == "error: 'Nobody' is not enrolled"


def test_a_shortened_or_mistyped_name_gets_the_enrolled_names_it_may_mean():
    from speakerid.gallery.names import near_names, not_enrolled

    enrolled = ["Demo reader 1 (LibriSpeech 198)", "Pushpa Kamal Dahal", "पुष्पकमल दाहाल"]
    assert near_names("demo READER 1", enrolled) == ["Demo reader 1 (LibriSpeech 198)"]
    assert near_names("Pushpa Kamal Dahl", enrolled) == ["Pushpa Kamal Dahal"]
    assert near_names("पुष्पकमल", enrolled) == ["पुष्पकमल दाहाल"]
    assert near_names("Prachanda", enrolled) == []
    assert str(not_enrolled("Dahl", ["Pushpa Kamal Dahal"])) == (
        "'Dahl' is not enrolled; did you mean 'Pushpa Kamal Dahal'?")


@pytest.mark.parametrize(("argv", "nepali", "english"), [
    (["identify"], "यी आर्गुमेन्ट चाहिन्छन्: FILE_OR_LINK", "the following arguments are required: FILE_OR_LINK"),
    (["frobnicate"], "आर्गुमेन्ट COMMAND: अमान्य छनोट: 'frobnicate' (यीमध्ये छान्नुहोस्: 'enroll', ",
     "argument COMMAND: invalid choice: 'frobnicate' (choose from 'enroll', "),
    (["gallery", "calibrate", "--apply", "--reset"], "आर्गुमेन्ट --reset: आर्गुमेन्ट --apply सँग अनुमति छैन",
     "argument --reset: not allowed with argument --apply"),
    (["gallery", "list", "--nope"], "नचिनिएका आर्गुमेन्ट: --nope", "unrecognized arguments: --nope"),
])
def test_argparses_own_usage_errors_are_said_in_nepali(capsys, argv, nepali, english):
    for lang, expected in (("ne", nepali), ("en", english)):
        with pytest.raises(SystemExit) as exit_:
            main(["--lang", lang, *argv])
        assert exit_.value.code == 2
        error = capsys.readouterr().err
        assert error.startswith(("त्रुटि: " if lang == "ne" else "error: ") + expected)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, untrained_encoder):
    return untrained_encoder.save(tmp_path_factory.mktemp("model"))


def test_tables_and_counts_use_nepali_digits_names_and_json_keep_theirs(tmp_path, model_dir, voice_file,
                                                                         capsys):
    gallery = ["--gallery", str(tmp_path / "g.sqlite")]
    clip = str(voice_file(0, 6.0, "reader.wav"))
    assert main(["--lang", "ne", "enroll", "--name", "Reader 198", "--weights", str(model_dir), clip,
                 *gallery]) == 0
    assert capsys.readouterr().out.startswith("Reader 198 दर्ता भयो: १ क्लिप, ")
    assert main(["--lang", "ne", "gallery", "list", *gallery]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert re.fullmatch(r"Reader 198\s+१\s+[०-९]+\.[०-९] सेकेन्ड", row)  # the name keeps its digits
    assert main(["--lang", "ne", "gallery", "history", *gallery]) == 0
    change = capsys.readouterr().out.splitlines()[1]
    assert re.match(r"१\s+[०-९]{4}-[०-९]{2}-[०-९]{2}", change)
    assert change.endswith("Reader 198 दर्ता गरियो (१ क्लिप)")
    assert main(["--lang", "ne", "gallery", "list", "--json", *gallery]) == 0
    assert '"clips": 1' in capsys.readouterr().out  # machine-readable, Latin digits


def test_a_number_may_be_typed_in_nepali_digits(tmp_path, model_dir, voice_file, capsys):
    gallery = ["--gallery", str(tmp_path / "g.sqlite")]
    assert main(["enroll", "--name", "Ann", "--weights", str(model_dir), str(voice_file(0, 6.0)),
                 *gallery]) == 0
    assert main(["--lang", "ne", "gallery", "history", "--limit", "१", *gallery]) == 0
    assert main(["--lang", "ne", "gallery", "undo", "१", *gallery]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("परिवर्तन २: ")
    assert main(["gallery", "list", *gallery]) == 0
    assert capsys.readouterr().out.startswith("the gallery is empty")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_name_their_units_in_nepali(monkeypatch):
    from speakerid.cli.common import progress_bar

    monkeypatch.setattr(sys, "stderr", Terminal())
    with in_language("ne"), progress_bar(i18n._("timeline"), i18n.pgettext("progress unit", "window")) as bar:
        bar(3, 10)
    drawn = sys.stderr.getvalue()
    assert "विन्डो" in drawn and "window" not in drawn
