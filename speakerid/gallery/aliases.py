"""Names as newsrooms write them: a speaker's aliases (other spellings and scripts: "Prachanda",
"प्रचण्ड" for "Pushpa Kamal Dahal"), and finding a speaker by any of their names.

Names and aliases are matched by their key (:func:`~.names.name_key`: NFC, spaces, case), and a
key names one speaker only: the unique index on ``speakers.name_key`` and ``aliases.normalised``
keep names apart and aliases apart, and these functions check each against the other inside the
caller's write. Every function runs inside a caller's transaction.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterable

from ..errors import SpeakerIDError
from ..i18n import _
from .names import clean_name, name_key, normal_form, not_enrolled


def find_id(conn: sqlite3.Connection, name: str) -> int | None:
    """The speaker ``name`` names: the one stored under exactly that name, else the one whose name
    or alias matches it (None: nobody).

    Raises:
        SpeakerIDError: ``name`` is not a valid name, or matches two speakers whose names are one
            name written two ways (kept apart by a migration, see :func:`settle_keys`).
    """
    cleaned = clean_name(name)
    for exact in dict.fromkeys((unicodedata.normalize("NFC", name).strip(), cleaned)):
        row = conn.execute("SELECT id FROM speakers WHERE name = ?", (exact,)).fetchone()
        if row:
            return row[0]
    holders = key_holders(conn, name_key(cleaned))
    if len(holders) > 1:
        names = sorted(speaker_name(conn, holder) for holder in holders)
        raise SpeakerIDError(_("{name!r} could be any of {names}: their names are one name written "
                               "differently; give the name exactly as the gallery lists it")
                             .format(name=cleaned, names=", ".join(map(repr, names))))
    return next(iter(holders), None)


def require_id(conn: sqlite3.Connection, name: str) -> int:
    """:func:`find_id`, refusing a name nobody has."""
    found = find_id(conn, name)
    if found is None:
        raise not_enrolled(clean_name(name))
    return found


def known(conn: sqlite3.Connection, name: object) -> bool:
    """Whether ``name`` is a speaker's name or alias (spaces and case aside); False for anything
    that is no valid name."""
    try:
        key = name_key(clean_name(name))  # type: ignore[arg-type]
    except SpeakerIDError:
        return False
    return bool(key_holders(conn, key))


def key_holders(conn: sqlite3.Connection, key: str) -> set[int]:
    """The speakers whose name or alias has ``key`` (two only where a migration kept a clash)."""
    held = {row[0] for row in conn.execute(
        "SELECT id FROM speakers WHERE name_key = ? "
        "UNION SELECT speaker_id FROM aliases WHERE normalised = ?", (key, key))}
    held.update(speaker_id for speaker_id, name in conn.execute(
        "SELECT id, name FROM speakers WHERE name_key IS NULL") if name_key(name) == key)
    return held


def speaker_name(conn: sqlite3.Connection, speaker_id: int) -> str:
    return conn.execute("SELECT name FROM speakers WHERE id = ?", (speaker_id,)).fetchone()[0]


def clean_alias(alias: str) -> str:
    """The stored form of an alias: the rules of a name."""
    try:
        return clean_name(alias)
    except SpeakerIDError as exc:
        raise SpeakerIDError(_("an alias is written like a name: {reason}").format(reason=exc)) from None


def add_alias(conn: sqlite3.Connection, speaker_id: int, alias: str) -> None:
    """Give the speaker another name. One they already have (their name, or an alias written
    otherwise) changes nothing but how the alias is written.

    Raises:
        SpeakerIDError: the alias is another speaker's name or alias, or not a valid name.
    """
    alias = clean_alias(alias)
    key = name_key(alias)
    name = speaker_name(conn, speaker_id)
    others = key_holders(conn, key) - {speaker_id}
    if others:
        raise SpeakerIDError(_("{alias!r} cannot be an alias of {name!r}: it already names {other!r}")
                             .format(alias=alias, name=name, other=speaker_name(conn, min(others))))
    if name_key(name) != key:
        conn.execute("INSERT INTO aliases (speaker_id, alias, normalised) VALUES (?, ?, ?) "
                     "ON CONFLICT (normalised) DO UPDATE SET alias = excluded.alias",
                     (speaker_id, alias, key))


def remove_alias(conn: sqlite3.Connection, speaker_id: int, alias: str) -> None:
    """Take an alias from the speaker (matched as names are: spaces and case do not matter)."""
    key = name_key(clean_alias(alias))
    if not conn.execute("DELETE FROM aliases WHERE speaker_id = ? AND normalised = ?",
                        (speaker_id, key)).rowcount:
        raise SpeakerIDError(_("{alias!r} is not an alias of {name!r}")
                             .format(alias=normal_form(alias), name=speaker_name(conn, speaker_id)))


def set_aliases(conn: sqlite3.Connection, speaker_id: int, aliases: Iterable[str]) -> None:
    """The speaker's aliases become exactly ``aliases`` (in that order)."""
    conn.execute("DELETE FROM aliases WHERE speaker_id = ?", (speaker_id,))
    for alias in aliases:
        add_alias(conn, speaker_id, alias)


def aliases_by_speaker(conn: sqlite3.Connection, speaker_id: int | None = None) -> dict[int, list[str]]:
    """Speaker id -> aliases in the order given, for one speaker or all."""
    where, params = ("WHERE speaker_id = ?", (speaker_id,)) if speaker_id is not None else ("", ())
    found: dict[int, list[str]] = {}
    for owner, alias in conn.execute(f"SELECT speaker_id, alias FROM aliases {where} ORDER BY rowid", params):
        found.setdefault(owner, []).append(alias)
    return found


def rename(conn: sqlite3.Connection, speaker_id: int, new: str) -> None:
    """Give the speaker the (clean) name ``new``; an alias of theirs that it repeats is dropped.

    Raises:
        SpeakerIDError: ``new`` is another speaker's name or alias.
    """
    key = name_key(new)
    others = key_holders(conn, key) - {speaker_id}
    if others:
        old, other = speaker_name(conn, speaker_id), speaker_name(conn, min(others))
        if name_key(other) == key:
            raise SpeakerIDError(_("cannot rename {old!r}: {new!r} is already enrolled").format(
                old=old, new=new))
        raise SpeakerIDError(_("cannot rename {old!r}: {new!r} is an alias of {other!r}")
                             .format(old=old, new=new, other=other))
    conn.execute("DELETE FROM aliases WHERE speaker_id = ? AND normalised = ?", (speaker_id, key))
    conn.execute("UPDATE speakers SET name = ?, name_key = ? WHERE id = ?", (new, key, speaker_id))
    settle_keys(conn)  # a name that clashed with the old one is free now


def settle_keys(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Give each speaker without a key (all of a file being migrated; one whose name clashed) their
    name in normal form and its key, unless another speaker has that name or key: then both are
    kept as they are, never merged.

    Returns:
        The clashes left: (the name kept without a key, the other speaker's name).
    """
    clashes = []
    for speaker_id, name in conn.execute(
            "SELECT id, name FROM speakers WHERE name_key IS NULL ORDER BY id").fetchall():
        other = _holder(conn, speaker_id, normal_form(name))
        if other is not None:
            clashes.append((name, other))
        else:
            conn.execute("UPDATE speakers SET name = ?, name_key = ? WHERE id = ?",
                         (normal_form(name), name_key(name), speaker_id))
    return clashes


def clashes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Names kept apart though they are one name written two ways ("Ann  Lee", "ann lee"): (name,
    the other's name). A migration of an older gallery file keeps them apart; a clash ends when one
    is renamed."""
    return [(name, other) for speaker_id, name in conn.execute(
        "SELECT id, name FROM speakers WHERE name_key IS NULL ORDER BY id").fetchall()
        if (other := _holder(conn, speaker_id, normal_form(name))) is not None]


def _holder(conn: sqlite3.Connection, speaker_id: int, normal: str) -> str | None:
    """Another speaker named ``normal`` or holding its key, or None."""
    row = conn.execute(
        "SELECT name FROM speakers WHERE (name = ? OR name_key = ?) AND id != ? "
        "UNION ALL SELECT s.name FROM aliases a JOIN speakers s ON s.id = a.speaker_id "
        "WHERE a.normalised = ? AND a.speaker_id != ?",
        (normal, name_key(normal), speaker_id, name_key(normal), speaker_id)).fetchone()
    return row[0] if row else None
