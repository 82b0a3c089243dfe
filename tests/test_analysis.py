"""The Identify page's step-by-step analysis, the enrolment speech check, and every figure."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.app import charts, plots
from speakerid.app.analysis import (
    ENROL_MIN_SPEECH_S,
    analyse,
    analyse_steps,
    short_of,
    speech_check,
    window_spans,
)
from speakerid.audio import from_array
from speakerid.config import FeatureConfig, PipelineConfig, reference_pipeline
from speakerid.features import split_windows
from speakerid.gallery import Gallery
from speakerid.timeline import Segment, Timeline

RATE = 16000


@pytest.mark.parametrize("pipeline", [PipelineConfig(), reference_pipeline(),
                                      PipelineConfig(features=FeatureConfig(window_s=3.0, window_hop_s=1.0))])
@pytest.mark.parametrize("frames", [1, 150, 299, 300, 301, 2000, 2001, 5123])
def test_window_spans_match_the_windows_the_encoder_sees(pipeline, frames):
    windows = split_windows(np.zeros((frames, 4), np.float32), pipeline)
    spans = window_spans(frames, pipeline)
    rate = pipeline.preprocess.sample_rate / pipeline.features.hop_length
    assert len(spans) == len(windows)
    assert all(math.isclose((b - a) * rate, windows.shape[1], abs_tol=1e-6) for a, b in spans)
    assert spans[0][0] == 0 and math.isclose(spans[-1][1] * rate, frames, abs_tol=1e-6)


def test_analysis_runs_step_by_step(tmp_path, untrained_encoder):
    voice = synth_voice(4, 6.0, RATE, pauses=False)
    clip = from_array(voice, RATE, "clip.wav")
    with Gallery(tmp_path / "g.sqlite", untrained_encoder) as gallery:
        gallery.enroll("Gita", clip)
        seen = []
        for step, partial in analyse_steps(clip, untrained_encoder, gallery, top_k=3):
            seen.append(step)
            if step == "prepare":
                assert partial.prepared is not None and partial.features is None
        assert seen == ["prepare", "features", "embed", "identify"]
        assert partial.complete and partial.identification.speaker == "Gita"
        assert set(partial.timings) == set(seen)
        assert partial.features.shape[1] == untrained_encoder.pipeline.features.n_mels
        assert partial.speech_s == pytest.approx(6.0, abs=0.3)
    without_gallery = analyse(clip, untrained_encoder)
    assert without_gallery.identification is None and without_gallery.embedding is not None
    with pytest.raises(SpeakerIDError, match="no speech"):
        analyse(from_array(np.zeros(3 * RATE, np.float32), RATE, "silence.wav"), untrained_encoder)


def test_speech_check_says_whether_a_recording_is_enough(untrained_encoder):
    good = speech_check(from_array(synth_voice(1, 8.0, RATE, pauses=False), RATE), untrained_encoder,
                        recording=True)
    assert good.ok and good.speech_s == pytest.approx(8.0, abs=0.3) and "good" in good.message
    short = speech_check(from_array(synth_voice(1, 3.0, RATE, pauses=False), RATE), untrained_encoder,
                         recording=True)
    assert not short.ok and "keep talking" in short.message and f"{ENROL_MIN_SPEECH_S:.0f} s" in short.message
    silent = speech_check(from_array(np.zeros(6 * RATE, np.float32), RATE), untrained_encoder)
    assert not silent.ok and silent.speech_s == 0 and "no speech" in silent.message
    tiny = speech_check(from_array(np.zeros(RATE // 4, np.float32), RATE), untrained_encoder)
    assert not tiny.ok and "long" in tiny.message
    long = speech_check(from_array(synth_voice(2, 40.0, RATE, pauses=False), RATE), untrained_encoder,
                        recording=True)
    assert long.ok and "longer than needed" in long.message


def test_a_clip_just_short_of_the_minimum_never_reads_as_enough(untrained_encoder):
    check = speech_check(from_array(synth_voice(1, 1.0, RATE, pauses=False), RATE), untrained_encoder, 1.0)
    said = float(re.match(r"only ([0-9.]+) s of speech", check.message).group(1))
    assert not check.ok and said < 1.0 and said == pytest.approx(check.speech_s, abs=0.01)
    assert "at least 1 s" in check.message
    assert (short_of(3.17, 5.0), short_of(0.96, 1.0), short_of(0.999, 1.0), short_of(2.46, 2.5)) == (
        "3.2", "0.96", "0.99", "2.46")


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_every_figure_renders(untrained_encoder):
    signal = np.concatenate([synth_voice(0, 4.0, RATE, pauses=False), np.zeros(2 * RATE, np.float32),
                             synth_voice(0, 3.0, RATE, pauses=False)])
    result = analyse(from_array(signal, RATE, "x.wav"), untrained_encoder)
    figures = [
        plots.pipeline_waveforms(result.prepared),
        plots.waveform(signal, RATE, kept=[(0.0, 4.0), (6.0, 9.0)], title="speech"),
        plots.spectrogram(result.features, result.frames_per_second, result.windows, title="mel"),
    ]
    for fig in figures:
        assert png(fig).startswith(b"\x89PNG")


def test_devanagari_draws_without_missing_glyphs(recwarn):
    """The bundled Noto Sans Devanagari covers names that matplotlib's DejaVu Sans draws as boxes."""
    name = "पुष्पकमल दाहाल"
    png(plots.waveform(synth_voice(0, 2.0, RATE), RATE, title=f"{name} · 2.0 s"))
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def valid_vega_lite(spec: dict) -> dict:
    """``spec`` checked against the Vega-Lite schema that ships with Altair (as Streamlit's)."""
    import jsonschema
    from altair.vegalite.v6.schema import load_schema

    jsonschema.validate(spec, load_schema())
    json.dumps(spec)  # what st.vega_lite_chart sends to the browser
    return spec


def test_charts_are_vega_lite_with_names_as_data():
    name = "पुष्पकमल दाहाल"
    result = Timeline([Segment(0, 4, name, 4.1, 0.93, 2), Segment(6, 9, None, 0.2, 0.1, 2, voice="Voice A"),
                       Segment(9, 11, None, 0.2, 0.1, 1)], [], 0.5, 11.0, 9.0)
    spec = valid_vega_lite(charts.timeline(result, title=f"3 segments · {name}"))
    rows = spec["data"]["values"]
    assert [(r["speaker"], r["start_s"], r["end_s"]) for r in rows] == [
        (name, 0, 4), ("Voice A", 6, 9), ("unknown", 9, 11)]
    assert spec["encoding"]["y"]["sort"] == [name, "Voice A", "unknown"]
    assert {t["field"] for t in spec["encoding"]["tooltip"]} >= {"speaker", "start_s", "end_s"}
    assert spec["params"][0]["bind"] == "scales"  # zoom and pan on the time axis
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 11.0]
    assert valid_vega_lite(charts.timeline(Timeline([], [], 0.5, 9.0, 0.0)))["mark"]["type"] == "text"

    history = [{"epoch": 1, "loss": 2.0, "same_distance": 0.3, "different_distance": 0.6, "eer": 0.2},
               {"epoch": 2, "loss": 1.0, "same_distance": 0.2, "different_distance": 0.8, "eer": 0.1}]
    loss, distance, eer = (valid_vega_lite(c) for c in charts.training_curves(history))
    assert [r["value"] for r in loss["data"]["values"]] == [2.0, 1.0]
    assert {r["series"] for r in distance["data"]["values"]} == {"same speaker", "different speakers"}
    assert [r["value"] for r in eer["data"]["values"]] == pytest.approx([20.0, 10.0])
    assert len(charts.training_curves([{"epoch": 1, "loss": 2.0}])) == 2
    curve = valid_vega_lite(charts.precision_recall(
        [{"threshold": t, "precision": t, "recall": 1 - t} for t in np.linspace(0, 1, 5)], threshold=0.5))
    assert curve["layer"][1]["data"]["values"][0]["threshold"] == 0.5
    colors = charts.speaker_colors(["b", "A", None, "b"])
    assert colors["A"] != colors["b"] and colors[None] == charts.UNKNOWN


def test_removed_spans_and_envelope():
    assert plots.removed_spans([(1.0, 2.0), (3.0, 4.0)], 5.0) == [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    assert plots.removed_spans([(0.0, 5.0)], 5.0) == []
    assert plots.removed_spans(None, 5.0) == []
    times, low, high = plots.envelope(np.sin(np.linspace(0, 100, 1_000_000)), RATE, columns=500)
    assert len(times) <= 500 and np.all(low <= high) and high.max() <= 1.0
    assert plots.envelope(np.zeros(0), RATE)[0].shape == (1,)
