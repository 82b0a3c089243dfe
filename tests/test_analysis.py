"""The Identify page's step-by-step analysis, the enrolment speech check, and every figure."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.app import plots
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
        plots.timeline(Timeline([Segment(0, 4, "A", 0.9, 0.9, 2), Segment(6, 9, None, 0.2, 0.1, 2)],
                                [], 0.5, 9.0, 7.0)),
        plots.timeline(Timeline([], [], 0.5, 9.0, 0.0)),
        plots.training_curves([{"epoch": 1, "loss": 2.0, "same_distance": 0.3, "different_distance": 0.6,
                                "eer": 0.2}, {"epoch": 2, "loss": 1.0, "same_distance": 0.2,
                                              "different_distance": 0.8, "eer": 0.1}]),
        plots.training_curves([{"epoch": 1, "loss": 2.0}]),
        plots.precision_recall([{"threshold": t, "precision": t, "recall": 1 - t}
                                for t in np.linspace(0, 1, 5)], threshold=0.5),
    ]
    for fig in figures:
        assert png(fig).startswith(b"\x89PNG")


def test_removed_spans_and_envelope():
    assert plots.removed_spans([(1.0, 2.0), (3.0, 4.0)], 5.0) == [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    assert plots.removed_spans([(0.0, 5.0)], 5.0) == []
    assert plots.removed_spans(None, 5.0) == []
    times, low, high = plots.envelope(np.sin(np.linspace(0, 100, 1_000_000)), RATE, columns=500)
    assert len(times) <= 500 and np.all(low <= high) and high.max() <= 1.0
    assert plots.envelope(np.zeros(0), RATE)[0].shape == (1,)
    colors = plots.speaker_colors(["b", "A", None, "b"])
    assert colors["A"] != colors["b"] and colors[None] == plots.UNKNOWN
