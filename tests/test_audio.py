"""Decoding: every format a user or a browser hands us comes back with the right rate, channels, length.

Each file is written by the test itself (soundfile for what libsndfile writes, PyAV for the
FFmpeg-only containers), so nothing depends on files shipped beside the repository.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from speakerid.audio import AudioClip, decode_bytes, from_array, load_audio
from speakerid.errors import SpeakerIDError

RATES = (8000, 11025, 22050, 44100, 48000, 96000)
AV_LAYOUTS = {1: "mono", 2: "stereo", 8: "7.1"}
AAC_SLACK = 2048 + 64  # AAC decoders return up to two 1024-sample frames of priming and padding
LFE = 3  # in 7.1 the fourth channel is the low-frequency one: AAC low-passes it, so its tone is gone


def tones(seconds: float, rate: int, channels: int) -> np.ndarray:
    """(frames, channels) float32: channel c is a sine at ``tone_hz(c)``, so channel order is checkable."""
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * tone_hz(c) * t) for c in range(channels)], axis=1
                    ).astype(np.float32)


def tone_hz(channel: int) -> float:
    return 250.0 + 150.0 * channel


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1.0 / rate)[np.argmax(spectrum)])


def sf_bytes(signal: np.ndarray, rate: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def av_bytes(signal: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """Encode with PyAV (FFmpeg) into an in-memory container, as a browser or phone would."""
    import av

    layout = AV_LAYOUTS[signal.shape[1]]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        # packed samples: PyAV's planar path mishandles exactly 8 planes
        frame = av.AudioFrame.from_ndarray(signal.reshape(1, -1), format="flt", layout=layout)
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def assert_decoded(clip: AudioClip, rate: int, channels: int, frames: int, slack: int = 0,
                   unchecked_channel: int | None = None) -> None:
    assert clip.sample_rate == rate
    assert clip.channels == channels
    assert clip.samples.dtype == np.float32
    assert frames <= clip.samples.shape[0] <= frames + slack
    assert clip.duration_s == pytest.approx(clip.samples.shape[0] / rate)
    assert np.all(np.isfinite(clip.samples)) and np.abs(clip.samples).max() <= 1.0
    middle = clip.samples[clip.samples.shape[0] // 4: 3 * clip.samples.shape[0] // 4]
    for channel in set(range(channels)) - {unchecked_channel}:
        assert dominant_hz(middle[:, channel], rate) == pytest.approx(tone_hz(channel), abs=15)


# --- libsndfile formats ------------------------------------------------------------------------

@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_wav_16_bit_any_rate_and_channel_count(rate, channels):
    signal = tones(0.5, rate, channels)
    clip = decode_bytes(sf_bytes(signal, rate, "WAV", "PCM_16"), "clip.wav")
    assert_decoded(clip, rate, channels, len(signal))
    np.testing.assert_allclose(clip.samples, signal, atol=1.0 / 32768 + 1e-7)


@pytest.mark.parametrize("subtype, tolerance", [("PCM_24", 1.0 / 2 ** 23 + 1e-7), ("FLOAT", 0.0)])
def test_wav_24_bit_and_float32_keep_their_precision(subtype, tolerance):
    signal = tones(0.5, 44100, 2)
    clip = decode_bytes(sf_bytes(signal, 44100, "WAV", subtype), "clip.wav")
    assert_decoded(clip, 44100, 2, len(signal))
    np.testing.assert_allclose(clip.samples, signal, atol=tolerance)


@pytest.mark.parametrize("rate, channels", [(8000, 1), (22050, 2), (96000, 8)])
def test_flac_is_lossless(rate, channels):
    signal = tones(0.5, rate, channels)
    clip = decode_bytes(sf_bytes(signal, rate, "FLAC", "PCM_16"), "clip.flac")
    assert_decoded(clip, rate, channels, len(signal))
    np.testing.assert_allclose(clip.samples, signal, atol=1.0 / 32768 + 1e-7)


@pytest.mark.parametrize("rate, channels", [(11025, 1), (44100, 2), (48000, 8)])
def test_ogg_vorbis(rate, channels):
    signal = tones(1.0, rate, channels)
    clip = decode_bytes(sf_bytes(signal, rate, "OGG", "VORBIS"), "clip.ogg")
    assert_decoded(clip, rate, channels, len(signal))


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile < 1.1 cannot write MP3")
@pytest.mark.parametrize("rate, channels", [(8000, 1), (22050, 2), (44100, 1), (48000, 2)])
def test_mp3(rate, channels):
    signal = tones(1.0, rate, channels)
    clip = decode_bytes(sf_bytes(signal, rate, "MP3", "MPEG_LAYER_III"), "clip.mp3")
    assert_decoded(clip, rate, channels, len(signal), slack=1152)


# --- FFmpeg-only containers (PyAV) ---------------------------------------------------------------

@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_m4a_aac_any_rate_and_channel_count(rate, channels):
    signal = tones(0.5, rate, channels)
    clip = decode_bytes(av_bytes(signal, rate, "ipod", "aac"), "voice-memo.m4a")
    assert_decoded(clip, rate, channels, len(signal), slack=AAC_SLACK, unchecked_channel=LFE)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2), (48000, 8)])
def test_mp4_audio_track(rate, channels):
    signal = tones(0.5, rate, channels)
    clip = decode_bytes(av_bytes(signal, rate, "mp4", "aac"), "video.mp4")
    assert_decoded(clip, rate, channels, len(signal), slack=AAC_SLACK, unchecked_channel=LFE)


@pytest.mark.parametrize("channels", [1, 2, 8])
def test_webm_opus_browser_recording(channels):
    signal = tones(0.5, 48000, channels)
    clip = decode_bytes(av_bytes(signal, 48000, "webm", "libopus"), "recording.webm")
    assert_decoded(clip, 48000, channels, len(signal), slack=960)


def test_load_audio_reads_from_disk_and_keeps_the_name(tmp_path):
    path = tmp_path / "talk.m4a"
    path.write_bytes(av_bytes(tones(0.5, 22050, 2), 22050, "ipod", "aac"))
    clip = load_audio(path)
    assert clip.name == "talk.m4a"
    assert_decoded(clip, 22050, 2, 11025, slack=AAC_SLACK)


def test_load_audio_refuses_a_missing_file(tmp_path):
    with pytest.raises(SpeakerIDError, match="nope.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_the_content_decides_the_format_not_the_extension():
    signal = tones(0.5, 16000, 1)
    clip = decode_bytes(sf_bytes(signal, 16000, "FLAC", "PCM_16"), "actually-flac.mp3")
    assert_decoded(clip, 16000, 1, len(signal))


# --- NumPy input -----------------------------------------------------------------------------------

def test_from_array_mono_becomes_one_column():
    clip = from_array(np.zeros(800, np.float32), 8000)
    assert clip.samples.shape == (800, 1) and clip.duration_s == pytest.approx(0.1)


def test_from_array_scales_integer_pcm_to_unit_range():
    clip = from_array(np.array([0, 16384, 32767, -32768], np.int16), 16000)
    np.testing.assert_allclose(clip.samples[:, 0], [0.0, 0.5, 1.0, -1.0], atol=1e-4)


def test_from_array_accepts_channels_first():
    signal = tones(0.1, 16000, 2)
    clip = from_array(signal.T, 16000)
    assert clip.channels == 2
    np.testing.assert_array_equal(clip.samples, signal)


def test_from_array_does_not_modify_the_callers_array():
    signal = np.array([np.nan, 2.0, -np.inf, 0.5], np.float32)
    clip = from_array(signal, 16000)
    np.testing.assert_array_equal(clip.samples[:, 0], [0.0, 1.0, 0.0, 0.5])
    assert np.isnan(signal[0]) and signal[1] == 2.0


@pytest.mark.parametrize("rate", [0, 999, 500000, 16000.0, "16000"])
def test_from_array_refuses_a_nonsense_rate(rate):
    with pytest.raises(SpeakerIDError, match="sample rate"):
        from_array(np.zeros(100, np.float32), rate)


@pytest.mark.parametrize("signal", [np.zeros(0, np.float32), np.zeros((2, 3, 4), np.float32)])
def test_from_array_refuses_empty_or_3d_input(signal):
    with pytest.raises(SpeakerIDError, match="non-empty"):
        from_array(signal, 16000)
