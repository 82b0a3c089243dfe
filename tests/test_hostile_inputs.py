"""Hostile and broken input: every refusal is one SpeakerIDError with a message a person can act on.

Also fuzzed (random bytes into the decoder, random arrays into preparation) and a memory bound on
a 30-minute recording.
"""

from __future__ import annotations

import io
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from synthetic import synth_voice

from speakerid.audio import AudioClip, decode_bytes, from_array, load_audio
from speakerid.config import PreprocessConfig
from speakerid.errors import SpeakerIDError
from speakerid.preprocess import Prepared, prepare

RATE = 16000
FUZZ = settings(max_examples=150, deadline=None, database=None,  # no .hypothesis/ folder in the repo
                suppress_health_check=[HealthCheck.too_slow])


def wav_bytes(signal: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return synth_voice(3, 4.0, RATE)


# --- files that are not what they claim ------------------------------------------------------

def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(SpeakerIDError, match=r"empty.wav: the file is empty \(0 bytes\)"):
        load_audio(path)


def test_wav_cut_inside_its_header(speech):
    with pytest.raises(SpeakerIDError, match="cut.wav: not a readable audio file"):
        decode_bytes(wav_bytes(speech)[:30], "cut.wav")


def test_wav_cut_inside_its_data_gives_what_was_recorded(speech):
    data = wav_bytes(speech)
    clip = decode_bytes(data[:44 + 2 * RATE], "interrupted.wav")  # 44-byte header + 1 s of int16
    assert clip.samples.shape == (RATE, 1)
    np.testing.assert_allclose(clip.samples[:, 0], speech[:RATE], atol=1.0 / 32768 + 1e-7)


def test_wav_header_claiming_more_data_than_there_is(speech):
    data = bytearray(wav_bytes(speech))
    assert data[36:40] == b"data"
    data[4:8] = struct.pack("<I", 0x7FFFFFF0)  # RIFF size
    data[40:44] = struct.pack("<I", 0x7FFFFFF0)  # data chunk size: ~5.6 h of audio that is not there
    clip = decode_bytes(bytes(data), "liar.wav")
    assert clip.samples.shape == (len(speech), 1)


@pytest.mark.parametrize("content", [
    b"This is a plain text file, certainly not audio.\n" * 40,
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
    + bytes(300),
], ids=["text", "png"])
def test_non_audio_renamed_wav(tmp_path, content):
    path = tmp_path / "renamed.wav"
    path.write_bytes(content)
    refusal = r"^renamed.wav: (not a readable audio file|the file has no audio)"
    with pytest.raises(SpeakerIDError, match=refusal):
        load_audio(path)


def test_unknown_extension_is_named_in_the_message():
    with pytest.raises(SpeakerIDError, match=r"\.xyz is not an audio format we know"):
        decode_bytes(b"some bytes that are no audio " * 20, "notes.xyz")


def test_over_the_size_limit_says_both_sizes(tmp_path, speech):
    path = tmp_path / "big.wav"
    path.write_bytes(wav_bytes(speech))  # 128 kB
    with pytest.raises(SpeakerIDError, match=r"big.wav: 128 kB is over the 100 kB limit"):
        load_audio(path, max_bytes=100_000)
    with pytest.raises(SpeakerIDError, match=r"over the 999 bytes limit"):
        decode_bytes(path.read_bytes(), "big.wav", max_bytes=999)


def test_over_the_duration_limit_says_both_durations(speech):
    with pytest.raises(SpeakerIDError, match=r"long.wav: 4 s of audio is over the 3 s limit"):
        decode_bytes(wav_bytes(speech), "long.wav", max_duration_s=3.0)


def test_over_the_duration_limit_in_a_compressed_container():
    from test_audio import av_bytes, tones

    data = av_bytes(tones(3.0, 16000, 1), 16000, "ipod", "aac")
    with pytest.raises(SpeakerIDError, match=r"long.m4a: .* of audio is over the 2 s limit"):
        decode_bytes(data, "long.m4a", max_duration_s=2.0)


# --- samples that are there but nasty -----------------------------------------------------------

def test_nan_and_inf_samples_become_finite(speech):
    signal = speech.copy()
    signal[::97] = np.nan
    signal[1::89] = np.inf
    signal[2::83] = -np.inf
    clip = decode_bytes(wav_bytes(signal, subtype="FLOAT"), "broken.wav")
    assert np.all(np.isfinite(clip.samples))
    assert np.all(clip.samples[::97] == 0.0)
    prepared = prepare(clip, PreprocessConfig())
    assert np.all(np.isfinite(prepared.signal))


@pytest.mark.parametrize("frames", [1, int(0.2 * RATE)])
def test_too_short_clip_is_refused_with_its_length(speech, frames):
    clip = from_array(speech[:frames], RATE, "short.wav")
    with pytest.raises(SpeakerIDError, match=r"short.wav: the clip is only 0.\d\d s long; at least 1.0 s"):
        prepare(clip, PreprocessConfig())


def test_too_short_clip_still_prepares_when_speech_is_not_required():
    prepared = prepare(from_array(np.array([0.3], np.float32), 8000), PreprocessConfig(),
                       require_speech=False)
    assert prepared.sample_rate == 16000 and np.all(np.isfinite(prepared.signal))


@pytest.mark.parametrize("method", ["webrtc", "energy", "pydub"])
def test_pure_silence_has_no_speech(method):
    clip = from_array(np.zeros(3 * RATE, np.float32), RATE, "quiet.wav")
    with pytest.raises(SpeakerIDError, match="quiet.wav: no speech found"):
        prepare(clip, PreprocessConfig(silence_method=method))


@pytest.mark.parametrize("method", ["webrtc", "energy"])
def test_white_noise_has_no_speech(method):
    noise = np.random.default_rng(0).normal(0, 0.2, 3 * RATE).astype(np.float32)
    with pytest.raises(SpeakerIDError, match="no speech found"):
        prepare(from_array(noise, RATE, "hiss.wav"), PreprocessConfig(silence_method=method))


def test_clipped_recording_is_decoded_into_range_and_prepared(speech):
    overdriven = speech * 40.0  # float WAV with samples far beyond full scale
    clip = decode_bytes(wav_bytes(overdriven, subtype="FLOAT"), "loud.wav")
    assert clip.samples.max() == 1.0 and clip.samples.min() == -1.0
    prepared = prepare(clip, PreprocessConfig())
    assert prepared.speech_s > 2.0
    assert np.abs(prepared.signal).max() <= 0.99


@pytest.mark.parametrize("method", ["webrtc", "energy"])
def test_dc_offset_does_not_hide_the_speech(speech, method):
    config = PreprocessConfig(silence_method=method)
    clean = prepare(from_array(speech, RATE), config)
    offset = prepare(from_array(speech * 0.5 + 0.4, RATE), config)
    assert offset.speech_s == pytest.approx(clean.speech_s, abs=0.1)
    assert abs(float(offset.signal.mean())) < 1e-4  # the offset is not counted as loudness
    rms_db = 10 * np.log10(np.mean(offset.signal.astype(np.float64) ** 2))
    assert rms_db == pytest.approx(config.target_dbfs, abs=0.5)


def test_96_khz_8_channel_file(speech):
    upsampled = np.repeat(speech[:, None], 6, axis=0)[:, 0]  # 4 s at 96 kHz (sample-and-hold)
    signal = np.stack([upsampled * (0.2 + 0.1 * c) for c in range(8)], axis=1)
    clip = decode_bytes(wav_bytes(signal, 96000, "PCM_24"), "studio.wav")
    assert (clip.sample_rate, clip.channels) == (96000, 8)
    assert clip.duration_s == pytest.approx(4.0)
    prepared = prepare(clip, PreprocessConfig())
    assert prepared.stage("mono").signal.shape == (len(upsampled),)
    assert prepared.stage("resample").signal.shape == (4 * RATE,)
    assert prepared.speech_s > 2.0


# --- fuzz ----------------------------------------------------------------------------------------

def riff_header(channels: int, rate: int, bits: int, fmt_tag: int, data_size: int) -> bytes:
    block = channels * max(bits // 8, 1)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    return (b"RIFF" + struct.pack("<I", 36 + data_size & 0xFFFFFFFF) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_size & 0xFFFFFFFF))


def assert_clip_or_refusal(data: bytes) -> None:
    try:
        clip = decode_bytes(data, "fuzz.wav", max_bytes=1 << 20, max_duration_s=600.0)
    except SpeakerIDError as exc:
        assert str(exc).startswith("fuzz.wav: ")
        return
    assert isinstance(clip, AudioClip)
    assert clip.samples.ndim == 2 and clip.samples.dtype == np.float32
    assert np.all(np.isfinite(clip.samples))


@FUZZ
@given(st.binary(min_size=0, max_size=4096))
def test_fuzz_random_bytes(data):
    assert_clip_or_refusal(data)


@FUZZ
@given(channels=st.integers(0, 300), rate=st.integers(0, 2 ** 32 - 1),
       bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64, 65535]),
       fmt_tag=st.sampled_from([0, 1, 2, 3, 6, 7, 0x11, 0xFFFE, 0xFFFF]),
       data_size=st.integers(0, 2 ** 32 - 1), body=st.binary(max_size=4096))
def test_fuzz_bytes_behind_a_riff_wave_header(channels, rate, bits, fmt_tag, data_size, body):
    assert_clip_or_refusal(riff_header(channels, rate, bits, fmt_tag, data_size) + body)


@st.composite
def signals(draw) -> tuple[int, np.ndarray]:
    """Any length 0..48000 at a common rate: noise, voice, constants or spikes, with DC, NaN and Inf.

    Built by NumPy from drawn parameters (drawing 48000 floats one by one would take minutes); a
    short element-by-element head still lets hypothesis try arbitrary sample values.
    """
    rate = draw(st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]))
    length = draw(st.integers(0, 48000) | st.integers(rate, 48000))  # hypothesis favours short lengths
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    kind = draw(st.sampled_from(["noise", "voice", "constant", "spikes"]))
    if kind == "noise":
        body = rng.standard_normal(length)
    elif kind == "voice":
        body = synth_voice(int(rng.integers(8)), length / rate + 1, rate)[:length]
    elif kind == "constant":
        body = np.ones(length)
    else:
        body = (rng.uniform(size=length) < 0.001) * rng.uniform(-1, 1, length)
    body = body * draw(st.sampled_from([0.0, 1e-6, 0.01, 1.0, 50.0]))
    body += draw(st.sampled_from([0.0, 0.3, -1.0]))  # DC offset
    for poison in (np.nan, np.inf, -np.inf):
        body[rng.uniform(size=length) < draw(st.sampled_from([0.0, 0.001, 0.5, 1.0]))] = poison
    head = draw(arrays(np.float32, st.integers(0, 32), elements=st.floats(width=32, allow_nan=True)))
    return rate, np.concatenate([head, body.astype(np.float32)])[:48000]


@FUZZ
@given(signals(), st.booleans())
def test_fuzz_arrays_through_preparation(rate_and_signal, require_speech):
    rate, signal = rate_and_signal
    try:
        prepared = prepare(from_array(signal, rate, "fuzz"), PreprocessConfig(), require_speech)
    except SpeakerIDError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert isinstance(prepared, Prepared)
    assert prepared.sample_rate == RATE and (prepared.speech_s >= 1.0 or not require_speech)
    assert np.all(np.isfinite(prepared.signal)) and np.all(np.abs(prepared.signal) <= 1.0)


# --- memory ----------------------------------------------------------------------------------------

def test_a_30_minute_recording_is_prepared_in_bounded_memory(tmp_path):
    """Decoding keeps one float32 copy and every stage keeps its output (the app shows them): about
    three signals in all. Full-length float64 or int16 temporaries would push the peak far above."""
    path = tmp_path / "lecture.wav"
    rng = np.random.default_rng(0)
    chunk = synth_voice(5, 30.0, RATE)
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as f:
        for _ in range(60):
            f.write(chunk + rng.normal(0, 0.002, len(chunk)).astype(np.float32))

    tracemalloc.start()
    try:
        clip = load_audio(path)
        prepared = prepare(clip, PreprocessConfig())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    decoded = clip.samples.nbytes
    assert decoded == 30 * 60 * RATE * 4
    assert prepared.stage("trim").duration_s == pytest.approx(30 * 60)  # identification keeps the ends
    assert prepared.speech_s > 10 * 60
    assert peak < 3.2 * decoded, f"peak {peak / decoded:.2f}x the decoded signal"
