"""``gallery history`` and ``gallery undo``: every change to the gallery, who made it and when,
and taking one back as a new change. No model is loaded: the history is rows, not audio."""

from __future__ import annotations

import argparse

from ..i18n import _
from ..numerals import digits, number
from .common import (
    EXIT_OK,
    Subparsers,
    add_command,
    add_gallery_option,
    add_json_option,
    format_table,
    open_gallery,
    positive_int,
    say,
    to_json,
)


def add_gallery_history(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "history", run_gallery_history,
                         _("list the changes made to the gallery, newest first"),
                         _("List every change made to the gallery (enrol, add clips, rename, edit, remove, "
                           "import, calibrate, re-enrol, undo): its number, when, who and what. "
                           "Undo one with: gallery undo NUMBER."))
    parser.add_argument("--limit", type=positive_int, metavar="N", help=_("show the N newest changes"))
    add_gallery_option(parser)
    add_json_option(parser)


def run_gallery_history(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        changes = gallery.history(args.limit)
    if args.json:
        say(to_json([change.to_dict() for change in changes]))
    elif not changes:
        say(_("no changes recorded yet"))
    else:
        say(format_table([_("change"), _("when"), _("who"), _("what")],
                         [[number(c.id), digits(c.when), c.user,
                           c.what + (_(" (undone by {id})").format(id=number(c.undone_by))
                                     if c.undone_by else "")]
                          for c in changes]))
    return EXIT_OK


def add_gallery_undo(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "undo", run_gallery_undo, _("undo one change to the gallery"),
                         _("Undo one change listed by gallery history, as a new change recorded under your "
                           "user name (the history itself is never rewritten): a removed speaker comes "
                           "back with all their clips, a rename is renamed back. Refused when something "
                           "the change made was changed again since."))
    parser.add_argument("change", type=positive_int, metavar="CHANGE", help=_("the change's number"))
    add_gallery_option(parser)


def run_gallery_undo(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        change = gallery.undo(args.change)
    say(_("change {id}: {what}").format(id=number(change.id), what=change.what))
    return EXIT_OK
