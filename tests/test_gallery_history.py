"""The gallery's history: every change recorded with who, when and what, and undone exactly by a
new change (the gallery after the undo is the gallery before the change, byte for byte)."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.audio import AudioClip, from_array
from speakerid.cli import main
from speakerid.gallery import Gallery, history
from speakerid.gallery.schema import SCHEMA_VERSION

RATE = 16000


def clip(speaker: int, seconds: float = 6.0, seed: int = 0) -> AudioClip:
    return from_array(synth_voice(speaker, seconds, RATE, seed), RATE, f"spk{speaker}_{seed}.wav")


def state(path: Path) -> dict:
    """Everything a change or an undo could alter, as stored: speakers, clips with their audio
    bytes and vectors, aliases, the encoder of the vectors and the threshold."""
    with closing(sqlite3.connect(path)) as conn:
        clips = conn.execute("SELECT c.id, s.name, c.source, c.url, c.speech_s, c.sample_rate, c.encoder_id, "
                             "c.embedding, c.audio FROM clips c JOIN speakers s ON s.id = c.speaker_id "
                             "ORDER BY c.id").fetchall()
        return {"speakers": conn.execute("SELECT name, name_key, gender, party, notes, created FROM speakers "
                                         "ORDER BY name").fetchall(),
                "aliases": conn.execute("SELECT s.name, a.alias, a.normalised FROM aliases a "
                                        "JOIN speakers s ON s.id = a.speaker_id ORDER BY a.rowid").fetchall(),
                "clips": clips,
                "encoder": conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
                if clips else None,
                "calibration": conn.execute("SELECT key, value FROM meta WHERE key LIKE 'calibration:%'"
                                            ).fetchall()}


@pytest.fixture
def gallery(tmp_path, untrained_encoder) -> Gallery:
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder, user="Sita Rai") as opened:
        opened.enroll("Ann", [clip(0), clip(0, seed=1)], party="Greens")
        opened.enroll("Bob", [clip(1)], notes="anchor")
        yield opened


def exported_gallery(tmp_path: Path, encoder) -> Path:
    with Gallery(tmp_path / "other.sqlite", encoder) as other:
        other.enroll("Ann", [clip(0, seed=2)], gender="female")
        other.enroll("Chandra", [clip(2)])
        return other.export(tmp_path / "export.sqlite")


CHANGES = {
    "enrol": (lambda g, tmp, enc: g.enroll("Chandra", [clip(2)], gender="male"), "enrolled Chandra (1 clip)"),
    "add clips": (lambda g, tmp, enc: g.enroll("Ann", [clip(0, seed=3)], notes="new note"),
                  "added 1 clip to Ann"),
    "rename": (lambda g, tmp, enc: g.rename("Ann", "Ann Lee"), "renamed Ann to Ann Lee"),
    "edit": (lambda g, tmp, enc: g.update("Bob", party="Reds", notes=None),
             "edited Bob: party: — → Reds; notes: anchor → —"),
    "remove": (lambda g, tmp, enc: g.remove("Ann"), "removed Ann (2 clips)"),
    "import": (lambda g, tmp, enc: g.import_(exported_gallery(tmp, enc)),
               "imported export.sqlite: 2 speakers"),
    "import replacing": (lambda g, tmp, enc: g.import_(exported_gallery(tmp, enc), replace=True),
                         "imported export.sqlite: 2 speakers (replacing 2 speakers)"),
    "calibrate": (lambda g, tmp, enc: g.set_calibration(dataclasses.replace(enc.calibration, threshold=0.5)),
                  "threshold: the model's own → 0.500"),
}


@pytest.mark.parametrize("kind", CHANGES)
def test_each_change_is_recorded_and_undone_exactly(kind, gallery, tmp_path, untrained_encoder):
    change, what = CHANGES[kind]
    before = state(gallery.path)
    change(gallery, tmp_path, untrained_encoder)
    after = state(gallery.path)
    assert after != before
    recorded = gallery.history(limit=1)[0]
    assert (recorded.user, recorded.what, recorded.undone_by) == ("Sita Rai", what, None)

    undone = gallery.undo(recorded.id)
    assert state(gallery.path) == before
    assert (undone.undoes, undone.user, undone.what) == (recorded.id, "Sita Rai",
                                                         f"undid change {recorded.id}: {what}")
    assert gallery.history(limit=2)[1].undone_by == undone.id
    with pytest.raises(SpeakerIDError, match=f"Change {recorded.id} cannot be undone: it was undone already, "
                                             f"by change {undone.id}"):
        gallery.undo(recorded.id)

    gallery.undo(undone.id)  # an undo is a change like any other
    assert state(gallery.path) == after
    assert gallery.history(limit=3)[2].undone_by is None  # its undo was undone


def test_a_calibration_and_a_reenrolment_are_undone_with_the_threshold_and_vectors(
        gallery, untrained_encoder, other_encoder):
    gallery.set_calibration(dataclasses.replace(untrained_encoder.calibration, threshold=0.25))
    calibrated = state(gallery.path)
    gallery.set_calibration(dataclasses.replace(untrained_encoder.calibration, threshold=0.75))
    gallery.undo(gallery.history(limit=1)[0].id)
    assert state(gallery.path) == calibrated and gallery.calibration.threshold == 0.25

    assert gallery.reenroll(other_encoder) == 3
    assert gallery.history(limit=1)[0].what == "re-enrolled 3 clips with another model"
    gallery.undo(gallery.history(limit=1)[0].id)
    assert state(gallery.path) == calibrated
    gallery._encoder = untrained_encoder  # the model in use again: its vectors answer as before
    assert gallery.identify(clip(0)).best.name == "Ann"


def test_an_undo_that_conflicts_with_a_later_change_is_refused_and_writes_nothing(gallery):
    gallery.rename("Ann", "Ann Lee")
    renamed = gallery.history(limit=1)[0].id
    gallery.enroll("Ann", [clip(0, seed=5)])
    another_ann = gallery.history(limit=1)[0].id
    gallery.remove("Bob")
    removed = gallery.history(limit=1)[0].id
    gallery.enroll("Bob", [clip(1, seed=5)])
    gallery.update("Ann", party="Reds")
    count, before = len(gallery.history()), state(gallery.path)

    refusals = {
        renamed: "the name Ann is taken now",
        removed: "the name Bob is taken now",
        2: "Bob was removed since",  # the first Bob's enrolment
        another_ann: "Ann was changed since; undo that change first",
        999: "there is no change 999 in this gallery's history",
    }
    for change_id, reason in refusals.items():
        with pytest.raises(SpeakerIDError, match=reason):
            gallery.undo(change_id)
    assert len(gallery.history()) == count and state(gallery.path) == before

    gallery.enroll("Chandra", [clip(2)])
    gallery.enroll("Chandra", [clip(2, seed=1)])
    with pytest.raises(SpeakerIDError, match="Chandra has clips added since"):
        gallery.undo(gallery.history(limit=2)[1].id)


def test_a_removed_speaker_comes_back_under_a_new_id_when_theirs_was_taken(gallery):
    gallery.remove("Bob")  # held the highest speaker id, which SQLite hands out again
    removed = gallery.history(limit=1)[0].id
    gallery.enroll("Chandra", [clip(2)])
    gallery.undo(removed)
    assert {s.name: s.clips for s in gallery.speakers()} == {"Ann": 2, "Bob": 1, "Chandra": 1}
    assert gallery.identify(clip(1)).best.name == "Bob"


def test_rows_of_a_table_beside_speakers_come_back_with_their_speaker(tmp_path, untrained_encoder):
    """A table that refers to speakers (as aliases do) is kept as row images too: rows its
    speaker's removal deleted come back with the speaker, under the speaker's new id if need be."""
    path = tmp_path / "nicknames.sqlite"
    with Gallery(path, untrained_encoder) as gallery:
        gallery.enroll("Ann", [clip(0)])
        gallery.enroll("Bob", [clip(1)])
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE nicknames (speaker_id INTEGER NOT NULL REFERENCES speakers(id) "
                     "ON DELETE CASCADE, nickname TEXT NOT NULL UNIQUE)")
        conn.execute("INSERT INTO nicknames SELECT id, 'Bobby' FROM speakers WHERE name = 'Bob'")
        conn.commit()
    with Gallery(path, untrained_encoder) as gallery:
        gallery.remove("Bob")
        removed = gallery.history(limit=1)[0].id
        gallery.enroll("Chandra", [clip(2)])  # takes Bob's id
        gallery.undo(removed)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT s.name, n.nickname FROM nicknames n JOIN speakers s "
                            "ON s.id = n.speaker_id").fetchall() == [("Bob", "Bobby")]

    with Gallery(path, untrained_encoder) as gallery:
        gallery.remove("Bob")
        removed = gallery.history(limit=1)[0].id
        with closing(sqlite3.connect(path)) as conn:  # another program gives the nickname to Ann
            conn.execute("INSERT INTO nicknames SELECT id, 'Bobby' FROM speakers WHERE name = 'Ann'")
            conn.commit()
        with pytest.raises(SpeakerIDError, match=f"Change {removed} cannot be undone: a name it would put "
                                                 "back is taken now"):
            gallery.undo(removed)
        assert "Bob" not in gallery


def test_nothing_is_recorded_for_a_change_that_changes_nothing(gallery):
    count = len(gallery.history())
    gallery.enroll("Ann", [clip(0)])  # the same audio again: skipped
    gallery.update("Bob", notes="anchor")
    assert len(gallery.history()) == count == 2


def test_a_change_and_its_history_row_are_written_together(gallery, monkeypatch):
    before, count = state(gallery.path), len(gallery.history())

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(history, "settle_kept", broken)
    with pytest.raises(OSError, match="disk full"):
        gallery.remove("Ann")
    assert state(gallery.path) == before and len(gallery.history()) == count


def test_random_sequences_of_changes_undo_back_to_each_earlier_state(tmp_path, untrained_encoder):
    """Changes in a random order, each undone newest first: the gallery goes back through each
    earlier state exactly; a random undo of an older change is either done or refused whole."""
    clips = [clip(speaker, seed=seed) for speaker in range(3) for seed in range(2)]
    names = ["Ann", "Bob", "Chandra", "Dawa"]
    for seed in range(3):
        rng = random.Random(seed)
        with Gallery(tmp_path / f"random{seed}.sqlite", untrained_encoder) as gallery:
            states = [state(gallery.path)]
            ids: list[int] = []
            for _step in range(8):
                enrolled = [s.name for s in gallery.speakers()]
                action = rng.choice(["enrol", "enrol", "rename", "edit", "remove"] if enrolled else ["enrol"])
                try:
                    if action == "enrol":
                        gallery.enroll(rng.choice(names), [rng.choice(clips)], party=rng.choice([None, "P"]))
                    elif action == "rename":
                        gallery.rename(rng.choice(enrolled), rng.choice(names))
                    elif action == "edit":
                        gallery.update(rng.choice(enrolled), notes=rng.choice([None, "x", "y"]))
                    else:
                        gallery.remove(rng.choice(enrolled))
                except SpeakerIDError:
                    continue  # a refused change (a name taken) writes nothing
                if state(gallery.path) != states[-1]:
                    states.append(state(gallery.path))
                    ids.append(gallery.history(limit=1)[0].id)
            older = rng.choice(ids)
            now = state(gallery.path)
            try:
                gallery.undo(older)
            except SpeakerIDError:
                assert state(gallery.path) == now
            else:
                gallery.undo(gallery.history(limit=1)[0].id)  # undo the undo
                assert state(gallery.path) == now
            for change_id in reversed(ids):
                states.pop()
                gallery.undo(change_id)
                assert state(gallery.path) == states[-1]


def test_aliases_given_and_taken_are_changes_an_undo_takes_back(gallery):
    before = state(gallery.path)
    gallery.set_aliases("Bob", ["Robert", "बब"])
    given = gallery.history(limit=1)[0]
    assert (given.action, given.what) == ("alias", "aliases of Bob: added Robert, बब")
    gallery.remove("robert")  # by an alias: Bob goes, with his aliases
    gallery.undo(gallery.history(limit=1)[0].id)
    assert gallery.speaker("बब").aliases == ("Robert", "बब")
    gallery.remove_alias("Bob", "ROBERT")
    taken = gallery.history(limit=1)[0]
    assert taken.what == "aliases of Bob: removed Robert"
    gallery.undo(taken.id)
    gallery.undo(given.id)
    assert state(gallery.path) == before


def test_a_format_4_gallery_gets_an_empty_history_in_place(tmp_path, untrained_encoder):
    path = tmp_path / "format4.sqlite"
    with Gallery(path, untrained_encoder) as gallery:
        gallery.enroll("Ann", [clip(0)])
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript("DROP TABLE history_clips; DROP TABLE history; "
                           "UPDATE meta SET value = '4' WHERE key = 'schema_version';")
    before = state(path)
    with Gallery(path, untrained_encoder, user="Hari") as migrated:
        assert migrated.history() == [] and state(path) == before
        migrated.remove("Ann")
        migrated.undo(migrated.history(limit=1)[0].id)
    assert state(path) == before
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)
        assert conn.execute("SELECT user FROM history").fetchall() == [("Hari",), ("Hari",)]


@pytest.mark.parametrize("user", ["", "  ", 42])
def test_who_makes_changes_must_be_named(tmp_path, user):
    with pytest.raises(SpeakerIDError, match="who makes a change must be given as a name"):
        Gallery(tmp_path / "g.sqlite", user=user)


def test_the_cli_lists_the_history_and_undoes_as_the_os_user(gallery, monkeypatch, capsys):
    monkeypatch.setattr("getpass.getuser", lambda: "hari")
    gallery.remove("Bob")
    removed = gallery.history(limit=1)[0].id
    args = ["--gallery", str(gallery.path)]
    assert main(["gallery", "undo", str(removed), *args]) == 0
    assert capsys.readouterr().out.strip() == (f"change {removed + 1}: undid change {removed}: "
                                               "removed Bob (1 clip)")
    assert main(["gallery", "history", "--limit", "2", "--json", *args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["id"], row["user"], row["undoes"], row["undone_by"]) for row in rows] == [
        (removed + 1, "hari", removed, None), (removed, "Sita Rai", None, removed + 1)]
    assert main(["gallery", "history", *args]) == 0
    table = capsys.readouterr().out
    assert "enrolled Ann (2 clips)" in table and "Sita Rai" in table and f"undone by {removed + 1}" in table
    assert main(["gallery", "undo", str(removed), *args]) == 2
    assert "cannot be undone: it was undone already" in capsys.readouterr().err
