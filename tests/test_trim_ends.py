"""Leaving out a long recording's ends only when asked (``trim_ends``), and saying so: the CLI's
``identify --trim-ends``, the report's ``left_out``, the Identify page's option and its timeline.

A model whose pipeline cuts 5 s from each end of clips over 20 s stands in for the shipped one
(1 minute from recordings over 5 minutes), so that the clips stay short."""

from __future__ import annotations

import io
import json

import pytest
import soundfile as sf
from synthetic import synth_voice
from test_analysis import valid_vega_lite
from test_app import app_env, enrol, make_model, open_app, rerun, texts, wav  # noqa: F401 (fixtures)

from speakerid.cli import main
from speakerid.verdict import left_out, left_out_text

RATE = 16000


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """The app's test model (see test_app), its trimming rule scaled down."""
    folder = make_model(tmp_path_factory.mktemp("trimming"), seed=0)
    config = json.loads((folder / "config.json").read_text())
    config["pipeline"]["preprocess"].update(trim_head_s=5.0, trim_tail_s=5.0, trim_min_duration_s=20.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def conversation(tmp_path):
    path = tmp_path / "debate.wav"
    sf.write(path, synth_voice(0, 30.0, RATE, seed=2), RATE)
    return path


def enrolled(weights, voice_file) -> list[str]:
    arguments = ["--weights", str(weights)]
    assert main(["enroll", "--name", "Ann", *arguments, str(voice_file(0, 8.0, "ann.wav"))]) == 0
    return arguments


def test_the_words_for_what_was_left_out():
    assert left_out_text(left_out((60.0, 2473.0), 2533.0)) == (
        "the first and last minute were left out: 0:00-1:00 and 41:13-42:13")
    assert left_out_text([(0.0, 5.0), (25.0, 30.0)]) == (
        "the first and last 5 s were left out: 0:00-0:05 and 0:25-0:30")
    assert left_out_text([(0.0, 60.0)]) == "the first minute was left out: 0:00-1:00"
    assert left_out((0.0, 30.0), 30.0) == [] and left_out_text([]) == ""


@pytest.mark.parametrize("streamed", [False, True])
def test_identify_keeps_every_minute_unless_asked(weights, voice_file, conversation, capsys, monkeypatch,
                                                  streamed):
    if streamed:  # a long recording goes through longform: the same rule and the same words
        monkeypatch.setattr("speakerid.longform.STREAM_MIN_DURATION_S", 20.0)
    arguments = enrolled(weights, voice_file)
    capsys.readouterr()
    assert main(["identify", *arguments, str(conversation), "--json"]) == 0
    [whole] = json.loads(capsys.readouterr().out)
    assert whole["left_out"] is None and whole["segments"][0]["start_s"] < 5.0
    assert main(["identify", *arguments, str(conversation), "--json", "--trim-ends"]) == 0
    [trimmed] = json.loads(capsys.readouterr().out)
    assert trimmed["left_out"] == [{"start_s": 0.0, "end_s": 5.0}, {"start_s": 25.0, "end_s": 30.0}]
    assert trimmed["speech_s"] < whole["speech_s"]
    assert all(5.0 <= s["start_s"] and s["end_s"] <= 25.0 for s in trimmed["segments"])
    assert main(["identify", *arguments, str(conversation), "--trim-ends"]) == 0
    assert "  the first and last 5 s were left out: 0:00-0:05 and 0:25-0:30\n" in capsys.readouterr().out
    assert main(["identify", *arguments, str(conversation)]) == 0
    assert "left out" not in capsys.readouterr().out


def test_the_analysis_and_the_timeline_chart_show_the_parts_left_out(weights):
    from speakerid import load_model
    from speakerid.app import charts, plots
    from speakerid.app.analysis import analyse
    from speakerid.audio import from_array
    from speakerid.results import Segment, Timeline

    clip = from_array(synth_voice(0, 30.0, RATE, seed=2), RATE, "debate.wav")
    encoder = load_model(weights)
    assert analyse(clip, encoder).left_out == []
    assert analyse(clip, encoder, trim_ends=True).left_out == [(0.0, 5.0), (25.0, 30.0)]
    timeline = Timeline([Segment(5.0, 25.0, "Ann", 0.9, 0.99, 6)], [], 0.5, 30.0, 20.0)
    plain, shaded = plots.timeline(timeline), plots.timeline(timeline, left_out=[(0.0, 5.0), (25.0, 30.0)])
    assert len(shaded.axes[0].patches) == len(plain.axes[0].patches) + 2
    assert [t.get_text() for t in shaded.axes[0].get_legend().get_texts()] == ["left out, as asked"]
    assert plain.axes[0].get_legend() is None
    # the Identify page's browser-drawn chart: the same parts as a shaded layer under the bars
    assert "layer" not in charts.timeline(timeline)
    shade, bars = valid_vega_lite(charts.timeline(timeline, left_out=[(0.0, 5.0), (25.0, 30.0)]))["layer"]
    assert [(r["from_s"], r["to_s"], r["label"]) for r in shade["data"]["values"]] == [
        (0.0, 5.0, "left out, as asked"), (25.0, 30.0, "left out, as asked")]
    assert [r["speaker"] for r in bars["data"]["values"]] == ["Ann"]


def test_the_identify_page_leaves_out_the_ends_only_when_asked():
    enrol("Ann", wav(0, 8.0))
    buffer = io.BytesIO()
    sf.write(buffer, synth_voice(0, 30.0, RATE, seed=2), RATE, format="WAV")
    at = open_app()
    assert at.toggle(key="identify_trim_ends").value is False
    at.file_uploader(key="identify_upload").upload("debate.wav", buffer.getvalue(), "audio/wav")
    rerun(at)
    assert "left out" not in texts(at) and "Who speaks when" in texts(at)
    at.toggle(key="identify_trim_ends").set_value(True)
    rerun(at)
    shown = texts(at).replace("\\", "")  # Markdown escapes
    assert "The first and last 5 s were left out: 0:00-0:05 and 0:25-0:30, as asked." in shown

