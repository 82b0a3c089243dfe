"""``python -m speakerid archive ...``: the JSON shapes of issue 17, exit codes, and questions
answered without TensorFlow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conversations import FAST_MODEL, recordings_fixture, write_enrolment  # noqa: F401 (fixtures)

from speakerid import SpeakerIDError
from speakerid.archive import already_indexed
from speakerid.cli import main
from speakerid.numerals import DEVANAGARI_DIGITS

REPO = Path(__file__).resolve().parents[1]
ASK_WITHOUT_TENSORFLOW = """
import json, sys
from speakerid.cli import main
for question in {questions!r}:
    main(question)
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {{'tensorflow', 'keras'}})))
"""


@pytest.fixture(scope="module")
def added(tmp_path_factory, recordings):
    """An archive of the two recordings made with ``archive add``, with one person enrolled."""
    folder = tmp_path_factory.mktemp("cli")
    options = ["--archive", str(folder / "archive"), "--gallery", str(folder / "g.sqlite"),
               "--weights", str(FAST_MODEL)]
    assert main(["enroll", "--name", "Bob", str(write_enrolment(folder / "bob.wav", 1)),
                 *options[2:]]) == 0
    assert main(["archive", "add", str(recordings[0].parent), *options]) == 0
    return options


@pytest.mark.parametrize("action", ["add", "find", "voices", "name", "who"])
def test_every_archive_action_has_help(action, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["archive", action, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m speakerid archive {action}")


def test_find_voices_and_who_print_the_issues_json(added, recordings, capsys):
    capsys.readouterr()
    assert main(["archive", "find", "Bob", "--json", *added]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(set(hit) == {"recording", "title", "start_s", "end_s", "speaker", "probability"}
                        for hit in hits)
    assert {hit["recording"] for hit in hits} == {str(r) for r in recordings}
    assert main(["archive", "voices", "--json", *added]) == 0
    voices = json.loads(capsys.readouterr().out)
    assert voices and all(set(v) == {"voice", "recordings", "seconds", "turns"} for v in voices)
    assert all(set(turn) == {"recording", "start_s", "end_s"} for v in voices for turn in v["turns"])
    assert main(["archive", "who", str(recordings[1]), "--json", *added]) == 0
    timeline = json.loads(capsys.readouterr().out)
    assert any(turn["speaker"] == "Bob" for turn in timeline)
    assert all(set(turn) == {"start_s", "end_s", "speaker", "voice", "probability"} for turn in timeline)
    # a voice nobody enrolled has no probability, not the closest enrolled person's
    unnamed = [turn for turn in timeline if turn["speaker"] is None]
    assert unnamed and all(turn["probability"] is None for turn in unnamed)
    assert all(0 < turn["probability"] <= 1 for turn in timeline if turn["speaker"] is not None)
    assert main(["archive", "find", "Bob", "--csv", "--min-probability", "0.5", *added]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "recording,title,start_s,end_s,speaker,probability" and len(lines) == len(hits) + 1


def test_questions_load_no_tensorflow(added, recordings):
    code = ASK_WITHOUT_TENSORFLOW.format(questions=[
        ["gallery", "alias", "add", "Bob", "Roberto", *added[2:4]],
        ["archive", "find", "roberto", "--json", *added], ["archive", "voices", *added],
        ["archive", "who", str(recordings[0]), *added]])
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert '"speaker": "Bob"' in done.stdout


def test_re_adding_known_recordings_loads_no_tensorflow(added, recordings):
    code = ASK_WITHOUT_TENSORFLOW.format(questions=[
        ["archive", "add", str(recordings[0].parent), "--json", *added]])
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    *report, modules = done.stdout.splitlines()
    assert modules == "[]"
    report = json.loads("\n".join(report))
    assert sorted(report["known"]) == sorted(str(r) for r in recordings)
    assert report["added"] == report["reindexed"] == report["failed"] == []


def test_only_a_whole_set_of_known_inputs_skips_the_model(added, recordings, tmp_path):
    archive, weights = added[1], added[5]
    assert already_indexed([recordings[1]], archive, weights) == [str(recordings[1])]
    new = tmp_path / "new.wav"
    new.write_bytes(recordings[1].read_bytes() + b"\0")  # other content: not in the archive
    assert already_indexed([recordings[1], new], archive, weights) is None
    assert already_indexed([recordings[1], tmp_path / "missing.wav"], archive, weights) is None
    assert already_indexed([recordings[1]], archive, tmp_path) is None  # a model it has not seen


def test_add_reports_each_failure_in_one_line_and_exits_2(added, tmp_path, capsys):
    (tmp_path / "broken.mp3").write_bytes(b"\xff\xfb" + b"\x00" * 200)
    capsys.readouterr()
    assert main(["archive", "add", str(tmp_path / "broken.mp3"), str(tmp_path / "missing.wav"),
                 "--json", *added]) == 2
    output = capsys.readouterr()
    report = json.loads(output.out)
    assert sorted(failure["input"] for failure in report["failed"]) == [str(tmp_path / "broken.mp3"),
                                                                        str(tmp_path / "missing.wav")]
    assert len(output.err.strip().splitlines()) == 2 and output.err.startswith("error: ")


def test_an_unknown_name_and_a_bad_probability_are_refused(added, capsys):
    assert main(["archive", "find", "Nobody", *added]) == 2
    assert "not enrolled; enrol them first" in capsys.readouterr().err
    assert main(["archive", "find", "bobb", *added]) == 2  # mistyped: the name it may mean
    assert capsys.readouterr().err.strip() == "error: 'bobb' is not enrolled; did you mean 'Bob'?"
    assert main(["archive", "find", "Bob", "--min-probability", "2", *added]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_ray_engine_without_ray_says_how_to_install_it(added, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["archive", "add", "--engine", "ray", *added]) == 2
    assert "requirements-cluster.txt" in capsys.readouterr().err


def test_voices_are_shown_in_nepali_and_keep_their_stored_names(added, capsys):
    capsys.readouterr()
    assert main(["archive", "voices", "--json", *added]) == 0
    stored = [voice["voice"] for voice in json.loads(capsys.readouterr().out)]
    assert main(["--lang", "ne", "archive", "voices", "--json", *added]) == 0
    assert [voice["voice"] for voice in json.loads(capsys.readouterr().out)] == stored  # identifiers
    assert main(["--lang", "ne", "archive", "voices", *added]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [v.replace("Voice", "आवाज").translate(DEVANAGARI_DIGITS)
                                                      for v in stored]
    assert all(re.match("आवाज [०-९]+: [०-९]+ रेकर्डिङका [०-९]+ पालोमा [०-९]+ सेकेन्ड: ", line) for line in lines)


def test_an_archive_voice_is_accepted_as_shown_in_either_language():
    from speakerid.archive import parse_voice
    from speakerid.i18n import in_language

    with in_language("ne"):
        typed = ("आवाज 17", "आवाज १७", "Voice 17", "voice 17", "17")
        assert [parse_voice(text) for text in typed] == [17] * 5
        with pytest.raises(SpeakerIDError, match="अभिलेखको आवाज होइन"):
            parse_voice("Bob")
    assert parse_voice(" Voice 17 ") == 17
