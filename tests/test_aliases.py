"""Names as newsrooms write them: aliases, names matched whatever their spacing, Unicode form or
case, and the format-3 gallery file migrated in place to hold them."""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from contextlib import closing

import pytest
from test_gallery import clip, clip_ids, older_copy

from speakerid import SpeakerIDError
from speakerid.gallery import Gallery
from speakerid.gallery.names import name_key
from speakerid.gallery.schema import SCHEMA_VERSION

DAHAL = "पुष्पकमल दाहाल"
DAHAL_NFD_SPACED = unicodedata.normalize("NFD", "पुष्पकमल  दाहाल ")


@pytest.fixture
def newsroom(tmp_path, untrained_encoder) -> Gallery:
    """Dahal and Ann Lee, one clip each; Dahal known as Prachanda, प्रचण्ड."""
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        gallery.enroll(DAHAL, [clip(0, 6.0)])
        gallery.enroll("Ann Lee", [clip(1, 6.0)])
        gallery.set_aliases(DAHAL, ["Pushpa Kamal Dahal", "Prachanda", "प्रचण्ड"])
        yield gallery


def test_a_name_typed_another_way_is_the_same_speaker(newsroom):
    assert DAHAL_NFD_SPACED != DAHAL and name_key(DAHAL_NFD_SPACED) == name_key(DAHAL)
    info = newsroom.enroll(DAHAL_NFD_SPACED, [clip(0, 6.0, seed=1)])
    assert (info.name, info.clips, len(newsroom)) == (DAHAL, 2, 2)
    assert newsroom.enroll("  ANN   lee", [clip(1, 6.0, seed=1)]).name == "Ann Lee"
    assert newsroom.enroll("prachanda", [clip(0, 6.0, seed=2)]).name == DAHAL  # an alias enrols too
    assert [(s.name, s.clips) for s in newsroom.speakers()] == [("Ann Lee", 2), (DAHAL, 3)]
    new = newsroom.enroll("Ann  Leigh", [clip(2, 6.0)])
    assert new.name == "Ann Leigh" and len(newsroom) == 3


def test_every_name_taking_call_accepts_an_alias(newsroom):
    info = newsroom.find_speaker("  PRACHANDA ")
    assert info.name == DAHAL and info.aliases == ("Pushpa Kamal Dahal", "Prachanda", "प्रचण्ड")
    assert newsroom.speaker("pushpa kamal  dahal") == info and "प्रचण्ड" in newsroom
    assert newsroom.find_speaker("Nobody") is None and "Nobody" not in newsroom
    assert len(newsroom.clip_audio("Prachanda")) == 1 and len(newsroom.clip_sources("प्रचण्ड")) == 1
    assert newsroom.verify(clip(0, 6.0), "prachanda").name == DAHAL
    assert newsroom.update("Prachanda", party="Maoist Centre").party == "Maoist Centre"
    newsroom.remove("प्रचण्ड")
    assert [s.name for s in newsroom.speakers()] == ["Ann Lee"] and "Prachanda" not in newsroom
    newsroom.add_alias("Ann Lee", "Prachanda")  # free again: the aliases went with their speaker


def test_an_alias_names_one_speaker_only(newsroom):
    before = newsroom.speakers()
    with pytest.raises(SpeakerIDError, match="'ann lee' cannot be an alias of .*: it already names 'Ann Lee"):
        newsroom.add_alias(DAHAL, "ann lee")
    with pytest.raises(SpeakerIDError, match="it already names 'पुष्पकमल दाहाल'"):
        newsroom.add_alias("Ann Lee", "PRACHANDA")
    with pytest.raises(SpeakerIDError, match="already names"):  # all or nothing
        newsroom.set_aliases("Ann Lee", ["Annie", "prachanda"])
    with pytest.raises(SpeakerIDError, match="is an alias of"):
        newsroom.rename("Ann Lee", "Prachanda")
    with pytest.raises(SpeakerIDError, match="an alias is written like a name"):
        newsroom.add_alias("Ann Lee", "two\nlines")
    with pytest.raises(SpeakerIDError, match="'Annie' is not an alias of 'Ann Lee'"):
        newsroom.remove_alias("Ann Lee", "Annie")
    assert newsroom.speakers() == before


def test_aliases_are_kept_tidy(newsroom):
    assert newsroom.add_alias(DAHAL, "prachanda").aliases[1] == "prachanda"  # respelt, not repeated
    assert newsroom.add_alias(DAHAL, DAHAL_NFD_SPACED).aliases == (  # their own name: nothing to add
        "Pushpa Kamal Dahal", "prachanda", "प्रचण्ड")
    assert newsroom.remove_alias("Prachanda", "PRACHANDA").aliases == ("Pushpa Kamal Dahal", "प्रचण्ड")
    info = newsroom.rename(DAHAL, "Pushpa  Kamal Dahal")  # an alias becomes the name: no longer an alias
    assert (info.name, info.aliases) == ("Pushpa Kamal Dahal", ("प्रचण्ड",))
    assert newsroom.rename("pushpa kamal dahal", "Pushpa Kamal DAHAL").name == "Pushpa Kamal DAHAL"


def test_export_and_import_carry_aliases(tmp_path, newsroom, untrained_encoder):
    exported = newsroom.export(tmp_path / "export.sqlite")
    with Gallery(tmp_path / "other.sqlite", untrained_encoder) as other:
        other.enroll("Prachanda", [clip(0, 6.0, seed=3)])  # their alias is our name: merged into one
        other.enroll("Ann Lee", [clip(1, 6.0, seed=3)])
        other.add_alias("Ann Lee", "Annie")
        other.import_(exported)
        assert [(s.name, s.clips, s.aliases) for s in other.speakers()] == [
            ("Ann Lee", 2, ("Annie",)), ("Prachanda", 2, (DAHAL, "Pushpa Kamal Dahal", "प्रचण्ड"))]
    with Gallery(tmp_path / "clash.sqlite", untrained_encoder) as clash:
        clash.enroll("Prachanda", [clip(0, 6.0, seed=3)])
        clash.enroll("Someone else", [clip(2, 6.0)], party="x")
        clash.add_alias("Someone else", "प्रचण्ड")
        before = clash.speakers()
        with pytest.raises(SpeakerIDError, match="export.sqlite: the name and aliases of 'पुष्पकमल दाहाल' "
                                                 "there name 2 speakers here"):
            clash.import_(exported)
        assert clash.speakers() == before  # nothing imported
        clash.import_(exported, replace=True)
        assert clash.speaker("Prachanda").name == DAHAL and "Someone else" not in clash
        assert clash.speaker("प्रचण्ड").name == DAHAL


def format_3_copy(gallery: Gallery, tmp_path, names: dict[str, str]):
    """The gallery as format 3 stored it, with names (old -> new) written as format 3 allowed."""
    old = older_copy(gallery.export(tmp_path / "export.sqlite"), tmp_path / "format3.sqlite", 3)
    with closing(sqlite3.connect(old)) as conn:
        conn.executemany("UPDATE speakers SET name = ? WHERE name = ?",
                         [(new, name) for name, new in names.items()])
        conn.commit()
    return old


def test_a_format_3_gallery_is_migrated_in_place_keeping_clashing_names(tmp_path, untrained_encoder, caplog):
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        for speaker, name in enumerate(["speaker 0", "speaker 1", "speaker 2"]):
            gallery.enroll(name, [clip(speaker, 6.0), clip(speaker, 6.0, seed=1)], party=f"p{speaker}")
        identified = gallery.identify(clip(1, 6.0, seed=2)).to_dict()
        old = format_3_copy(gallery, tmp_path, {"speaker 1": "पुष्पकमल  दाहाल", "speaker 2": "SPEAKER 0"})
    ids = clip_ids(old)
    with caplog.at_level(logging.WARNING), Gallery(old, untrained_encoder) as migrated:
        assert [(s.name, s.clips, s.party) for s in migrated.speakers()] == [
            ("SPEAKER 0", 2, "p2"), ("speaker 0", 2, "p0"), (DAHAL, 2, "p1")]  # the spaces made one
        assert clip_ids(old) == ids
        assert migrated.name_clashes() == [("SPEAKER 0", "speaker 0")]  # kept apart, and said
        assert "'speaker 0' and 'SPEAKER 0' are one name written two ways" in caplog.text
        assert migrated.speaker("SPEAKER 0").party == "p2"  # the exact name still finds each
        with pytest.raises(SpeakerIDError, match="could be any of 'SPEAKER 0', 'speaker 0'"):
            migrated.speaker("Speaker 0")
        result = migrated.identify(clip(1, 6.0, seed=2)).to_dict()
        assert [m["score"] for m in result["matches"]] == [m["score"] for m in identified["matches"]]
        migrated.add_alias(DAHAL, "Prachanda")
        migrated.rename("SPEAKER 0", "Third")
        assert migrated.name_clashes() == [] and migrated.speaker("Speaker 0").name == "speaker 0"
    with closing(sqlite3.connect(old)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)
        assert conn.execute("SELECT alias, normalised FROM aliases").fetchall() == [
            ("Prachanda", "prachanda")]


def test_importing_a_file_with_one_name_written_two_ways_is_refused(tmp_path, newsroom, untrained_encoder):
    old = format_3_copy(newsroom, tmp_path, {"Ann Lee": "ann  lee", DAHAL: "Ann Lee"})
    with Gallery(tmp_path / "other.sqlite", untrained_encoder) as other:
        with pytest.raises(SpeakerIDError, match="holds 'Ann Lee' and 'ann  lee', one name written two ways"):
            other.import_(old)
        assert len(other) == 0
