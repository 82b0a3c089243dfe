"""``python -m speakerid``: help, JSON output, exit codes.

Subprocesses (each imports TensorFlow, about 4 s) check what a shell sees; the rest runs
:func:`speakerid.cli.main` in-process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from speakerid.cli import main

REPO = Path(__file__).resolve().parents[1]
SUBCOMMANDS = [["enroll"], ["identify"], ["timeline"], ["verify"], ["gallery"], ["gallery", "list"],
               ["gallery", "rename"], ["gallery", "remove"], ["gallery", "export"],
               ["gallery", "import"], ["gallery", "import-folder"], ["gallery", "reenroll"],
               ["gallery", "history"], ["gallery", "undo"],
               ["gallery", "alias"], ["gallery", "alias", "add"], ["gallery", "alias", "remove"],
               ["gallery", "alias", "list"]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, untrained_encoder) -> Path:
    return untrained_encoder.save(tmp_path_factory.mktemp("model"))


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    """``python -m speakerid ARGS`` as a user runs it (TensorFlow's log level left unset)."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "speakerid", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_refused(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("error: ") and text in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_answers_without_tensorflow():
    result = run_cli("--help")
    assert result.returncode == 0
    assert all(name in result.stdout for name in ("enroll", "identify", "verify", "gallery"))
    probe = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom speakerid.cli import main\ntry:\n    main(['gallery', "
         "'list', '--help'])\nexcept SystemExit:\n    pass\nprint('tensorflow' in sys.modules)"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip().endswith("False")


def test_a_reader_that_stops_reading_is_not_an_error(tmp_path):
    """``python -m speakerid gallery history | head -1``: the pipe closes before the CLI writes;
    it stops as a shell's own commands do (exit 141), with nothing on stderr."""
    env = {**os.environ, "SPEAKERID_HOME": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "speakerid", "gallery", "list"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 141 and stderr == ""


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m speakerid " + " ".join(command))


def test_enroll_identify_list_as_json(model_dir, voice_file, capsys):
    ann, bob = voice_file(0, 8.0, "ann.wav"), voice_file(1, 8.0, "bob.wav")
    enrolled = run_cli("enroll", "--name", "Ann 🎤", "--gender", "f", "--weights", model_dir, ann, "--json")
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout) == {"name": "Ann 🎤", "gender": "f", "party": None, "notes": None,
                                           "clips": 1, "seconds": pytest.approx(8.0, abs=1.0), "aliases": []}
    assert main(["enroll", "--name", "Bob", "--weights", str(model_dir), str(bob)]) == 0
    assert "enrolled Bob: 1 clip(s)" in capsys.readouterr().out

    identified = run_cli("identify", "--weights", model_dir, "--top-k", "1", "--json", ann, bob)
    assert identified.returncode == 0, identified.stderr
    results = json.loads(identified.stdout)
    assert [(r["input"], r["speaker"], len(r["matches"])) for r in results] == [
        (str(ann), "Ann 🎤", 1), (str(bob), "Bob", 1)]
    assert results[0]["matches"][0]["score"] >= results[0]["threshold"]

    listed = run_cli("gallery", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(s["name"], s["clips"]) for s in json.loads(listed.stdout)] == [("Ann 🎤", 1), ("Bob", 1)]


def test_human_output_and_gallery_management(tmp_path, model_dir, voice_file, capsys):
    weights = ["--weights", str(model_dir)]
    ann = str(voice_file(0, 8.0, "ann.wav"))
    assert main(["enroll", "--name", "Ann", "--party", "Greens", *weights, ann]) == 0
    assert main(["identify", *weights, ann]) == 0
    out = capsys.readouterr().out
    assert "ann.wav: Ann (best score" in out and "1. Ann" in out and "probability" in out
    assert main(["verify", "--name", "Ann", *weights, ann]) == 0
    assert "Ann: same speaker" in capsys.readouterr().out

    assert main(["gallery", "export", str(tmp_path / "copy.sqlite")]) == 0
    assert main(["gallery", "rename", "Ann", "Anna"]) == 0
    assert main(["gallery", "list"]) == 0
    assert re.search(r"^Anna\s+1\s+\d+\.\d s\s+Greens$", capsys.readouterr().out, re.MULTILINE)
    assert main(["gallery", "remove", "Anna"]) == 2  # no terminal to confirm on
    assert main(["gallery", "remove", "Anna", "--yes"]) == 0
    assert main(["gallery", "import", *weights, str(tmp_path / "copy.sqlite")]) == 0
    assert main(["gallery", "reenroll", *weights]) == 0
    capsys.readouterr()
    assert main(["gallery", "list", "--json"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["Ann"]


def test_aliases_from_the_shell_and_names_given_by_alias(model_dir, voice_file, capsys):
    weights = ["--weights", str(model_dir)]
    dahal, ann = str(voice_file(0, 8.0, "dahal.wav")), str(voice_file(1, 8.0, "ann.wav"))
    assert main(["enroll", "--name", "पुष्पकमल दाहाल", *weights, dahal]) == 0
    assert main(["enroll", "--name", "Ann", *weights, ann]) == 0
    assert main(["gallery", "alias", "add", "पुष्पकमल  दाहाल", "Prachanda"]) == 0  # spaced otherwise
    assert main(["gallery", "alias", "add", "prachanda", "प्रचण्ड"]) == 0  # named by an alias
    assert "पुष्पकमल दाहाल is also known as: Prachanda, प्रचण्ड" in capsys.readouterr().out
    assert main(["identify", *weights, dahal]) == 0
    assert "dahal.wav: पुष्पकमल दाहाल (best score" in (out := capsys.readouterr().out)
    assert "\n  also known as: Prachanda, प्रचण्ड\n" in out
    assert main(["gallery", "list"]) == 0
    assert re.search(r"^पुष्पकमल दाहाल\s+1\s+.*Prachanda, प्रचण्ड$", capsys.readouterr().out, re.MULTILINE)
    assert main(["gallery", "alias", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "पुष्पकमल दाहाल", "aliases": ["Prachanda", "प्रचण्ड"]}]

    assert main(["gallery", "alias", "add", "Ann", "PRACHANDA"]) == 2
    assert ("'PRACHANDA' cannot be an alias of 'Ann': it already names 'पुष्पकमल दाहाल'"
            in capsys.readouterr().err)
    assert main(["gallery", "rename", "Prachanda", "Pushpa Kamal Dahal"]) == 0
    assert main(["gallery", "alias", "remove", "pushpa kamal dahal", "प्रचण्ड"]) == 0
    assert main(["gallery", "alias", "list", "Prachanda"]) == 0
    assert main(["verify", "--name", "prachanda", *weights, dahal]) == 0
    assert main(["gallery", "remove", "PRACHANDA", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Pushpa Kamal Dahal: Prachanda\n" in out and "removed Pushpa Kamal Dahal" in out
    assert "Pushpa Kamal Dahal: same speaker" in out


def test_strict_threshold_prints_unknown_speaker(tmp_path, untrained_encoder, voice_file, capsys):
    from speakerid.models.base import CALIBRATION_FILE

    strict = untrained_encoder.save(tmp_path / "strict")
    (strict / CALIBRATION_FILE).write_text(json.dumps({"threshold": 1.5}))
    ann = str(voice_file(0, 8.0, "ann.wav"))
    assert main(["enroll", "--name", "Ann", "--weights", str(strict), ann]) == 0
    assert main(["identify", "--weights", str(strict), ann]) == 0
    assert "ann.wav: unknown speaker (best score" in capsys.readouterr().out


def test_missing_file_exits_2_with_one_line(model_dir, tmp_path):
    assert_refused(run_cli("identify", "--weights", model_dir, tmp_path / "missing.wav"),
                   "missing.wav: no such file")


def test_corrupt_file_exits_2_with_one_line(model_dir, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + os.urandom(4000))
    assert_refused(run_cli("enroll", "--name", "X", "--weights", model_dir, corrupt), "corrupt.wav")
    assert_refused(run_cli("gallery", "list", "--gallery", corrupt), "not a speakerid gallery")


def test_another_model_is_refused_once_for_many_files(tmp_path, model_dir, other_encoder, voice_file, capsys):
    other_dir = other_encoder.save(tmp_path / "other")
    ann, bob = str(voice_file(0, 8.0, "ann.wav")), str(voice_file(1, 8.0, "bob.wav"))
    assert main(["enroll", "--name", "Ann", "--weights", str(model_dir), ann]) == 0
    capsys.readouterr()
    assert main(["identify", "--weights", str(other_dir), ann, bob]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gallery reenroll" in err


def test_any_other_failure_is_one_line_too_and_debug_adds_the_traceback(tmp_path, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text("{not json")  # json.loads raises: no SpeakerIDError anywhere on this path
    command = ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--settings", str(settings)]
    assert_refused(run_cli(*command), "unexpected JSONDecodeError: Expecting property name")
    for debug in (["--debug", *command], [*command, "--debug"]):  # before or after the command
        assert main(debug) == 2
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last)") and "json.loads" in err
        assert err.splitlines()[-1].startswith("error: unexpected JSONDecodeError")


def test_a_usage_mistake_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["identify", "--top-k", "0", "clip.wav"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("error: argument --top-k: expected a whole number of at least 1, "
                                       "not '0' (see python -m speakerid identify --help)\n")


def test_reenrol_reports_each_clip_the_model_refuses_and_keeps_it(tmp_path, model_dir, untrained_encoder,
                                                                   voice_file, capsys):
    from test_gallery import with_min_speech

    strict = with_min_speech(untrained_encoder, 8.0).save(tmp_path / "strict")
    short, long = str(voice_file(0, 6.0, "short.wav")), str(voice_file(0, 12.0, "long.wav"))
    assert main(["enroll", "--name", "Ann", "--weights", str(model_dir), short, long]) == 0
    capsys.readouterr()
    assert main(["gallery", "reenroll", "--weights", str(strict)]) == 2
    out, err = capsys.readouterr()
    assert err == ("error: kept, not re-enrolled: Ann/short.wav: the clip is only 6.00 s long; at least "
                   "8.0 s of speech is needed\n")
    assert "re-enrolled 1 clip(s) of 1 speaker(s)" in out and "kept 1 clip(s) the model refused" in out
    assert main(["gallery", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["clips"] == 2
