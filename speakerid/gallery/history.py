"""The gallery's history: every change recorded with who made it, when and what it did, in the
same transaction as the change (both are written or neither), so that a wrong edit can be traced
and undone (:mod:`.undo`).

A change is kept as row images (:class:`Edits`): each row of the small tables (speakers, and any
table added beside them) before and after, the clips it added, removed or re-embedded, and the
settings (``meta``) before and after. They are found by comparing a light snapshot of the gallery
(those rows, the clip ids, the settings) taken before the change with one taken after, so every
writer is recorded the same way, without bookkeeping of its own. A writer only names the clips it
may remove or re-embed (:class:`Keep`): those are copied to ``history_clips`` before the change
(audio and vector for a removed clip, the vector alone for a re-embedded one), and what turned out
unchanged is dropped. The snapshot reads every speaker row and every clip id (from an index) twice
per change: about 0.25 s per change in a gallery of 10 000 speakers and 50 000 clips.

The history is only appended to: an undo is a change of its own, which can be undone in turn.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..errors import SpeakerIDError
from ..i18n import _, ngettext
from ..numerals import number
from .store import Store

T = TypeVar("T")
# Not kept as row images: the settings and the clips have their own (the clips' audio and vectors
# are copied only when a change removes or re-embeds them), staged vectors are a re-enrolment's
# scratch space, and the history itself is never changed.
NOT_ROW_TABLES = ("meta", "clips", "staged", "history", "history_clips")
CLIP_COLUMNS = "speaker_id, source, url, speech_s, sample_rate, encoder_id, embedding, audio"
UNKNOWN_USER = "unknown"
MAX_USER_CHARS = 200


@dataclass(frozen=True)
class Snapshot:
    """What a change can alter, without audio or vectors: cheap to read inside every write."""

    rows: dict[str, dict[int, dict]]  # table -> rowid -> row (speakers first)
    clips: set[int]  # ids (read from an index: no table page is touched)
    meta: dict[str, str]  # the settings, without the file's format


@dataclass
class Edits:
    """What one change did, as rows before and after: all an undo needs, with ``history_clips``."""

    rows: list[list] = field(default_factory=list)  # [table, rowid, row before or None, row after or None]
    added: list[int] = field(default_factory=list)  # clip ids
    removed: list[int] = field(default_factory=list)  # clip ids, kept whole in history_clips
    revectored: list[list] = field(default_factory=list)  # [clip id, encoder after, speech_s after]
    meta: list[list] = field(default_factory=list)  # [key, value before or None, value after or None]
    facts: dict[str, Any] = field(default_factory=dict)  # for the description only (a file's name)

    def __bool__(self) -> bool:
        return bool(self.rows or self.added or self.removed or self.revectored or self.meta)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Edits:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Keep:
    """Clips a writer may remove (``audio``: kept whole) or re-embed (the vector alone), chosen
    by a condition on ``clips``; copied before the writer runs."""

    where: str
    params: tuple = ()
    audio: bool = True
    when: tuple[str, tuple] | None = None  # a query that must find a row for any clip to be kept


@dataclass(frozen=True)
class Change:
    """One recorded change, as the history shows it."""

    id: int
    at: str  # when, ISO 8601 in UTC
    user: str
    action: str  # enrol, rename, edit, alias, remove, import, calibrate, reenroll, undo
    what: str  # in words, in the reader's language
    undoes: int | None  # the change this one undid
    undone_by: int | None  # the change that undid this one, if it stands

    @property
    def when(self) -> str:
        """``at`` for people: 2026-12-06 11:52:38 UTC."""
        return self.at.replace("T", " ").replace("+00:00", " UTC")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def os_user() -> str:
    """Who runs this process, as the operating system names them (the CLI's and the library's
    default author of a change)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return UNKNOWN_USER


def clean_user(user: str) -> str:
    """The stored form of who made a change: one line of text."""
    if not isinstance(user, str) or not " ".join(user.split()):
        raise SpeakerIDError(_("who makes a change must be given as a name"))
    return textwrap.shorten(" ".join(user.split()), MAX_USER_CHARS, placeholder="…")


def write(store: Store, user: str, action: str, work: Callable[[sqlite3.Connection], T],
          keep: Sequence[Keep] = (), facts: dict[str, Any] | None = None,
          undoes: int | None = None) -> T:
    """Run ``work`` in one write transaction and record what it changed as one change by
    ``user`` (nothing is recorded when it changed nothing). ``keep``: see :class:`Keep`."""
    return store.write(lambda conn: recorded(conn, user, action, work, keep, facts or {}, undoes))


def recorded(conn: sqlite3.Connection, user: str, action: str, work: Callable[[sqlite3.Connection], T],
             keep: Sequence[Keep], facts: dict[str, Any], undoes: int | None) -> T:
    """Inside a write: ``work`` and its history row (see :func:`write`)."""
    before = snapshot(conn)
    change_id = conn.execute(  # what it undoes is set once done: it must not count as undone before
        "INSERT INTO history (at, user, action, edits) VALUES (?, ?, ?, '{}')",
        (datetime.now(UTC).isoformat(timespec="seconds"), user, action)).lastrowid
    for kept in keep:
        if kept.when is not None and conn.execute(*kept.when).fetchone() is None:
            continue
        conn.execute(f"INSERT OR IGNORE INTO history_clips SELECT ?, id, speaker_id, source, url, speech_s, "
                     f"sample_rate, encoder_id, embedding, {'audio' if kept.audio else 'NULL'} FROM clips "
                     f"WHERE {kept.where}", (change_id, *kept.params))
    result = work(conn)
    edits = diff(before, snapshot(conn))
    edits.revectored, edits.facts = revectored(conn, change_id), facts
    settle_kept(conn, change_id, edits)
    if edits:
        conn.execute("UPDATE history SET edits = ?, undoes = ? WHERE id = ?",
                     (edits.to_json(), undoes, change_id))
    else:
        conn.execute("DELETE FROM history WHERE id = ?", (change_id,))
    return result


def row_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables kept as row images: speakers first, then the others by name."""
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                            "name NOT LIKE 'sqlite_%' AND name != 'speakers' ORDER BY name")]
    return ["speakers", *(name for name in names if name not in NOT_ROW_TABLES)]


def table_rows(conn: sqlite3.Connection, table: str, rowid: int | None = None) -> dict[int, dict]:
    """Rows of ``table`` (one of :func:`row_tables`) by rowid, each as column -> value."""
    cursor = conn.execute(f'SELECT rowid, * FROM "{table}"' + ("" if rowid is None else " WHERE rowid = ?"),
                          () if rowid is None else (rowid,))
    columns = [column[0] for column in cursor.description[1:]]
    return {row[0]: dict(zip(columns, row[1:])) for row in cursor}


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    return Snapshot(
        {table: table_rows(conn, table) for table in row_tables(conn)},
        {row[0] for row in conn.execute("SELECT id FROM clips")},
        dict(conn.execute("SELECT key, value FROM meta WHERE key != 'schema_version'").fetchall()))


def diff(before: Snapshot, after: Snapshot) -> Edits:
    """The rows that differ. The encoder a gallery first gets is not an edit: an empty gallery
    takes any encoder, and forgetting it while other speakers' clips stay would let vectors of
    two encoders mix."""
    return Edits(
        rows=[[table, key, old.get(key), new.get(key)]
              for table, new in after.rows.items() for old in [before.rows.get(table, {})]
              for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)],
        added=sorted(after.clips - before.clips),
        removed=sorted(before.clips - after.clips),
        meta=[[key, before.meta.get(key), after.meta.get(key)]
              for key in sorted(before.meta.keys() | after.meta.keys())
              if before.meta.get(key) != after.meta.get(key)
              and not (key == "encoder_id" and before.meta.get(key) is None)])


def revectored(conn: sqlite3.Connection, change_id: int) -> list[list]:
    """[clip id, encoder now, seconds of speech now] of each clip kept for the change whose vector
    it replaced (only a writer's :class:`Keep` names the clips whose vectors may change)."""
    return [list(row) for row in conn.execute(
        "SELECT c.id, c.encoder_id, c.speech_s FROM history_clips k JOIN clips c ON c.id = k.clip_id "
        "WHERE k.history_id = ? AND (c.encoder_id != k.encoder_id OR c.speech_s != k.speech_s "
        "OR c.embedding != k.embedding) ORDER BY c.id", (change_id,))]


def settle_kept(conn: sqlite3.Connection, change_id: int, edits: Edits) -> None:
    """Keep in ``history_clips`` only the clips the change removed (whole) or re-embedded (their
    vector); a writer that removed a clip it did not name in its :class:`Keep` is a bug, and
    raising rolls its change back."""
    revectored = [row[0] for row in edits.revectored]
    changed = edits.removed + revectored
    conn.execute(f"DELETE FROM history_clips WHERE history_id = ? AND clip_id NOT IN ({marks(changed)})",
                 (change_id, *changed))
    conn.execute("UPDATE history_clips SET audio = NULL WHERE history_id = ? AND clip_id IN "
                 f"({marks(revectored)})", (change_id, *revectored))
    whole, kept = conn.execute("SELECT COUNT(audio), COUNT(*) FROM history_clips WHERE history_id = ?",
                               (change_id,)).fetchone()
    if (whole, kept) != (len(edits.removed), len(edits.removed) + len(revectored)):
        raise RuntimeError("a gallery change removed or re-embedded clips it did not keep for its undo")


def marks(values: Sequence) -> str:
    """The ``?`` placeholders of an SQL list of ``values``."""
    return ", ".join("?" * len(values))


# --- reading ------------------------------------------------------------------------------------
def changes(conn: sqlite3.Connection, limit: int | None = None, up_to: int | None = None) -> list[Change]:
    """The recorded changes, newest first (``limit``: at most that many; ``up_to``: from that
    change back)."""
    if limit is not None and limit < 1:
        raise SpeakerIDError(_("the number of changes to show must be at least 1, not {limit}")
                             .format(limit=limit))
    found = conn.execute(
        "SELECT id, at, user, action, undoes, edits FROM history WHERE ? IS NULL OR id <= ? "
        "ORDER BY id DESC LIMIT ?", (up_to, up_to, -1 if limit is None else limit)).fetchall()
    return [Change(change_id, at, user, action, describe(conn, action, Edits.from_json(edits), undoes),
                   undoes, undone_by(conn, change_id))
            for change_id, at, user, action, undoes, edits in found]


def load(conn: sqlite3.Connection, change_id: int) -> tuple[str, Edits]:
    """(action, edits) of one change; refused when the history has no such change."""
    row = conn.execute("SELECT action, edits FROM history WHERE id = ?", (change_id,)).fetchone()
    if row is None:
        raise SpeakerIDError(_("there is no change {id} in this gallery's history").format(id=change_id))
    return row[0], Edits.from_json(row[1])


def undone_by(conn: sqlite3.Connection, change_id: int) -> int | None:
    """The undo that took ``change_id`` back and was not itself undone since, if any."""
    row = conn.execute("SELECT id FROM history h WHERE undoes = ? AND NOT EXISTS "
                       "(SELECT 1 FROM history u WHERE u.undoes = h.id) ORDER BY id DESC LIMIT 1",
                       (change_id,)).fetchone()
    return row[0] if row else None


# --- in words -----------------------------------------------------------------------------------
def describe(conn: sqlite3.Connection, action: str, edits: Edits, undoes: int | None) -> str:
    """What a change did, in a line for people."""
    if undoes is not None:
        undone_action, undone_edits = load(conn, undoes)
        return _("undid change {id}: {what}").format(
            id=number(undoes), what=describe(conn, undone_action, undone_edits, None))
    speakers = [(before, after) for table, _key, before, after in edits.rows if table == "speakers"]
    created = [after["name"] for before, after in speakers if before is None]
    gone = [before["name"] for before, after in speakers if after is None]
    changed = [(before, after) for before, after in speakers if before and after]
    if action == "import":
        facts = edits.facts
        text = ngettext("imported {file}: {n} speaker", "imported {file}: {n} speakers",
                        facts["speakers"]).format(file=facts["file"], n=number(facts["speakers"]))
        replaced = facts.get("replaced")
        return text + (ngettext(" (replacing {n} speaker)", " (replacing {n} speakers)", replaced)
                       .format(n=number(replaced)) if replaced else "")
    if action == "calibrate":
        return _("threshold: {before} → {after}").format(
            before=threshold(edits.meta, 1), after=threshold(edits.meta, 2))
    if action == "enrol" and created:
        return ngettext("enrolled {name} ({n} clip)", "enrolled {name} ({n} clips)",
                        len(edits.added)).format(name=created[0], n=number(len(edits.added)))
    if action == "enrol" and edits.added:
        return ngettext("added {n} clip to {name}", "added {n} clips to {name}", len(edits.added)).format(
            n=number(len(edits.added)), name=edits.facts.get("name", "?"))
    if action == "remove" and gone:
        return ngettext("removed {name} ({n} clip)", "removed {name} ({n} clips)",
                        len(edits.removed)).format(name=gone[0], n=number(len(edits.removed)))
    if action == "alias":
        return describe_aliases(edits)
    if action in ("rename", "edit", "enrol") and changed:
        return describe_edit(*changed[0])
    if edits.revectored:  # a re-enrolment, or an enrolment that switched to a complete staged set
        return ngettext("re-enrolled {n} clip with another model", "re-enrolled {n} clips with another model",
                        len(edits.revectored)).format(n=number(len(edits.revectored)))
    if speakers:
        return ngettext("changed {n} speaker", "changed {n} speakers", len(speakers)).format(
            n=number(len(speakers)))
    return _("changed the gallery")


def describe_edit(before: dict, after: dict) -> str:
    """One speaker renamed or given other details."""
    if before["name"] != after["name"]:
        return _("renamed {old} to {new}").format(old=before["name"], new=after["name"])
    fields = {"gender": _("gender"), "party": _("party"), "notes": _("notes")}
    shown = [_("{field}: {before} → {after}").format(field=label, before=short(before[key]),
                                                     after=short(after[key]))
             for key, label in fields.items() if before[key] != after[key]]
    return _("edited {name}: {changes}").format(name=after["name"], changes="; ".join(shown))


def describe_aliases(edits: Edits) -> str:
    """A speaker's aliases given or taken (one written anew is taken in its old form, given in its new)."""
    rows = [(before, after) for table, _key, before, after in edits.rows if table == "aliases"]
    given = [after["alias"] for _before, after in rows if after]
    taken = [before["alias"] for before, _after in rows if before]
    parts = ([_("added {aliases}").format(aliases=", ".join(given))] if given else []) + \
            ([_("removed {aliases}").format(aliases=", ".join(taken))] if taken else [])
    return _("aliases of {name}: {changes}").format(name=edits.facts.get("name", "?"),
                                                     changes="; ".join(parts))


def short(value: str | None) -> str:
    return "—" if value is None else textwrap.shorten(value, 40, placeholder="…")


def threshold(meta: list[list], side: int) -> str:
    """The refit threshold before (``side`` 1) or after (2) a calibration; the model's own where none."""
    for row in meta:
        if row[0].startswith("calibration:") and row[side] is not None:
            try:
                return f"{float(json.loads(row[side])['threshold']):.3f}"
            except (ValueError, TypeError, KeyError):
                break
    return _("the model's own")
