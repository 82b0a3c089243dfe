"""Log-mel features and the windows the encoder sees."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from speakerid.config import FeatureConfig, PipelineConfig, reference_pipeline
from speakerid.features import LOG_FLOOR, frames_per_second, log_mel, log_mel_batch, split_windows

RATE = 16000
CONFIG = FeatureConfig()


def tone(seconds: float, hz: float, rate: int = RATE) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def band_centres(config: FeatureConfig, rate: int) -> np.ndarray:
    """Centre frequency of each mel band (the peak of its triangular filter)."""
    return librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=min(config.fmax, rate / 2))[1:-1]


@pytest.mark.parametrize("samples", [400, 401, 16000, 16000 * 3 + 77])
def test_log_mel_shape_is_frames_by_mels(samples):
    features = log_mel(np.zeros(samples, np.float32), RATE, CONFIG)
    assert features.shape == (1 + (samples - CONFIG.win_length) // CONFIG.hop_length, CONFIG.n_mels)
    assert abs(features.shape[0] - samples / CONFIG.hop_length) <= CONFIG.win_length / CONFIG.hop_length
    assert features.dtype == np.float32


def test_log_mel_of_a_clip_shorter_than_one_frame_is_one_frame():
    assert log_mel(np.ones(100, np.float32) * 0.1, RATE, CONFIG).shape == (1, CONFIG.n_mels)


def test_silence_sits_at_the_log_floor():
    features = log_mel(np.zeros(RATE, np.float32), RATE, CONFIG)
    np.testing.assert_allclose(features, np.log(LOG_FLOOR), rtol=1e-6)


@pytest.mark.parametrize("hz", [150.0, 440.0, 1000.0, 2500.0, 6000.0])
def test_a_tone_lands_in_the_mel_band_of_its_frequency(hz):
    features = log_mel(tone(1.0, hz), RATE, CONFIG)
    loudest = int(np.argmax(features.mean(axis=0)))
    centres = band_centres(CONFIG, RATE)
    assert loudest == int(np.argmin(np.abs(centres - hz)))


def test_tones_move_up_the_bands_with_their_frequency():
    bands = [int(np.argmax(log_mel(tone(0.5, hz), RATE, CONFIG).mean(axis=0))) for hz in (200, 800, 3200)]
    assert bands[0] < bands[1] < bands[2]


def test_reference_features_at_22050_hz():
    config = reference_pipeline().features
    features = log_mel(tone(2.0, 1000.0, 22050), 22050, config)
    assert features.shape == (1 + (44100 - 2048) // 512, 128)
    loudest = int(np.argmax(features.mean(axis=0)))
    assert loudest == int(np.argmin(np.abs(band_centres(config, 22050) - 1000.0)))


def test_batch_and_single_signal_agree():
    signals = np.stack([tone(1.0, 300.0), tone(1.0, 3000.0)])
    batch = log_mel_batch(signals, RATE, CONFIG).numpy()
    for row, signal in zip(batch, signals):
        np.testing.assert_allclose(row, log_mel(signal, RATE, CONFIG), atol=1e-4)


# --- windows ---------------------------------------------------------------------------------------

def features_of(frames: int, n_mels: int = 4) -> np.ndarray:
    """Features whose values say which frame they came from."""
    return np.repeat(np.arange(frames, dtype=np.float32)[:, None], n_mels, axis=1)


def test_frames_per_second_follows_the_hop():
    assert frames_per_second(PipelineConfig()) == 100.0


@pytest.mark.parametrize("frames", [1, 200, 299])
def test_a_clip_shorter_than_a_window_is_returned_whole(frames):
    features = features_of(frames)
    windows = split_windows(features, PipelineConfig())  # 3 s windows = 300 frames
    assert windows.shape == (1, frames, 4)
    np.testing.assert_array_equal(windows[0], features)


def test_a_clip_of_exactly_one_window():
    assert split_windows(features_of(300), PipelineConfig()).shape == (1, 300, 4)


@pytest.mark.parametrize("frames", [301, 599, 600, 601, 750, 1234])
def test_long_clips_are_cut_into_the_fewest_equal_windows_covering_them_once(frames):
    features = features_of(frames)
    three_s = PipelineConfig(features=FeatureConfig(window_s=3.0, window_hop_s=3.0))  # 300 frames
    windows = split_windows(features, three_s)
    count, length = windows.shape[:2]
    assert count == -(-frames // 300) and length <= 300
    assert count * length - frames < count  # overlap: at most a frame per window
    seen = np.unique(windows[:, :, 0])
    np.testing.assert_array_equal(seen, np.arange(frames))  # every frame, the last included
    assert windows[0, 0, 0] == 0 and windows[-1, -1, 0] == frames - 1
    for window in windows:  # each window is a contiguous slice of the clip
        np.testing.assert_array_equal(window[:, 0], np.arange(window[0, 0], window[0, 0] + length))


def test_overlapping_windows_of_the_reference():
    pipeline = reference_pipeline()  # 3 s windows every 1.5 s at 22050 / 512 frames per second
    rate = frames_per_second(pipeline)
    size, hop = round(3.0 * rate), round(1.5 * rate)
    windows = split_windows(features_of(10 * size), pipeline)
    starts = windows[:, 0, 0].astype(int)
    assert list(starts[:-1]) == list(range(0, 10 * size - size + 1, hop))[:len(starts) - 1]
    assert windows[-1, -1, 0] == 10 * size - 1
