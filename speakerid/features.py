"""Log-mel spectrograms and the fixed-length windows the encoder sees.

One TensorFlow implementation serves training (batched, inside ``tf.data``) and inference, so the
features a model is trained on and the features it meets later cannot drift apart. Two front ends
(``FeatureConfig.kind``): our ``log_mel``, and ``fbank``, SpeechBrain's Fbank reproduced to float
precision for the ported ECAPA-TDNN (tests/test_ecapa.py compares it with SpeechBrain's output).
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import tensorflow as tf

from .config import FeatureConfig, PipelineConfig

LOG_FLOOR = 1e-6
FBANK_POWER_FLOOR = 1e-10  # SpeechBrain's amin
FBANK_TOP_DB = 80.0  # SpeechBrain floors each window's decibels this far under its peak


@lru_cache(maxsize=8)
def mel_matrix(sample_rate: int, config: FeatureConfig) -> np.ndarray:
    """Slaney mel filterbank, shape (n_fft // 2 + 1, n_mels)."""
    fmax = min(config.fmax, sample_rate / 2)
    return librosa.filters.mel(sr=sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                               fmin=config.fmin, fmax=fmax).T.astype(np.float32)


@lru_cache(maxsize=8)
def fbank_matrix(sample_rate: int, config: FeatureConfig) -> np.ndarray:
    """SpeechBrain's triangular filters, shape (n_fft // 2 + 1, n_mels).

    Centres equally spaced on the HTK mel scale (2595 log10(1 + f / 700)); each filter's half-width
    is the gap below its centre (SpeechBrain's ``band``), on both sides.
    """
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    mel = np.linspace(to_mel(config.fmin), to_mel(min(config.fmax, sample_rate / 2)), config.n_mels + 2)
    hz = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    band, centre = (hz[1:] - hz[:-1])[:-1], hz[1:-1]
    freqs = np.linspace(0, sample_rate // 2, config.n_fft // 2 + 1)
    slope = (freqs[None, :] - centre[:, None]) / band[:, None]
    return np.maximum(0.0, np.minimum(slope + 1.0, 1.0 - slope)).T.astype(np.float32)


def log_mel_batch(waveforms: tf.Tensor, sample_rate: int, config: FeatureConfig) -> tf.Tensor:
    """(batch, samples) float32 -> (batch, frames, n_mels) log mel power, by ``config.kind``."""
    if config.kind == "fbank":
        return fbank_batch(waveforms, sample_rate, config)
    short = config.win_length - tf.shape(waveforms)[-1]
    waveforms = tf.pad(waveforms, [[0, 0], [0, tf.maximum(short, 0)]])
    return spectral_frames(waveforms, sample_rate, config)


def fbank_batch(waveforms: tf.Tensor, sample_rate: int, config: FeatureConfig) -> tf.Tensor:
    """SpeechBrain's Fbank: centred Hamming-window frames (``torch.stft(center=True)``, zero padding),
    power spectrum, triangular mel filters, 10 log10 floored at 1e-10 and at 80 dB under the peak."""
    half = config.n_fft // 2
    decibels = spectral_frames(tf.pad(waveforms, [[0, 0], [half, half]]), sample_rate, config)
    peak = tf.reduce_max(decibels, axis=[-2, -1], keepdims=True)
    return floor_features(decibels, peak, config)


def spectral_frames(padded: tf.Tensor, sample_rate: int, config: FeatureConfig) -> tf.Tensor:
    """Every whole frame of waveforms already padded at their edges (:func:`edge_padding`): log mel
    power, or for ``fbank`` decibels not yet floored under the peak (the peak is the whole clip's,
    so a clip computed piece by piece is floored once all of it is known)."""
    window = tf.signal.hamming_window if config.kind == "fbank" else tf.signal.hann_window
    stft = tf.signal.stft(padded, frame_length=config.win_length, frame_step=config.hop_length,
                          fft_length=config.n_fft, window_fn=window)
    if config.kind == "fbank":
        power = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
        mel = tf.tensordot(power, tf.constant(fbank_matrix(sample_rate, config)), axes=1)
        return 10.0 * tf.math.log(tf.maximum(mel, FBANK_POWER_FLOOR)) / tf.math.log(10.0)
    power = tf.math.square(tf.abs(stft))
    mel = tf.tensordot(power, tf.constant(mel_matrix(sample_rate, config)), axes=1)
    return tf.math.log(mel + LOG_FLOOR)


def floor_features(features, peak, config: FeatureConfig):
    """``fbank``: decibels floored :data:`FBANK_TOP_DB` under ``peak``; other kinds unchanged."""
    if config.kind != "fbank":
        return features
    return tf.maximum(features, peak - FBANK_TOP_DB) if tf.is_tensor(features) \
        else np.maximum(features, peak - FBANK_TOP_DB)


def edge_padding(samples: int, config: FeatureConfig) -> tuple[int, int]:
    """Zeros :func:`log_mel_batch` adds before and after a signal of ``samples`` before framing."""
    if config.kind == "fbank":
        return config.n_fft // 2, config.n_fft // 2
    return 0, max(config.win_length - samples, 0)


def log_mel(signal: np.ndarray, sample_rate: int, config: FeatureConfig) -> np.ndarray:
    """Log-mel of one signal as NumPy, shape (frames, n_mels)."""
    batch = tf.convert_to_tensor(signal[None, :].astype(np.float32))
    return log_mel_batch(batch, sample_rate, config)[0].numpy()


def frames_per_second(pipeline: PipelineConfig) -> float:
    return pipeline.preprocess.sample_rate / pipeline.features.hop_length


def window_layout(frame_count: int, pipeline: PipelineConfig) -> tuple[list[int], int]:
    """Start frames and length of the windows a clip of ``frame_count`` frames is cut into.

    A clip up to one window long is one window, whole (the encoders pool over time, so a 2 s
    clip is embedded from its 2 s rather than padded). Overlapping windows (hop shorter than the
    window, as the reference recipe has) step by the hop, the last one aligned to the clip's end so
    that the tail is never dropped. Otherwise the clip is cut into the fewest equal windows of at
    most ``window_s`` that cover it once: 27 s become two of 13.5 s, not two of 20 s that overlap
    by 13 s and cost half as much again.
    """
    rate = frames_per_second(pipeline)
    size = max(1, int(round(pipeline.features.window_s * rate)))
    hop = max(1, int(round(pipeline.features.window_hop_s * rate)))
    if frame_count <= size:
        return [0], frame_count
    if hop < size:
        return window_starts(frame_count, size, hop), size
    count = -(-frame_count // size)
    length = -(-frame_count // count)
    return [round(i * (frame_count - length) / (count - 1)) for i in range(count)], length


def window_starts(total: int, size: int, hop: int) -> list[int]:
    """Start frames of windows of ``size`` every ``hop``; the last one ends at ``total``."""
    if total <= size:
        return [0]
    starts = list(range(0, total - size + 1, hop))
    if starts[-1] + size < total:
        starts.append(total - size)
    return starts


def split_windows(features: np.ndarray, pipeline: PipelineConfig) -> np.ndarray:
    """(frames, n_mels) cut as :func:`window_layout` says, shape (count, window, n_mels)."""
    starts, length = window_layout(features.shape[0], pipeline)
    return np.stack([features[s:s + length] for s in starts])
