"""``gallery alias add|remove|list``: the other names a speaker is found by (other spellings and
scripts). No model is loaded: aliases are names, not audio."""

from __future__ import annotations

import argparse

from ..i18n import _
from .common import (
    EXIT_OK,
    Subparsers,
    add_command,
    add_gallery_option,
    add_json_option,
    open_gallery,
    say,
    to_json,
)


def add_gallery_alias(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "alias", None, _("the other names a speaker is found by"),
        _("Give a speaker other names: other spellings and scripts (\"Prachanda\", \"प्रचण्ड\" for "
          "\"Pushpa Kamal Dahal\"). Every command that takes a NAME accepts an alias, and names match "
          "whatever their spacing, Unicode form or case. An alias cannot be another speaker's name "
          "or alias."))
    actions = parser.add_subparsers(dest="alias_action", required=True, metavar="ACTION")
    for add in (add_alias_add, add_alias_remove, add_alias_list):
        add(actions)


def add_alias_add(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "add", run_alias_add, _("give a speaker another name"))
    parser.add_argument("name", metavar="NAME", help=_("the speaker's name or one of their aliases"))
    parser.add_argument("alias", metavar="ALIAS")
    add_gallery_option(parser)


def run_alias_add(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        info = gallery.add_alias(args.name, args.alias)
    say(_("{name} is also known as: {aliases}").format(name=info.name, aliases=", ".join(info.aliases)))
    return EXIT_OK


def add_alias_remove(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "remove", run_alias_remove, _("take an alias from a speaker"))
    parser.add_argument("name", metavar="NAME", help=_("the speaker's name or one of their aliases"))
    parser.add_argument("alias", metavar="ALIAS")
    add_gallery_option(parser)


def run_alias_remove(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        info = gallery.remove_alias(args.name, args.alias)
    say(_("removed {alias} from {name}").format(alias=" ".join(args.alias.split()), name=info.name))
    return EXIT_OK


def add_alias_list(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "list", run_alias_list,
                         _("a speaker's aliases, or everyone's who has some"))
    parser.add_argument("name", nargs="?", metavar="NAME", help=_("one speaker (default: everyone)"))
    add_gallery_option(parser)
    add_json_option(parser)


def run_alias_list(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        speakers = [gallery.speaker(args.name)] if args.name else [s for s in gallery.speakers() if s.aliases]
    if args.json:
        say(to_json([{"name": s.name, "aliases": list(s.aliases)} for s in speakers]))
    elif not speakers:
        say(_("nobody has an alias yet; add one with: python -m speakerid gallery alias add NAME ALIAS"))
    elif args.name and not speakers[0].aliases:
        say(_("{name} has no alias").format(name=speakers[0].name))
    else:
        say("\n".join(f"{s.name}: {', '.join(s.aliases)}" for s in speakers))
    return EXIT_OK
