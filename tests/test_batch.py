"""Batches: ``identify`` over many files, folders and links, one report row per clip, failures
included; links enrolled with their page's title and address."""

from __future__ import annotations

import csv
import json

import pytest
import soundfile as sf
from media_server import serve
from synthetic import synth_voice, write_wav

from speakerid.app.batch import ClipResult, identify_batch, report_bytes
from speakerid.audio import from_array
from speakerid.cli import main
from speakerid.gallery import Gallery, Identification, Match
from speakerid.results import Segment, Timeline

RATE = 16000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, untrained_encoder):
    return untrained_encoder.save(tmp_path_factory.mktemp("model"))


@pytest.fixture
def enrolled(model_dir, voice_file, capsys):
    """Ann and Bob enrolled through the CLI; returns the --weights arguments."""
    weights = ["--weights", str(model_dir)]
    assert main(["enroll", "--name", "Ann", *weights, str(voice_file(0, 8.0, "ann.wav"))]) == 0
    assert main(["enroll", "--name", "Bob", *weights, str(voice_file(1, 8.0, "bob.wav"))]) == 0
    capsys.readouterr()
    return weights


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    sf.write(folder / "interview.ogg", synth_voice(0, 6.0, RATE, seed=7), RATE)
    with serve(folder) as server:
        yield server


def test_a_batch_of_files_folders_and_links_gives_one_row_each(tmp_path, enrolled, site, capsys):
    clips = tmp_path / "clips"
    (clips / "day2").mkdir(parents=True)
    write_wav(clips / "ann_again.wav", synth_voice(0, 5.0, RATE, seed=3), RATE)
    write_wav(clips / "day2" / "debate.wav", synth_voice(1, 24.0, RATE, seed=4), RATE)  # a timeline
    (clips / "notes.txt").write_text("not audio: skipped when the folder is expanded")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    missing = tmp_path / "missing.mp3"
    inputs = [str(clips), str(corrupt), str(missing), site.url("interview.ogg"), site.url("gone.wav")]

    assert main(["identify", *enrolled, *inputs, "--report", str(tmp_path / "out.csv")]) == 2
    out, err = capsys.readouterr()
    assert "interview.ogg (interview): Ann" in out and "wrote 6 row(s)" in out
    assert len(err.strip().splitlines()) == 3 and "Traceback" not in err
    with open(tmp_path / "out.csv", newline="", encoding="utf-8-sig") as f:
        rows = {row["input"]: row for row in csv.DictReader(f)}
    assert list(rows) == [str(clips / "ann_again.wav"), str(clips / "day2" / "debate.wav"),
                          str(corrupt), str(missing), site.url("interview.ogg"), site.url("gone.wav")]
    ok = [rows[str(clips / "ann_again.wav")], rows[site.url("interview.ogg")]]
    assert [(row["verdict"], row["error"]) for row in ok] == [("Ann", ""), ("Ann", "")]
    assert float(ok[0]["probability"]) > 0.5 and float(ok[0]["speech_s"]) > 2
    assert ok[1]["title"] == "interview"
    assert rows[str(corrupt)]["verdict"] == "error" and "corrupt.wav" in rows[str(corrupt)]["error"]
    assert rows[str(missing)]["error"] == "missing.mp3: no such file"
    assert "could not be fetched" in rows[site.url("gone.wav")]["error"]
    segments = json.loads(rows[str(clips / "day2" / "debate.wav")]["segments"])
    assert segments and segments[-1]["end_s"] <= 24.0 + 1e-6
    assert {"start_s", "end_s", "speaker", "voice", "score", "probability"} == set(segments[0])
    assert rows[str(clips / "ann_again.wav")]["segments"] == ""  # short: no timeline

    assert main(["identify", *enrolled, str(clips), "--report", str(tmp_path / "out.json")]) == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert [row["verdict"] for row in report][0] == "Ann" and len(report) == 2
    assert isinstance(report[1]["segments"], list) and report[0]["segments"] is None


def test_one_input_prints_as_before_and_start_end_apply(tmp_path, enrolled, capsys):
    clip = tmp_path / "ann_long.wav"
    write_wav(clip, synth_voice(0, 12.0, RATE, seed=5), RATE)
    assert main(["identify", *enrolled, "--top-k", "1", str(clip)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{clip}: Ann (best score") and out.count("\n") == 2
    assert main(["identify", *enrolled, "--json", "--start", "0:02", "--end", "7.5", str(clip),
                 "--report", str(tmp_path / "r.json")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["input"] == str(clip)
    assert json.loads((tmp_path / "r.json").read_text())[0]["duration_s"] == 5.5


def test_json_prints_the_reports_rows_failures_included(tmp_path, enrolled, capsys):
    """One result shape: --json prints exactly the rows --report writes, a corrupt file's too; the
    text output lists the failure as well (and stderr still has it)."""
    clip, corrupt = tmp_path / "ann.wav", tmp_path / "corrupt.wav"
    write_wav(clip, synth_voice(0, 5.0, RATE, seed=5), RATE)
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    inputs = [*enrolled, "--top-k", "2", str(clip), str(corrupt)]
    assert main(["identify", *inputs, "--json", "--report", str(tmp_path / "r.json")]) == 2
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert rows == json.loads((tmp_path / "r.json").read_text())
    assert [(row["input"], row["verdict"]) for row in rows] == [(str(clip), "Ann"), (str(corrupt), "error")]
    assert [m["name"] for m in rows[0]["matches"]] == ["Ann", "Bob"] and rows[0]["threshold"] is not None
    assert "corrupt.wav" in rows[1]["error"] and err.startswith("error: ") and "corrupt.wav" in err
    assert main(["identify", *inputs]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"{clip}: Ann (best score") and f"{corrupt}: not identified (" in out
    assert rows[1]["error"] in out and err.count("\n") == 1


def test_a_report_name_of_an_unknown_format_is_refused_before_any_work(tmp_path, capsys):
    assert main(["identify", "clip.wav", "--report", str(tmp_path / "out.txt")]) == 2
    assert capsys.readouterr().err == "error: out.txt: the report must end in .csv or .json\n"


def test_enrolling_from_a_link_keeps_the_page_title_and_address(model_dir, site, capsys):
    url = site.url("interview.ogg")
    assert main(["enroll", "--name", "Ann", "--weights", str(model_dir), url, "--end", "5"]) == 0
    assert "enrolled Ann: 1 clip(s)" in capsys.readouterr().out
    with Gallery() as gallery:
        [source] = gallery.clip_sources("Ann")
    assert (source.source, source.url) == ("interview", url) and source.speech_s <= 5.0


def test_a_hundred_tiny_clips_give_a_hundred_rows(tmp_path, untrained_encoder):
    with Gallery(tmp_path / "g.sqlite", untrained_encoder) as gallery:
        gallery.enroll("Ann", [from_array(synth_voice(0, 6.0, RATE), RATE, "ann.wav")])
        clips = [from_array(synth_voice(i % 3, 2.0, RATE, seed=i, pauses=False), RATE, f"clip{i:03}.wav")
                 for i in range(99)]
        clips.append(from_array(synth_voice(0, 1.5, RATE)[:10], RATE, "too_short.wav"))
        steps = []
        results = list(identify_batch(clips, gallery, top_k=1,
                                      progress=lambda done, total: steps.append((done, total))))
    assert len(results) == 100 and steps[-1] == (100, 100)
    rows = json.loads(report_bytes(results, ".json"))
    assert [row["input"] for row in rows] == [clip.name for clip in clips]
    assert sum(row["error"] is None for row in rows) == 99
    assert rows[-1]["verdict"] == "error" and "too_short.wav" in rows[-1]["error"]


def test_a_long_file_in_a_batch_is_streamed_with_its_timeline(tmp_path, enrolled, voice_file, monkeypatch):
    """A long local file goes through longform (bounded memory), not the whole-file decoder, and
    its report row carries the timeline with the found voices as for any other clip."""
    from speakerid import longform

    monkeypatch.setattr(longform, "STREAM_MIN_DURATION_S", 20.0)  # 10 min in use: too slow here
    streamed = []
    summarise = longform.summarise_recording
    monkeypatch.setattr("speakerid.app.batch.summarise_recording",
                        lambda path, *args: streamed.append(path) or summarise(path, *args))
    debate, short = voice_file(0, 24.0, "debate.wav", seed=3), voice_file(1, 6.0, "short.wav", seed=5)
    assert main(["identify", *enrolled, str(debate), str(short), "--report", str(tmp_path / "out.json")]) == 0
    rows = {row["input"]: row for row in json.loads((tmp_path / "out.json").read_text())}
    assert [str(path) for path in streamed] == [str(debate)]
    long_row = rows[str(debate)]
    assert long_row["speaker"] == "Ann" and long_row["duration_s"] == pytest.approx(24.0, abs=0.1)
    segments = long_row["segments"]
    assert segments and {"speaker", "voice"} <= set(segments[0])
    assert rows[str(short)]["segments"] is None


def test_reports_keep_devanagari_names_readable_by_excel():
    """CSV: a UTF-8 byte-order mark (Excel's cue for UTF-8) and segments as JSON with the name's
    own characters; JSON likewise, never ``\\u`` escapes."""
    name = "पुष्पकमल दाहाल"
    found = Identification([Match(name, 4.2, 0.97)], threshold=3.0)
    timeline = Timeline([Segment(0.0, 21.5, name, 4.1, 0.96, 7)], [], 3.0, 21.5, 20.0)
    results = [ClipResult("भाषण.wav", found, speech_s=20.0, duration_s=21.5, timeline=timeline)]

    table = report_bytes(results, ".csv")
    assert table.startswith(b"\xef\xbb\xbf") and b"\\u" not in table
    [row] = csv.DictReader(table.decode("utf-8-sig").splitlines())
    assert (row["input"], row["verdict"]) == ("भाषण.wav", name)
    assert f'"speaker": "{name}"' in row["segments"]
    assert json.loads(row["segments"])[0]["speaker"] == name

    document = report_bytes(results, ".json")
    assert b"\\u" not in document and json.loads(document)[0]["segments"][0]["speaker"] == name


def test_cli_json_output_writes_names_in_their_own_script(model_dir, voice_file, capsys):
    name = "पुष्पकमल दाहाल"
    assert main(["enroll", "--name", name, "--weights", str(model_dir), "--json",
                 str(voice_file(0, 8.0, "dahal.wav"))]) == 0
    assert f'"name": "{name}"' in capsys.readouterr().out
    assert main(["gallery", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert name in out and "\\u" not in out and json.loads(out)[0]["name"] == name
