"""``app-password``: the app's side of ``python -m speakerid``, the password a team signs in with."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from ..app.access import APP_SECRETS, hash_password, write_password_hash
from ..errors import SpeakerIDError
from ..i18n import _
from .common import EXIT_OK, Subparsers, add_command, say


def add_app_password(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "app-password", run_app_password, "set the password the app asks for",
        "Ask for a password twice and store its salted scrypt hash (never the password) in the app's "
        ".streamlit/secrets.toml, replacing any earlier one; restart the app to use it. Every browser "
        "session then signs in with it, which the app requires before it listens on the network.")
    parser.add_argument("--secrets", type=Path, default=APP_SECRETS, metavar="PATH",
                        help=f"the secrets file to update (default: {APP_SECRETS})")


def run_app_password(args: argparse.Namespace) -> int:
    password = getpass.getpass("New app password: ")
    stored = hash_password(password)  # refuses a short one before asking again
    if getpass.getpass("Again: ") != password:
        raise SpeakerIDError(_("the two passwords differ; nothing was changed"))
    path = write_password_hash(stored, args.secrets)
    say(_("password hash saved in {path}; restart the app to use it").format(path=path))
    return EXIT_OK


APP_COMMANDS = (add_app_password,)
