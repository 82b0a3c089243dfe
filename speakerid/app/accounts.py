"""The app's accounts: each person signs in with their own name and password, and their role
says what they may do. Kept in ``secrets/accounts.json`` in the app's home (mode 0600), each
password only as a salted scrypt hash (:func:`speakerid.app.access.hash_password`).

Roles, each allowed everything the one before it is:

- ``viewer``: identify, search the archive, listen;
- ``editor``: also change the gallery (enrol, edit, rename, remove, name voices, calibrate) and
  add to the archive;
- ``admin``: also accounts, models and training.

While any account exists, one of them is an admin, so someone can always manage the others in the
app; the server's own user can always use ``python -m speakerid app-user``.

No Streamlit here: the app's sign-in gate and the CLI's ``app-user`` both build on it.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import SpeakerIDError
from ..i18n import _
from .access import hash_password, password_matches, write_private

ROLES = ("viewer", "editor", "admin")
VIEWER, EDITOR, ADMIN = ROLES
MAX_NAME_LENGTH = 64
FILE_VERSION = 1


@dataclass(frozen=True)
class Account:
    """One person who may sign in: their name as they typed it, their role, their password's hash."""

    name: str
    role: str
    password_hash: str

    def may(self, needed: str) -> bool:
        """Whether this account's role allows what ``needed`` (a role) may do."""
        return role_allows(self.role, needed)


def role_allows(held: str, needed: str) -> bool:
    """Whether a person with role ``held`` may do what role ``needed`` may."""
    return ROLES.index(checked_role(held)) >= ROLES.index(checked_role(needed))


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise SpeakerIDError(_("there is no role {role!r}; the roles are {roles}").format(
            role=role, roles=", ".join(ROLES)))
    return role


def checked_name(name: str) -> str:
    """``name`` without surrounding spaces, if it can name an account."""
    name = name.strip()
    if not name:
        raise SpeakerIDError(_("an account needs a name"))
    if len(name) > MAX_NAME_LENGTH:
        raise SpeakerIDError(_("an account name has at most {n} characters").format(n=MAX_NAME_LENGTH))
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise SpeakerIDError(_("an account name cannot hold control characters"))
    return name


def load_accounts(path: Path | None = None) -> dict[str, Account]:
    """Every account, keyed by its name case-folded (names are matched without regard to case);
    none when the file does not exist."""
    path = path or paths.accounts_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SpeakerIDError(_("the accounts file {path} cannot be read ({why})").format(
            path=path, why=exc.strerror or exc)) from exc
    try:
        listed = json.loads(text)["accounts"]
        accounts = [Account(str(a["name"]), checked_role(a["role"]), str(a["password_hash"]))
                    for a in listed]
    except (ValueError, KeyError, TypeError, SpeakerIDError) as exc:
        raise SpeakerIDError(_("{path} is not an accounts file that `python -m speakerid app-user` "
                               "wrote; restore it from a backup or remove it").format(path=path)) from exc
    return {account.name.casefold(): account for account in accounts}


def find_account(name: str, path: Path | None = None) -> Account | None:
    return load_accounts(path).get(name.strip().casefold())


def signed_in_account(name: str, password: str, path: Path | None = None) -> Account | None:
    """The account ``name`` if ``password`` is its password, else None (an unknown name costs the
    same hashing as a known one, so timing does not tell which names exist)."""
    account = find_account(name, path)
    try:
        right = password_matches(password, account.password_hash if account else _decoy_hash())
    except SpeakerIDError as exc:
        raise SpeakerIDError(_("the password hash of {name} is damaged; set a new password with "
                               "`python -m speakerid app-user add {name} --replace`").format(
            name=account.name if account else name)) from exc
    return account if account is not None and right else None


def add_account(name: str, password: str, role: str, path: Path | None = None,
                replace: bool = False) -> Account:
    """A new account (``replace``: a new password and role for an existing one). The first account
    must be an admin's."""
    path = path or paths.accounts_path()
    name, role = checked_name(name), checked_role(role)
    accounts = load_accounts(path)
    key = name.casefold()
    if not accounts and role != ADMIN:
        raise SpeakerIDError(_("the first account must be an admin's, so that someone can manage "
                               "the others; add yourself with --role admin first"))
    if key in accounts and not replace:
        raise SpeakerIDError(_("{name} already has an account; give another name, or use --replace "
                               "to set a new password").format(name=accounts[key].name))
    account = Account(accounts[key].name if key in accounts else name, role, hash_password(password))
    _save({**accounts, key: account}, path)
    return account


def remove_account(name: str, path: Path | None = None) -> Account:
    path = path or paths.accounts_path()
    accounts = load_accounts(path)
    account = _existing(accounts, name)
    _save({key: a for key, a in accounts.items() if a is not account}, path)
    return account


def set_role(name: str, role: str, path: Path | None = None) -> Account:
    path = path or paths.accounts_path()
    accounts = load_accounts(path)
    account = _existing(accounts, name)
    changed = Account(account.name, checked_role(role), account.password_hash)
    _save({**accounts, account.name.casefold(): changed}, path)
    return changed


def _existing(accounts: dict[str, Account], name: str) -> Account:
    account = accounts.get(name.strip().casefold())
    if account is None:
        raise SpeakerIDError(_("nobody has an account named {name!r}").format(name=name.strip()))
    return account


def _save(accounts: dict[str, Account], path: Path) -> None:
    """Write ``accounts``, if someone among them is still an admin (or none is left)."""
    if accounts and not any(a.role == ADMIN for a in accounts.values()):
        raise SpeakerIDError(_("that would leave no admin to manage the accounts; make someone else "
                               "an admin first"))
    listed = [{"name": a.name, "role": a.role, "password_hash": a.password_hash}
              for a in sorted(accounts.values(), key=lambda a: a.name.casefold())]
    write_private(path, json.dumps({"version": FILE_VERSION, "accounts": listed}, indent=2,
                                   ensure_ascii=False) + "\n")


@functools.cache
def _decoy_hash() -> str:
    """Checked against when a name has no account, so that a wrong name takes as long as a wrong
    password."""
    return hash_password("no account has this password")
