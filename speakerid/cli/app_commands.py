"""``app-password`` and ``app-user``: the app's side of ``python -m speakerid``, the one password a
team signs in with, or each person's own account and role."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from .. import paths
from ..app import accounts
from ..app.access import APP_SECRETS, hash_password, write_password_hash
from ..errors import SpeakerIDError
from ..i18n import _
from .common import EXIT_OK, Subparsers, add_command, say


def add_app_password(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "app-password", run_app_password, _("set the password the app asks for"),
        _("Ask for a password twice and store its salted scrypt hash (never the password) in the app's "
          ".streamlit/secrets.toml, replacing any earlier one; restart the app to use it. Every browser "
          "session then signs in with it, which the app requires before it listens on the network."))
    parser.add_argument("--secrets", type=Path, default=APP_SECRETS, metavar="PATH",
                        help=_("the secrets file to update (default: {path})").format(path=APP_SECRETS))


def run_app_password(args: argparse.Namespace) -> int:
    password = getpass.getpass(_("New app password: "))
    stored = hash_password(password)  # refuses a short one before asking again
    if getpass.getpass(_("Again: ")) != password:
        raise SpeakerIDError(_("the two passwords differ; nothing was changed"))
    path = write_password_hash(stored, args.secrets)
    say(_("password hash saved in {path}; restart the app to use it").format(path=path))
    return EXIT_OK


def add_app_user(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "app-user", None, _("manage who may sign in to the app, and their roles"),
        _("Each person signs in to the app with their own name and password; their role decides what "
          "they may do: viewer (identify, search the archive, listen), editor (also enrol, edit, rename, "
          "remove, name voices, calibrate, add to the archive), admin (also accounts, models, training). "
          "While any account exists the app asks for a name and password, whatever the shared password "
          "(app-password). Accounts are kept in secrets/accounts.json in the app's data folder "
          "($SPEAKERID_HOME), passwords only as salted scrypt hashes; changes apply at once."))
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = add_command(actions, "add", run_user_add, _("add an account (the password is asked for twice)"))
    add.add_argument("name", help=_("the person's name, as they will type it to sign in"))
    add.add_argument("--role", required=True, choices=accounts.ROLES, help=_("what they may do"))
    add.add_argument("--password-stdin", action="store_true",
                     help=_("read the password from the first line of stdin instead of asking"))
    add.add_argument("--replace", action="store_true",
                     help=_("an existing account: set this password and role"))
    remove = add_command(actions, "remove", run_user_remove, _("remove an account (signed out at once)"))
    remove.add_argument("name")
    role = add_command(actions, "role", run_user_role, _("change an account's role"))
    role.add_argument("name")
    role.add_argument("role", choices=accounts.ROLES)
    add_command(actions, "list", run_user_list, _("list the accounts and their roles"))


def run_user_add(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(_("Password for {name}: ").format(name=args.name.strip()))
        hash_password(password)  # refuses a short one before asking again
        if getpass.getpass(_("Again: ")) != password:
            raise SpeakerIDError(_("the two passwords differ; nothing was changed"))
    account = accounts.add_account(args.name, password, args.role, replace=args.replace)
    say(_("{name} may sign in as {role} (accounts in {path})").format(
        name=account.name, role=account.role, path=paths.accounts_path()))
    return EXIT_OK


def run_user_remove(args: argparse.Namespace) -> int:
    account = accounts.remove_account(args.name)
    say(_("removed {name}'s account").format(name=account.name))
    return EXIT_OK


def run_user_role(args: argparse.Namespace) -> int:
    account = accounts.set_role(args.name, args.role)
    say(_("{name} is now {role}").format(name=account.name, role=account.role))
    return EXIT_OK


def run_user_list(args: argparse.Namespace) -> int:
    listed = sorted(accounts.load_accounts().values(), key=lambda a: a.name.casefold())
    if not listed:
        say(_("no accounts: the app asks for the shared password, if one is set (app-password), or is "
              "open on this computer only"))
    for account in listed:
        say(f"{account.name}\t{account.role}")
    return EXIT_OK


APP_COMMANDS = (add_app_password, add_app_user)
