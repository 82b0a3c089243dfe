"""Waveform preparation, stage by stage: what each stage does to the signal, checked on the signal."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest
import soundfile as sf
from synthetic import synth_voice, write_wav

from speakerid.audio import from_array, load_audio
from speakerid.config import PreprocessConfig
from speakerid.errors import SpeakerIDError
from speakerid.preprocess import normalise_loudness, prepare

RATE = 16000
STAGES = ["decode", "mono", "resample", "trim", "silence", "normalise"]


def tone(seconds: float, rate: int, hz: float, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def covered(spans: list[tuple[float, float]], times: np.ndarray) -> np.ndarray:
    """Which of ``times`` (seconds) fall inside one of ``spans``."""
    inside = np.zeros(len(times), bool)
    for start, end in spans:
        inside |= (times >= start) & (times < end)
    return inside


# --- stages ---------------------------------------------------------------------------------------

def test_prepare_runs_every_stage_in_order():
    clip = from_array(synth_voice(1, 3.0, 22050), 22050, "a.wav")
    prepared = prepare(clip, PreprocessConfig())
    assert [stage.name for stage in prepared.stages] == STAGES
    assert prepared.stage("decode").signal is clip.samples
    assert prepared.signal is prepared.stages[-1].signal and prepared.sample_rate == RATE
    assert all(stage.note for stage in prepared.stages)
    with pytest.raises(KeyError):
        prepared.stage("nope")


def test_mono_is_the_channel_mean():
    left, right = tone(2.0, RATE, 300), tone(2.0, RATE, 700, 0.5)
    prepared = prepare(from_array(np.stack([left, right], axis=1), RATE), PreprocessConfig(),
                       require_speech=False)
    np.testing.assert_allclose(prepared.stage("mono").signal, (left + right) / 2, atol=1e-7)
    assert prepared.stage("mono").note == "channel mean"


def test_mono_input_passes_through_unchanged():
    signal = tone(1.5, RATE, 300)
    prepared = prepare(from_array(signal, RATE), PreprocessConfig(), require_speech=False)
    np.testing.assert_array_equal(prepared.stage("mono").signal, signal)
    assert prepared.stage("mono").note == "already mono"


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
def test_resample_gives_the_right_length_and_keeps_the_pitch(rate):
    signal = tone(1.3, rate, 1000.0)
    stage = prepare(from_array(signal, rate), PreprocessConfig(), require_speech=False).stage("resample")
    assert stage.sample_rate == RATE
    assert abs(len(stage.signal) - len(signal) * RATE / rate) <= 1
    spectrum = np.abs(np.fft.rfft(stage.signal))
    assert np.fft.rfftfreq(len(stage.signal), 1 / RATE)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)


def test_trim_cuts_exactly_the_head_and_the_tail_of_a_long_clip():
    config = PreprocessConfig(trim_head_s=0.5, trim_tail_s=0.25, trim_min_duration_s=2.0,
                              silence_method="none")
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE).astype(np.float32)
    prepared = prepare(from_array(signal, RATE), config, trim_ends=True)
    trim = prepared.stage("trim")
    np.testing.assert_array_equal(trim.signal, signal[RATE // 2: 3 * RATE - RATE // 4])
    assert trim.kept == [(0.5, 2.75)]
    assert prepared.speech_s == pytest.approx(2.25)


def test_a_long_clip_keeps_its_ends_unless_asked():
    """The first/last-minute cut is the method's rule for training data; a clip being identified
    keeps every minute (a speaker may be heard only in them) unless its user asks."""
    config = PreprocessConfig(trim_head_s=0.5, trim_tail_s=0.25, trim_min_duration_s=2.0,
                              silence_method="none")
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE).astype(np.float32)
    trim = prepare(from_array(signal, RATE), config).stage("trim")
    np.testing.assert_array_equal(trim.signal, signal)
    assert trim.kept == [(0.0, 3.0)] and "not asked for" in trim.note


def test_training_data_is_cut_by_the_methods_rule(tmp_path):
    from speakerid.training.cache import _cached_prepare

    config = PreprocessConfig(trim_head_s=0.5, trim_tail_s=0.25, trim_min_duration_s=2.0,
                              silence_method="none")
    path = tmp_path / "download.wav"
    write_wav(path, np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE).astype(np.float32), RATE)
    assert len(_cached_prepare((str(path), config))) == int(2.25 * RATE)


def test_trim_leaves_a_clip_shorter_than_the_threshold_alone():
    config = PreprocessConfig(trim_head_s=0.5, trim_tail_s=0.25, trim_min_duration_s=2.0,
                              silence_method="none")
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, int(1.9 * RATE)).astype(np.float32)
    trim = prepare(from_array(signal, RATE), config, trim_ends=True).stage("trim")
    np.testing.assert_array_equal(trim.signal, signal)
    assert trim.kept == [(0.0, 1.9)] and "clip is short: nothing trimmed" in trim.note


def test_default_trim_never_empties_a_normal_clip():
    prepared = prepare(from_array(synth_voice(2, 90.0, RATE), RATE), PreprocessConfig(silence_method="none"),
                       trim_ends=True)
    assert prepared.stage("trim").duration_s == pytest.approx(90.0)


# --- loudness ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("gain", [0.001, 0.05, 1.0])
def test_loudness_reaches_the_target_rms(gain):
    speech = synth_voice(4, 3.0, RATE) * gain
    for target in (-23.0, -30.0):
        out = normalise_loudness(speech, target)
        assert 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2))) == pytest.approx(target, abs=0.05)
        assert out.dtype == np.float32


def test_loudness_never_clips_a_peaky_signal():
    signal = np.full(RATE, 0.001, np.float32) * np.sign(np.sin(np.arange(RATE)))
    signal[100] = 0.9  # one click: reaching -10 dBFS RMS would push it far past full scale
    out = normalise_loudness(signal, -10.0)
    assert np.abs(out).max() == pytest.approx(0.99, abs=1e-6)
    assert 20 * np.log10(np.sqrt(np.mean(out ** 2))) < -10.0


def test_loudness_leaves_silence_silent():
    np.testing.assert_array_equal(normalise_loudness(np.zeros(100, np.float32), -23.0), np.zeros(100))
    assert normalise_loudness(np.zeros(0, np.float32), -23.0).shape == (0,)


def test_prepared_speech_is_at_the_target_level():
    prepared = prepare(from_array(synth_voice(5, 4.0, RATE) * 0.02, RATE), PreprocessConfig())
    rms_db = 20 * np.log10(np.sqrt(np.mean(prepared.signal.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-23.0, abs=0.05)
    assert np.abs(prepared.signal).max() <= 0.99 + 1e-6


# --- silence removal: pydub reference -----------------------------------------------------------------

def pydub_reference(path) -> np.ndarray:
    """The reference system's own call, on the same file: the chunks' 16-bit samples concatenated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment
        from pydub.silence import split_on_silence
    segment = AudioSegment.from_wav(str(path))
    chunks = split_on_silence(segment, min_silence_len=500, silence_thresh=-30, keep_silence=100)
    return np.concatenate([np.frombuffer(chunk.raw_data, "<i2") for chunk in chunks])


@pytest.mark.parametrize("rate", [16000, 22050, 44100])
def test_pydub_method_reproduces_split_on_silence_sample_for_sample(tmp_path, rate):
    rng = np.random.default_rng(rate)
    parts = [synth_voice(6, 1.3, rate, pauses=False), np.zeros(int(0.7 * rate)),
             synth_voice(6, 1.1, rate, seed=1, pauses=False), rng.normal(0, 0.003, int(0.8 * rate)),
             synth_voice(6, 1.0, rate, seed=2, pauses=False)[:rate + 7]]  # ends mid-millisecond, in speech
    path = tmp_path / "reference.wav"
    sf.write(path, np.concatenate(parts).astype(np.float32), rate, subtype="PCM_16")
    config = PreprocessConfig(sample_rate=rate, silence_method="pydub")

    prepared = prepare(load_audio(path), config)
    ours = np.round(prepared.stage("silence").signal * 32768).astype(np.int64)
    reference = pydub_reference(path)
    assert len(prepared.stage("silence").kept) == 3
    assert len(ours) == len(reference)
    np.testing.assert_array_equal(ours, reference)


# --- silence removal: voice activity detection on real synthesised speech ---------------------------------

@pytest.fixture(scope="module")
def espeak_clip(tmp_path_factory):
    """Two espeak-ng voices with 2 s of digital silence and 2 s of low noise between them.

    Returns (signal at 16 kHz, speech regions, gaps), regions and gaps as (start_s, end_s).
    """
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no real speech to detect")
    folder = tmp_path_factory.mktemp("espeak")
    voices = []
    for voice, text in [("en", "The quick brown fox jumps over the lazy dog near the river bank"),
                        ("en+f3", "She sells sea shells by the sea shore every summer morning"),
                        ("en-us+m3", "Speaker recognition works from a few seconds of voice")]:
        path = folder / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, timeout=60)
        voices.append(prepare(load_audio(path), PreprocessConfig(silence_method="none"),
                              require_speech=False).stage("resample").signal)
    noise = np.random.default_rng(0).normal(0, 1e-3, 2 * RATE).astype(np.float32)  # -60 dBFS hiss
    pieces = [voices[0], np.zeros(2 * RATE, np.float32), voices[1], noise, voices[2]]
    starts = np.cumsum([0] + [len(p) for p in pieces]) / RATE
    speech, gaps = [], []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            loud = np.flatnonzero(np.abs(piece) > 0.01)
            speech.append((starts[index] + loud[0] / RATE, starts[index] + loud[-1] / RATE))
    for before, after in zip(speech, speech[1:]):
        gaps.append((before[1], after[0]))
    return np.concatenate(pieces), speech, gaps


@pytest.mark.parametrize("method", ["webrtc", "energy"])
def test_vad_keeps_the_speech_and_drops_the_silence_and_the_noise(espeak_clip, method):
    signal, speech, gaps = espeak_clip
    prepared = prepare(from_array(signal, RATE), PreprocessConfig(silence_method=method))
    kept = prepared.stage("silence").kept
    times = np.arange(len(signal)) / RATE
    loud = np.abs(signal) > 0.05
    assert covered(kept, times[loud]).all(), "loud speech was dropped"
    for start, end in speech:
        inside = (times >= start) & (times <= end) & (np.abs(signal) > 0.01)
        assert covered(kept, times[inside]).mean() > 0.97
    for start, end in gaps:
        assert end - start > 2.0
        assert not covered(kept, np.arange(start + 0.4, end - 0.4, 0.01)).any(), f"kept the gap {start}-{end}"
        kept_in_gap = sum(max(0.0, min(b, end) - max(a, start)) for a, b in kept)
        assert kept_in_gap < 0.5
    speech_total = sum(end - start for start, end in speech)
    assert speech_total - 0.5 < prepared.speech_s < speech_total + 1.5


def test_pydub_method_on_espeak_speech_drops_the_digital_silence(espeak_clip):
    signal, speech, gaps = espeak_clip
    config = PreprocessConfig(silence_method="pydub")
    kept = prepare(from_array(signal, RATE), config).stage("silence").kept
    start, end = gaps[0]  # digital silence (the hiss is above pydub's -30 dBFS gate only on its peaks)
    assert not covered(kept, np.arange(start + 0.2, end - 0.2, 0.01)).any()


def test_silence_method_none_keeps_everything():
    signal = synth_voice(7, 2.0, RATE)
    prepared = prepare(from_array(signal, RATE), PreprocessConfig(silence_method="none"))
    np.testing.assert_array_equal(prepared.stage("silence").signal, signal)
    assert prepared.stage("silence").kept == [(0.0, 2.0)]


@pytest.mark.parametrize("method", ["webrtc", "energy", "pydub"])
def test_speech_below_the_minimum_is_refused_with_the_amount_found(method):
    signal = np.concatenate([np.zeros(2 * RATE), synth_voice(1, 0.6, RATE, pauses=False), np.zeros(2 * RATE)])
    with pytest.raises(SpeakerIDError, match=r"clip.wav: only 0\.\d\d s of speech found; at least 1.0 s"):
        prepare(from_array(signal.astype(np.float32), RATE, "clip.wav"),
                PreprocessConfig(silence_method=method))
