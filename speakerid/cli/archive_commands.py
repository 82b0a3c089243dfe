"""``archive add|find|voices|name|who``: index recordings once, then ask who speaks where.

``find``, ``voices`` and ``who`` open the archive for questions only (:func:`speakerid.archive.
open_for_search`): no model is built and TensorFlow is never imported, so they answer in about a
second. ``add`` and ``name`` need the model (``name`` embeds the voice's clips to enrol them).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpeakerIDError
from ..i18n import _, pgettext
from ..numerals import number
from ..verdict import percent
from ..voice_labels import shown_voice
from .common import (
    EXIT_OK,
    EXIT_REFUSED,
    Subparsers,
    add_command,
    add_gallery_option,
    add_json_option,
    add_model_option,
    download_bar,
    load_encoder,
    positive_int,
    progress_bar,
    say,
    stage_bars,
    time_value,
    to_json,
    warn,
)
from .speaker_commands import clock

if TYPE_CHECKING:
    from ..archive import AddReport, Archive
    from ..inputs import Input

HIT_COLUMNS = ("recording", "title", "start_s", "end_s", "speaker", "probability")


def add_archive(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "archive", None,
                         _("index recordings once; find a person, list and name unknown voices"))
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for add in (add_archive_add, add_archive_find, add_archive_voices, add_archive_name, add_archive_who):
        add(actions)


def add_archive_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", type=Path, metavar="DIR",
                        help=_("the archive's folder (default: archive/ in $SPEAKERID_HOME or the user "
                               "data folder, next to the gallery)"))
    add_gallery_option(parser)
    add_model_option(parser)


def add_archive_add(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "add", run_archive_add, _("index recordings: files, folders, links"),
        _("Index each file, each audio file under a folder and each link (fetched with yt-dlp): its "
          "speech turns, their embeddings and its voices, linked to the voices of the recordings "
          "already there. A file already in the archive (same content) or a link already added costs "
          "no model work; recordings indexed by another model are re-indexed first. A recording that "
          "fails is reported in one line and the others go on (exit status 2 if any failed)."))
    parser.add_argument("files", nargs="*", metavar="PATH_OR_LINK",
                        help=_("audio files, folders or web links (none: only re-index for a new model)"))
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help=_("where the model work runs: this process, or Ray (a local Ray, or the "
                               "cluster $RAY_ADDRESS names; pip install -r requirements-cluster.txt)"))
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help=_("Ray: model actors to start (default: one per CPU Ray offers)"))
    parser.add_argument("--max-duration", type=time_value, default=4 * 3600.0, metavar="TIME",
                        help=_("refuse a link whose media is longer (default: 4:00:00)"))
    parser.add_argument("--max-size-mb", type=positive_int, default=200, metavar="MB",
                        help=_("refuse a link whose download is larger (default: 200)"))
    add_archive_options(parser)
    add_json_option(parser)


def run_archive_add(args: argparse.Namespace) -> int:
    from ..archive import AddReport, already_indexed
    from ..fetch import is_link

    inputs = [item if is_link(item) else Path(item) for item in args.files]
    known = already_indexed(inputs, args.archive, args.weights)  # then no model is loaded
    report = AddReport(known=known) if known is not None else _add_with_model(args, inputs)
    for _recording, sentence in report.failed:
        warn(sentence)
    if args.json:
        say(to_json({"added": report.added, "reindexed": report.reindexed, "known": report.known,
                     "failed": [{"input": name, "error": text} for name, text in report.failed]}))
    else:
        say(_("added {added}, already there {known}, re-indexed for the model in use {reindexed}, failed "
              "{failed}").format(added=number(len(report.added)), known=number(len(report.known)),
                                 reindexed=number(len(report.reindexed)), failed=number(len(report.failed))))
    return EXIT_REFUSED if report.failed else EXIT_OK


def _add_with_model(args: argparse.Namespace, inputs: list[Input]) -> AddReport:
    """`archive add` with the model loaded (local) or its actors started (Ray)."""
    from ..archive import Archive
    from ..fetch import FetchLimits
    from ..gallery import Gallery

    limits = FetchLimits(args.max_duration, args.max_size_mb * 1_000_000)
    engine = make_engine(args)
    try:
        with (Archive(args.archive, Gallery(args.gallery, _model_of(engine, args))) as archive,
              download_bar() as downloading, stage_bars() as stages,
              progress_bar(_("recordings"), pgettext("progress unit", "recording")) as overall):
            return archive.add(inputs, engine, lambda done, total, recording: overall(done, total),
                               stages if args.engine == "local" else None, limits, downloading)
    finally:
        engine.close()


def make_engine(args: argparse.Namespace):
    """The engine ``--engine`` names, its model loaded (local) or its actors started (Ray)."""
    if args.engine == "ray":
        from ..archive.ray_engine import RayEngine

        return RayEngine(args.weights, args.workers)
    from ..archive.engines import LocalEngine

    return LocalEngine(load_encoder(args))


def _model_of(engine, args: argparse.Namespace):
    """The model the driver links voices with: the local engine's, or its scoring alone (Ray)."""
    if engine.model is not None:
        return engine.model
    from ..models.scorer import ScoringModel
    from ..paths import default_model_dir

    return ScoringModel(args.weights or default_model_dir(), engine.model_id)


def add_archive_find(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "find", run_archive_find, _("every turn where an enrolled person speaks"),
        _("Every turn of the archive where NAME (enrolled in the gallery) speaks, most probable first: "
          "recording, start, end and probability. Uses the stored embeddings and the gallery as it is "
          "now: no model runs and TensorFlow is not loaded."))
    parser.add_argument("name", metavar="NAME", help=_("the person's name or one of their aliases"))
    parser.add_argument("--min-probability", type=float, default=0.0, metavar="P",
                        help=_("leave out turns below this probability (0-1; default: 0)"))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help=_("print machine-readable JSON"))
    output.add_argument("--csv", action="store_true", help=_("print CSV"))
    add_archive_options(parser)


def run_archive_find(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_probability <= 1.0:
        raise SpeakerIDError(_("--min-probability must be between 0 and 1, not {value}").format(
            value=args.min_probability))
    with open_archive(args) as archive:
        hits = [hit.to_dict() for hit in archive.find(args.name, args.min_probability)]
    if args.json:
        say(to_json(hits))
    elif args.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, HIT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(hits)
        say(buffer.getvalue().rstrip("\n"))
    elif not hits:
        say(_("{name} is not heard anywhere in the archive").format(name=args.name.strip()))
    else:
        say("\n".join(f"{h['recording']}  {clock(h['start_s'])}-{clock(h['end_s'])}  "
                      f"{percent(h['probability'])}" for h in hits))
    return EXIT_OK


def add_archive_voices(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "voices", run_archive_voices, _("the voices nobody enrolled, across recordings"),
        _("The voices nobody enrolled, each linked across the recordings it speaks in (one \"Voice N\" "
          "per person), with its recordings, seconds and turns. No model runs."))
    add_archive_options(parser)
    add_json_option(parser)


def run_archive_voices(args: argparse.Namespace) -> int:
    with open_archive(args) as archive:
        voices = archive.voices()
    if args.json:
        say(to_json([voice.to_dict() for voice in voices]))
    elif not voices:
        say(_("no unnamed voices in the archive"))
    else:
        say("\n".join(_("{voice}: {seconds} s in {turns} turn(s) of {count} recording(s): {recordings}")
                      .format(voice=shown_voice(v.voice), seconds=number(v.seconds, ".0f"),
                              turns=number(len(v.turns)), count=number(len(v.recordings)),
                              recordings=", ".join(v.recordings)) for v in voices))
    return EXIT_OK


def add_archive_name(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "name", run_archive_name, _("enrol an archive voice under a name"),
        _("Enrol an archive voice (as `archive voices` lists it) in the gallery under NAME, from its "
          "best turns' audio; every recording it speaks in then shows NAME."))
    parser.add_argument("voice", metavar="VOICE", help=_('e.g. "Voice 17"'))
    parser.add_argument("name", metavar="NAME",
                        help=_("a new speaker's name, or the name or an alias of an enrolled one, who "
                               "then gets the voice's clips"))
    add_archive_options(parser)


def run_archive_name(args: argparse.Namespace) -> int:
    from ..archive import Archive
    from ..gallery import Gallery

    with Archive(args.archive, Gallery(args.gallery, load_encoder(args))) as archive:
        info = archive.name_voice(args.voice, args.name)
    say(_("{voice} is now {name} ({count} clip(s), {seconds} s of speech)").format(
        voice=args.voice.strip(), name=info.name, count=number(info.clips),
        seconds=number(info.seconds, ".1f")))
    return EXIT_OK


def add_archive_who(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "who", run_archive_who, _("a recording's timeline with today's names"),
        _("Who speaks when in one recording of the archive (its path or link as added, its title or "
          "its number), with the names the gallery gives today. No model runs."))
    parser.add_argument("recording", metavar="RECORDING")
    add_archive_options(parser)
    add_json_option(parser)


def run_archive_who(args: argparse.Namespace) -> int:
    with open_archive(args) as archive:
        turns = archive.who(args.recording)
    if args.json:
        say(to_json([turn.to_dict() for turn in turns]))
    else:
        say("\n".join(f"{clock(t.start_s)}-{clock(t.end_s)}  "
                      f"{shown_voice(t.label) or _('unknown')}"
                      + (f"  ({percent(t.probability)})" if t.speaker else "") for t in turns))
    return EXIT_OK


def open_archive(args: argparse.Namespace) -> Archive:
    """The archive for questions only (no TensorFlow); a warning for recordings it leaves out."""
    from ..archive import open_for_search

    archive = open_for_search(args.archive, args.gallery, args.weights)
    stale = len(archive.stale_recordings())
    if stale:
        warn(_("{count} recording(s) indexed by another model are left out; `python -m speakerid archive "
               "add` re-indexes them for the model in use").format(count=stale))
    return archive


ARCHIVE_COMMANDS = (add_archive,)
