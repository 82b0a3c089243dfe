"""The gallery: enrolment, identification, editing, moving files, encoder changes, concurrency.

The untrained encoder is not accurate, so identity is only asserted where the clips are identical.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from synthetic import synth_voice, write_wav

from speakerid import SpeakerIDError
from speakerid.audio import AudioClip, from_array
from speakerid.fetch import FetchedAudio
from speakerid.gallery import SCHEMA, ClipSource, Gallery
from speakerid.gallery.schema import ALIAS_SCHEMA, SCHEMA_VERSION

RATE = 16000
ODD_NAMES = ["AC/DC", "O'Brien \"the voice\"", "Zoë 🎤 Ünïcödé", "'; DROP TABLE speakers;--",
             "back\\slash %_ *"]


def clip(speaker: int, seconds: float = 5.0, seed: int = 0) -> AudioClip:
    return from_array(synth_voice(speaker, seconds, RATE, seed), RATE, f"spk{speaker}_{seed}.wav")


@pytest.fixture
def gallery(tmp_path, untrained_encoder) -> Gallery:
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as opened:
        yield opened


@pytest.fixture
def three(gallery) -> Gallery:
    """Three speakers of two clips each."""
    for speaker in range(3):
        gallery.enroll(f"speaker {speaker}", [clip(speaker, seed=0), clip(speaker, seed=1)])
    return gallery


def with_threshold(encoder, threshold: float):
    """The same network (same encoder_id) with another decision threshold."""
    from speakerid import Encoder

    return Encoder(encoder.network, encoder.pipeline, encoder.model_config,
                   dataclasses.replace(encoder.calibration, threshold=threshold))


def test_enrolment_keeps_every_clip_and_identify_ranks(three):
    infos = three.speakers()
    assert [info.name for info in infos] == ["speaker 0", "speaker 1", "speaker 2"]
    assert all(info.clips == 2 and info.seconds >= 3.0 for info in infos)
    stored = three.clip_audio("speaker 1")
    assert len(stored) == 2 and all(c.channels == 1 and c.sample_rate == RATE for c in stored)

    result = three.identify(clip(1, seed=2), top_k=2)
    assert len(result.matches) == 2
    assert result.matches[0].score >= result.matches[1].score
    assert all(0.0 <= m.probability <= 1.0 for m in result.matches)
    assert result.to_dict()["matches"][0]["name"] == result.best.name
    assert len(three.identify(clip(1, seed=2)).matches) == 3


def test_identifying_an_enrolled_clip_ranks_its_speaker_first(gallery):
    clips = {speaker: clip(speaker, seconds=8.0) for speaker in range(3)}
    for speaker, audio in clips.items():
        gallery.enroll(f"speaker {speaker}", [audio])
    for speaker, audio in clips.items():
        result = gallery.identify(audio)
        assert result.speaker == f"speaker {speaker}"
        assert result.best.score == pytest.approx(1.0, abs=1e-4)
        assert gallery.verify(audio, f"speaker {speaker}").score == pytest.approx(1.0, abs=1e-4)


def test_scores_are_normalised_as_the_models_threshold_expects(gallery, untrained_encoder):
    """With a cohort shipped, the gallery's scores are the model's AS-norm scores (the scale its
    threshold was calibrated on), and the ranking follows them."""
    from speakerid import Encoder
    from speakerid.scoring import ScoreNormaliser, unit

    cohort = np.stack([untrained_encoder.embed(synth_voice(40 + i, 4.0, RATE), RATE) for i in range(12)])
    normalised = Encoder(untrained_encoder.network, untrained_encoder.pipeline,
                         untrained_encoder.model_config, untrained_encoder.calibration,
                         normaliser=ScoreNormaliser(cohort, "cosine", top_k=5))
    for speaker in range(3):
        gallery.enroll(f"speaker {speaker}", [clip(speaker, seed=0), clip(speaker, seed=1)])
    with Gallery(gallery.path, normalised) as scored:
        query = clip(1, seed=2)
        result = scored.identify(query, top_k=3)
        embedding = normalised.embed_prepared(normalised.prepare(query))
        expected, raw = {}, {}
        for speaker in range(3):
            vectors = np.stack([normalised.embed_prepared(normalised.prepare(clip(speaker, seed=seed)))
                                for seed in (0, 1)])
            centroid = unit(unit(vectors).sum(0))
            expected[f"speaker {speaker}"] = normalised.similarity(embedding, centroid)
            raw[f"speaker {speaker}"] = untrained_encoder.similarity(embedding, centroid)
        assert [m.name for m in result.matches] == sorted(expected, key=expected.get, reverse=True)
        for match in result.matches:
            assert match.score == pytest.approx(expected[match.name], abs=1e-3)
            assert match.score != pytest.approx(raw[match.name], abs=1e-2)
        assert scored.verify(query, "speaker 1").score == pytest.approx(expected["speaker 1"], abs=1e-3)


def test_unknown_speaker_below_threshold(tmp_path, three, untrained_encoder):
    strict = Gallery(three.path, with_threshold(untrained_encoder, 1.5))  # cosine never reaches 1.5
    result = strict.identify(clip(0, seed=0))
    assert result.best is not None and result.speaker is None
    assert result.to_dict()["speaker"] is None

    empty = Gallery(tmp_path / "empty.sqlite", untrained_encoder).identify(clip(0))
    assert empty.matches == [] and empty.best is None and empty.speaker is None


def test_identify_refuses_bad_input(three):
    with pytest.raises(SpeakerIDError):
        three.identify(from_array(np.zeros(5 * RATE, np.float32), RATE, "silence.wav"))
    with pytest.raises(SpeakerIDError, match="top_k"):
        three.identify_embedding(np.ones(64, np.float32), top_k=0)
    with pytest.raises(SpeakerIDError, match="dimensional"):
        three.identify_embedding(np.ones(3, np.float32))
    with pytest.raises(SpeakerIDError, match="not enrolled"):
        three.verify(clip(0), "nobody")


def test_rename_remove_update_list(three):
    three.update("speaker 0", gender="f", party="Greens", notes="chair")
    info = three.rename("speaker 0", "  Alice  ")
    assert (info.name, info.gender, info.party, info.notes) == ("Alice", "f", "Greens", "chair")
    assert info.clips == 2
    info = three.update("Alice", party=None)  # None clears, left-out fields stay
    assert (info.gender, info.party, info.notes) == ("f", None, "chair")
    with pytest.raises(SpeakerIDError, match="already enrolled"):
        three.rename("Alice", "speaker 1")
    three.remove("speaker 1")
    with pytest.raises(SpeakerIDError, match="not enrolled"):
        three.remove("speaker 1")
    assert [s.name for s in three.speakers()] == ["Alice", "speaker 2"]
    assert len(three) == 2 and "Alice" in three and "speaker 1" not in three and "" not in three
    assert [m.name for m in three.identify(clip(2)).matches] != []
    assert {m.name for m in three.identify(clip(2)).matches} == {"Alice", "speaker 2"}


def test_unusual_names_round_trip(gallery):
    for index, name in enumerate(ODD_NAMES):
        gallery.enroll(name, [clip(index, seconds=8.0)])
    assert sorted(s.name for s in gallery.speakers()) == sorted(ODD_NAMES)
    assert all(name in gallery for name in ODD_NAMES)
    assert {m.name for m in gallery.identify(clip(0), top_k=10).matches} == set(ODD_NAMES)
    gallery.rename(ODD_NAMES[3], ODD_NAMES[3] + " 2")
    assert ODD_NAMES[3] + " 2" in gallery and len(gallery) == len(ODD_NAMES)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "two\nlines", 42])
def test_invalid_names_refused(gallery, name):
    with pytest.raises(SpeakerIDError):
        gallery.enroll(name, [clip(0)])
    assert len(gallery) == 0


def test_refused_enrolment_leaves_the_gallery_unchanged(gallery):
    with pytest.raises(SpeakerIDError, match="at least 3 s"):
        gallery.enroll("short", [clip(0, seconds=2.0)])
    assert len(gallery) == 0
    gallery.enroll("Ann", [clip(0, seconds=8.0)])
    silence = from_array(np.zeros(4 * RATE, np.float32), RATE, "silence.wav")
    with pytest.raises(SpeakerIDError, match="silence.wav"):
        gallery.enroll("Ann", [clip(0, seed=3), silence])  # one bad clip: none is added
    with pytest.raises(SpeakerIDError, match="no clips"):
        gallery.enroll("Ann", [])
    assert [(s.name, s.clips) for s in gallery.speakers()] == [("Ann", 1)]


def test_the_same_audio_is_not_enrolled_twice(gallery, voice_file):
    path = voice_file(0, 8.0)
    gallery.enroll("Ann", [path, path])
    gallery.enroll("Ann", path, gender="f")
    assert (gallery.speaker("Ann").clips, gallery.speaker("Ann").gender) == (1, "f")


def test_stored_audio_is_mono_at_most_48k_and_60s(gallery):
    stereo = np.stack([synth_voice(0, 62.0, 96000), synth_voice(0, 62.0, 96000, seed=1)], axis=1)
    gallery.enroll("Long", [from_array(stereo, 96000, "long.wav")])
    (stored,) = gallery.clip_audio("Long")
    assert (stored.channels, stored.sample_rate) == (1, 48000)
    assert stored.duration_s == pytest.approx(60.0, abs=0.01)


def test_export_import_round_trip(tmp_path, three, untrained_encoder):
    exported = three.export(tmp_path / "copy.sqlite")
    probe = clip(1, seed=5)
    with Gallery(tmp_path / "other.sqlite", untrained_encoder) as other:
        imported = other.import_(exported)
        assert [s.name for s in imported] == [s.name for s in three.speakers()]
        assert other.speakers() == three.speakers()
        here, there = other.identify(probe), three.identify(probe)
        assert [m.name for m in here.matches] == [m.name for m in there.matches]
        assert [m.score for m in here.matches] == pytest.approx([m.score for m in there.matches])
        other.import_(exported)  # merging the same clips again adds nothing
        assert other.speakers() == three.speakers()
        other.enroll("extra", [clip(5, seconds=8.0)])
        other.import_(exported, replace=True)
        assert other.speakers() == three.speakers()


def test_import_refuses_bad_files_without_changing_the_gallery(tmp_path, three, voice_file):
    before = three.speakers()
    exported = three.export(tmp_path / "good.sqlite")
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(exported.read_bytes()[:9000])
    tampered = tmp_path / "tampered.sqlite"
    tampered.write_bytes(exported.read_bytes())
    with sqlite3.connect(tampered) as conn:
        conn.execute("UPDATE clips SET embedding = X'0102' WHERE id = 1")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    for bad in (voice_file(0, 1.0), truncated, tampered, foreign, tmp_path / "missing.sqlite"):
        with pytest.raises(SpeakerIDError):
            three.import_(bad, replace=True)
        assert three.speakers() == before
    with pytest.raises(SpeakerIDError, match="not a speakerid gallery"):
        Gallery(voice_file(1, 1.0))


def test_encoder_change_is_refused_until_reenrolled(tmp_path, three, untrained_encoder, other_encoder):
    exported = three.export(tmp_path / "copy.sqlite")
    switched = Gallery(three.path, other_encoder)
    for action in (lambda: switched.identify(clip(0)), lambda: switched.enroll("new", [clip(4, 8.0)])):
        with pytest.raises(SpeakerIDError, match=r"reenroll\(encoder\)"):
            action()
    steps = []
    assert switched.reenroll(other_encoder, progress=lambda *step: steps.append(step)) == 6
    assert steps[-1] == (6, 6)
    assert switched.encoder_id == other_encoder.encoder_id
    stored = switched.clip_audio("speaker 2")[0]
    assert switched.identify(stored).best.score > 0.9
    with pytest.raises(SpeakerIDError, match="re-enrol"):
        three.identify(clip(0))

    with Gallery(tmp_path / "fresh.sqlite", other_encoder) as fresh:  # import from another encoder
        fresh.import_(exported)
        assert fresh.encoder_id == other_encoder.encoder_id and len(fresh) == 3


def with_min_speech(encoder, seconds: float):
    """The same network behind a pipeline that refuses clips with less speech: another encoder_id."""
    from speakerid import Encoder

    preprocess = dataclasses.replace(encoder.pipeline.preprocess, min_speech_s=seconds)
    return Encoder(encoder.network, dataclasses.replace(encoder.pipeline, preprocess=preprocess),
                   encoder.model_config)


def test_reenrolment_keeps_and_reports_the_clips_a_new_pipeline_refuses(gallery, untrained_encoder):
    gallery.enroll("long and short", [clip(0, 12.0), clip(0, 6.0, seed=1)])  # 10-11 s of speech, 5 s
    gallery.enroll("short only", [clip(1, 6.0)])
    gallery.enroll("long", [clip(2, 12.0)])
    strict, refused = with_min_speech(untrained_encoder, 8.0), []
    assert gallery.reenroll(strict, on_refused=refused.append) == 2
    assert sorted(str(error).split(": ")[0] for error in refused) == [
        "long and short/spk0_1.wav", "short only/spk1_0.wav"]
    assert gallery.encoder_id == strict.encoder_id
    assert [info.clips for info in gallery.speakers()] == [1, 2, 1]  # every clip kept
    assert {match.name for match in gallery.identify(clip(2, 12.0)).matches} == {"long", "long and short"}
    with pytest.raises(SpeakerIDError, match="'short only' has no clip the model in use accepts"):
        gallery.verify(clip(1, 12.0), "short only")
    # kept whole: back on the first model, they count again (its vectors of them were kept too,
    # so only the two others are re-embedded)
    assert gallery.reenroll(untrained_encoder, on_refused=refused.append) == 2 and len(refused) == 2
    assert len(gallery.identify(clip(1, 6.0)).matches) == 3


def clip_ids(path: Path) -> set[int]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM clips")}


def test_clip_ids_are_never_reused(gallery):
    """A vector computed for a clip (a re-enrolment in progress) can never land on a later one."""
    gallery.enroll("first", [clip(0, 6.0)])
    gallery.enroll("second", [clip(1, 6.0), clip(1, 6.0, seed=1)])
    before = clip_ids(gallery.path)
    gallery.remove("second")  # held the highest ids: SQLite hands those out again without AUTOINCREMENT
    gallery.enroll("third", [clip(2, 6.0)])
    assert min(clip_ids(gallery.path) - before) > max(before)


CLIP_COLUMNS_BEFORE_URL = "id, speaker_id, source, speech_s, sample_rate, encoder_id, embedding, audio"
SPEAKER_COLUMNS_BEFORE_KEYS = "id, name, gender, party, notes, created"


def older_copy(source: Path, target: Path, version: int) -> Path:
    """The gallery as an older format stored it: no name keys and no aliases (format 3); also no
    url column (format 2); also clip ids without AUTOINCREMENT and no staged table (format 1)."""
    statements = [statement.replace(",\n        name_key TEXT", "") for statement in SCHEMA
                  if statement not in ALIAS_SCHEMA]
    clip_columns = CLIP_COLUMNS_BEFORE_URL + (", url" if version == 3 else "")
    with closing(sqlite3.connect(target)) as conn:
        for statement in statements[:4] if version == 1 else statements:
            conn.execute(statement.replace(" AUTOINCREMENT", "" if version == 1 else " AUTOINCREMENT")
                         .replace("        url TEXT,\n", "" if version < 3 else "        url TEXT,\n"))
        conn.execute("ATTACH DATABASE ? AS source", (str(source),))
        conn.execute("INSERT INTO meta SELECT * FROM source.meta")
        conn.execute(f"INSERT INTO speakers ({SPEAKER_COLUMNS_BEFORE_KEYS}) "
                     f"SELECT {SPEAKER_COLUMNS_BEFORE_KEYS} FROM source.speakers")
        conn.execute(f"INSERT INTO clips ({clip_columns}) SELECT {clip_columns} FROM source.clips")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
        conn.commit()
    return target


def test_a_format_1_gallery_is_migrated_whole_and_imported_as_it_is(tmp_path, three, untrained_encoder):
    old = older_copy(three.export(tmp_path / "export.sqlite"), tmp_path / "format1.sqlite", 1)
    with Gallery(tmp_path / "fresh.sqlite", untrained_encoder) as fresh:  # read without migrating
        fresh.import_(old)
        assert fresh.speakers() == three.speakers()
    ids = clip_ids(old)
    with Gallery(old, untrained_encoder) as migrated:
        assert migrated.speakers() == three.speakers() and clip_ids(old) == ids
        assert migrated.identify(clip(1)).to_dict() == three.identify(clip(1)).to_dict()
        migrated.remove("speaker 2")  # enrolled last: it held the highest ids
        migrated.enroll("new", [clip(2, 6.0, seed=5)])
    assert min(clip_ids(old) - ids) > max(ids)  # never reused once migrated
    with closing(sqlite3.connect(old)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)


def test_a_clip_from_a_link_keeps_its_page_title_and_address(tmp_path, gallery, untrained_encoder):
    page = FetchedAudio(clip(0, 6.0, seed=3), "Press conference, 30 November",
                        "https://example.org/watch?v=1")
    gallery.enroll("speaker 0", [clip(0), page])
    assert [(s.source, s.url) for s in gallery.clip_sources("speaker 0")] == [
        ("spk0_0.wav", None), ("Press conference, 30 November", "https://example.org/watch?v=1")]
    with Gallery(tmp_path / "copy.sqlite", untrained_encoder) as copy:  # kept through export/import
        copy.import_(gallery.export(tmp_path / "export.sqlite"))
        assert copy.clip_sources("speaker 0") == gallery.clip_sources("speaker 0")


def test_a_format_2_gallery_gets_the_url_column_in_place(tmp_path, three, untrained_encoder):
    old = older_copy(three.export(tmp_path / "export.sqlite"), tmp_path / "format2.sqlite", 2)
    ids = clip_ids(old)
    with Gallery(old, untrained_encoder) as migrated:
        assert migrated.speakers() == three.speakers() and clip_ids(old) == ids
        assert [s.url for s in migrated.clip_sources("speaker 1")] == [None, None]
        migrated.enroll("speaker 1", [FetchedAudio(clip(1, 6.0, seed=4), "Debate", "http://tv.example/1")])
        assert migrated.clip_sources("speaker 1")[-1] == ClipSource("Debate", "http://tv.example/1",
                                                                   pytest.approx(6.0, abs=1.0))
    with closing(sqlite3.connect(old)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)


def test_import_folder_both_layouts(tmp_path, gallery):
    folders = tmp_path / "folders"
    for speaker, name in enumerate(["Alice", "Bob"]):
        (folders / name).mkdir(parents=True)
        for seed in range(2):
            write_wav(folders / name / f"{seed}.wav", synth_voice(speaker, 5.0, RATE, seed), RATE)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for speaker, name in enumerate(["Carol", "Dan"], start=2):
        write_wav(recordings / f"{name}.wav", synth_voice(speaker, 8.0, RATE), RATE)
    (recordings / "speakers.csv").write_text("name,gender\nCarol,f\nDan,m\n")

    steps = []
    assert [s.clips for s in gallery.import_folder(folders, progress=lambda *a: steps.append(a))] == [2, 2]
    assert steps == [(1, 2), (2, 2)]
    assert [(s.name, s.gender) for s in gallery.import_folder(recordings)] == [("Carol", "f"), ("Dan", "m")]
    assert len(gallery) == 4

    write_wav(recordings / "Eve.wav", synth_voice(5, 1.5, RATE), RATE)
    skipped = []
    gallery.import_folder(recordings, on_error=lambda name, error: skipped.append(name))
    assert skipped == ["Eve"] and "Eve" not in gallery and gallery.speaker("Carol").clips == 1
    with pytest.raises(SpeakerIDError, match="Eve"):
        gallery.import_folder(recordings)


def _enrol_in_another_process(gallery_path: Path, model_dir: Path, speakers: list[int], barrier) -> None:
    from speakerid import load_model

    gallery = Gallery(gallery_path, load_model(model_dir))
    clips = {s: [clip(s, seed=0), clip(s, seed=1)] for s in speakers}
    barrier.wait()  # both processes write at the same time
    for speaker in speakers:
        gallery.enroll(f"speaker {speaker}", clips[speaker])
        gallery.identify(clips[speaker][0])


def test_two_processes_enrol_at_once(tmp_path, untrained_encoder):
    model_dir = untrained_encoder.save(tmp_path / "model")
    path = tmp_path / "shared.sqlite"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_enrol_in_another_process, args=(path, model_dir, part, barrier))
               for part in ([0, 1, 2], [3, 4, 5])]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [worker.exitcode for worker in workers] == [0, 0]
    gallery = Gallery(path, untrained_encoder)
    assert [(s.name, s.clips) for s in gallery.speakers()] == [(f"speaker {i}", 2) for i in range(6)]
    assert len(gallery.identify(clip(0)).matches) == 5
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
