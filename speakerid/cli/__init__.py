"""``python -m speakerid``: enrol, identify and verify speakers, and manage the gallery, from a shell.

Every sub-command is an ``add_<name>(subparsers)`` function listed in its command module's
``*_COMMANDS`` (speaker, archive, model, app): it builds the sub-command's parser with :func:`add_command`
and names the function that runs it. Heavy imports (TensorFlow, through the encoder) happen inside
those functions, so ``--help`` answers at once.

Any failure ends with exit code 2 and one line on stderr, ``error: ...``: a refused input says
why, anything else also names the exception; the traceback is printed only with ``--debug``.

Messages to people are in English or Nepali: ``--lang ne``, else the first of gettext's variables
(``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``) that names one (``LANG=ne_NP.UTF-8``).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import textwrap
import traceback

from .. import __version__
from ..errors import SpeakerIDError
from ..i18n import _, current_language, language_from_environment, set_language
from .app_commands import APP_COMMANDS
from .archive_commands import ARCHIVE_COMMANDS
from .common import EXIT_REFUSED, OneLineParser, add_debug_option, add_language_option, warn
from .model_commands import MODEL_COMMANDS
from .speaker_commands import COMMANDS

EXIT_BROKEN_PIPE = 141  # what a shell reports for a command stopped by SIGPIPE


# --- entry point --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m speakerid",
                           description=_("Tell who is speaking from a few seconds of voice."))
    parser.add_argument("--version", action="version", version=f"speakerid {__version__}",
                        help=_("show the version and exit"))
    add_debug_option(parser, default=False)
    add_language_option(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (*COMMANDS, *ARCHIVE_COMMANDS, *MODEL_COMMANDS, *APP_COMMANDS):
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; the exit status is 0, or 2 for any failure (1: cancelled)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    before = current_language()
    set_language(requested_language(argv) or language_from_environment())  # usage errors too
    try:
        return run(build_parser().parse_args(argv))
    finally:
        set_language(before)  # called in-process (tests, scripts): the caller's language stays


def run(args: argparse.Namespace) -> int:
    try:
        return args.run(args)
    except KeyboardInterrupt:
        warn(_("interrupted"))
        return 130
    except BrokenPipeError:
        # the reader stopped reading (`... | head`): not a failure to report; what is still
        # buffered goes nowhere, so that the exit's own flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        warn(failure(exc))
        return EXIT_REFUSED


def requested_language(argv: list[str] | None) -> str | None:
    """``--lang``'s value, read before the full parse so that the parse's own errors are in it
    (an unknown code is left for the full parse to refuse)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang")
    return early.parse_known_args(argv)[0].lang


def failure(exc: Exception) -> str:
    """What went wrong, for one line: a refusal in its own words; anything else named, shortened."""
    if isinstance(exc, SpeakerIDError | OSError | sqlite3.Error):
        return str(exc)
    detail = textwrap.shorten(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 400)
    return _("unexpected {problem} (run again with --debug for the traceback)").format(problem=detail)
