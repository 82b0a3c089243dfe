"""What every command group builds on: exit codes, :func:`add_command`, the shared options,
output (one line a refusal) and progress bars. Command modules import it; it imports none of them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import SpeakerIDError
from ..i18n import LANGUAGES, _
from ..numerals import number
from .usage_errors import translated_usage_error

if TYPE_CHECKING:
    from ..fetch import DownloadProgress, FetchLimits
    from ..gallery import Gallery
    from ..inputs import Input, Span
    from ..models.base import SpeakerModel

EXIT_OK = 0
EXIT_CANCELLED = 1
EXIT_REFUSED = 2
Runner = Callable[[argparse.Namespace], int]
Subparsers = Any  # argparse's private _SubParsersAction


# --- shared pieces for sub-commands -------------------------------------------------------------
class TranslatedHelpFormatter(argparse.HelpFormatter):
    """argparse's help layout with its "usage: " in the language in use (argparse's own words come
    from its gettext domain, which has no Nepali)."""

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, except that a usage mistake is one line too (the usage is in --help), and
    its help, headings included, is in the language in use when it is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", TranslatedHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=_("show this help message and exit"))

    def error(self, message: str) -> NoReturn:
        warn(_("{problem} (see {command} --help)").format(problem=translated_usage_error(message),
                                                          command=self.prog))
        sys.exit(EXIT_REFUSED)


def add_command(subparsers: Subparsers, name: str, run: Runner | None, summary: str,
                description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command parser whose ``run`` is called with the parsed arguments. Texts write a percent
    sign as ``%%``, as argparse wants in help; it shows descriptions as they are, so they are undoubled
    here (else "15 %%" would show; a translation's lone "%" stays as it is)."""
    description = (description or summary).replace("%%", "%")
    parser = subparsers.add_parser(name, help=summary, description=description)
    add_debug_option(parser, default=argparse.SUPPRESS)  # after the command too; never resets it
    add_language_option(parser, default=argparse.SUPPRESS)
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def add_debug_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help=_("on failure, print the full traceback as well"))


def add_language_option(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--lang``: read before parsing (speakerid.cli.requested_language); accepted anywhere."""
    parser.add_argument("--lang", choices=list(LANGUAGES), default=default,
                        help=_("language of the messages: en or ne (default: from LANGUAGE, LC_ALL, "
                               "LC_MESSAGES or LANG, else English)"))


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, metavar="DIR",
                        help=_("model directory (default: $SPEAKERID_WEIGHTS, else the model made "
                               "active in the app, else the shipped one)"))


def add_gallery_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gallery", type=Path, metavar="PATH",
                        help=_("gallery file (default: gallery.sqlite in $SPEAKERID_HOME or the "
                               "user data folder)"))


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print machine-readable JSON"))


def positive_int(text: str) -> int:
    """argparse type: refused at parse time rather than once per file."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            _("expected a whole number of at least 1, not {text!r}").format(text=text))
    return value


def add_input_options(parser: argparse.ArgumentParser, what: str) -> None:
    """Inputs that may be files or web links, with the part to use and the limits on links;
    ``what``: the files it takes, in the language in use ("audio files")."""
    parser.add_argument("files", nargs="+", metavar="FILE_OR_LINK",
                        help=_("{what}, or web links (a video page, a podcast, a media file; fetched "
                               "with yt-dlp, audio only)").format(what=what))
    parser.add_argument("--start", type=time_value, metavar="TIME",
                        help=_("use each input from this time on (90, 1:30 or 1:02:03)"))
    parser.add_argument("--end", type=time_value, metavar="TIME", help=_("use each input up to this time"))
    parser.add_argument("--max-duration", type=time_value, default=4 * 3600.0, metavar="TIME",
                        help=_("refuse an input whose media is longer (default: 4:00:00)"))
    parser.add_argument("--max-size-mb", type=positive_int, default=200, metavar="MB",
                        help=_("refuse a link whose download, or a file, is larger (default: 200)"))


def time_value(text: str) -> float:
    """argparse type: seconds from ``90``, ``1:30`` or ``1:02:03``."""
    from ..fetch import parse_time

    try:
        seconds = parse_time(text)
    except SpeakerIDError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds is None:
        raise argparse.ArgumentTypeError(_("expected a time such as 90 or 1:30, not an empty value"))
    return seconds


def input_arguments(args: argparse.Namespace) -> tuple[list[Input], Span, FetchLimits]:
    """The inputs (links as typed, everything else a path), the span to use and the link limits."""
    from ..fetch import FetchLimits, is_link
    from ..inputs import Span

    inputs: list[Input] = [item if is_link(item) else Path(item) for item in args.files]
    limits = FetchLimits(args.max_duration, args.max_size_mb * 1_000_000)
    return inputs, Span(args.start, args.end), limits


def load_encoder(args: argparse.Namespace) -> SpeakerModel:
    """The model named by ``--weights``."""
    import_tensorflow_quietly()
    from ..models.loader import load_model

    return load_model(args.weights)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up notices kept off the terminal (see
    :func:`native_stderr_silenced`); every command that needs it calls this first."""
    if "tensorflow" not in sys.modules:
        with native_stderr_silenced():
            import tensorflow  # noqa: F401


def open_gallery(args: argparse.Namespace, with_encoder: bool = True) -> Gallery:
    """The gallery named by ``--gallery``; without an encoder for commands that need no audio."""
    from ..gallery import Gallery

    return Gallery(args.gallery, load_encoder(args) if with_encoder else None)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ logging ignores TF_CPP_MIN_LOG_LEVEL
    for the notices it prints while importing, and they would bury our one-line errors."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def progress_bar(description: str, unit: str, enabled: bool = True
                 ) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar on stderr when it is a terminal; the bar
    appears with the first report, so work that turns out to be empty draws nothing."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc=description, unit=unit, total=total, file=sys.stderr,
                       disable=None if enabled else True)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def download_bar() -> Iterator[DownloadProgress]:
    """A ``progress(bytes_done, bytes_total)`` callback drawing a byte-count bar on stderr, one
    download after another (a count that starts again from zero is a new download)."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None or done < bar.n:
            if bar is not None:
                bar.close()
            bar = tqdm(desc=_("downloading"), unit="B", unit_scale=True, total=total, file=sys.stderr,
                       disable=None)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def stage_bars() -> Iterator[Callable[[str, float, float], None]]:
    """A ``progress(stage, done, total)`` callback (:data:`speakerid.longform.StageProgress`)
    drawing one bar per stage of a long recording on stderr when it is a terminal."""
    from tqdm import tqdm

    from ..longform import STAGES

    bars: dict[str, Any] = {}

    def update(stage: str, done: float, total: float) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(desc=_(STAGES[stage]), total=round(total), file=sys.stderr,
                                     disable=None, leave=False, unit="")
        bar.total = round(total)
        bar.update(round(done) - bar.n)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def say(text: str) -> None:
    """Print to stdout without breaking a progress bar that is being drawn."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stdout)


def warn(message: str | BaseException) -> None:
    """One line on stderr: ``error: ...``."""
    from tqdm import tqdm

    tqdm.write(_("error: {problem}").format(problem=" ".join(str(message).split())), file=sys.stderr)


def to_json(data: Any) -> str:
    """``--json`` output: indented, names in their own script rather than ``\\u`` escapes."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    say(to_json(data) if args.json else text)


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise SpeakerIDError(_("{question} Pass --yes to confirm (there is no terminal to ask)").format(
            question=question))
    return input(_("{question} [y/N] ").format(question=question)).strip().lower() in {"y", "yes"}


def refusal_reporter(refused: list[SpeakerIDError]) -> Callable[[SpeakerIDError], None]:
    """An ``on_refused`` for re-enrolment: each clip the new model refuses, one line on stderr."""
    def report(error: SpeakerIDError) -> None:
        warn(_("kept, not re-enrolled: {problem}").format(problem=error))
        refused.append(error)
    return report


def kept_note(refused: list[SpeakerIDError]) -> str:
    return (_("; kept {count} clip(s) the model refused (listed above)").format(count=number(len(refused)))
            if refused else "")


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, for a terminal."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])
