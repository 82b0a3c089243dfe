"""Waveform augmentation for politicians' clips: noise, reverberation, telephone band and codec.

Batched TensorFlow ops, applied per example with independent random choices, inside ``tf.data``.
Each transform models a channel the app meets: TV/rally noise and babble, room reverberation,
phone-ins (300-3400 Hz band, 8-bit mu-law as in G.711), web codecs (low-pass) and gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (5.0, 25.0)
    p_babble: float = 0.2
    babble_snr_db: tuple[float, float] = (8.0, 20.0)
    p_reverb: float = 0.3
    rt60_s: tuple[float, float] = (0.2, 0.8)
    p_telephone: float = 0.3
    p_lowpass: float = 0.2
    lowpass_hz: tuple[float, float] = (3500.0, 7000.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)


def augment_batch(waves: tf.Tensor, sample_rate: int, config: AugmentConfig) -> tf.Tensor:
    """(batch, samples) -> same shape, each example transformed independently."""
    waves = _maybe(waves, config.p_reverb, lambda w: _reverberate(w, sample_rate, config.rt60_s))
    waves = _maybe(waves, config.p_babble, lambda w: _add_babble(w, config.babble_snr_db))
    waves = _maybe(waves, config.p_noise, lambda w: _add_coloured_noise(w, config.snr_db))
    waves = _maybe(waves, config.p_telephone, lambda w: _telephone(w, sample_rate))
    waves = _maybe(waves, config.p_lowpass, lambda w: _lowpass(w, sample_rate, config.lowpass_hz))
    gain = tf.random.uniform([tf.shape(waves)[0], 1], *config.gain_db)
    return waves * tf.pow(10.0, gain / 20.0)


def _maybe(waves: tf.Tensor, probability: float, transform) -> tf.Tensor:
    if probability <= 0:
        return waves
    chosen = tf.random.uniform([tf.shape(waves)[0], 1]) < probability
    return tf.where(chosen, transform(waves), waves)


def _rms(waves: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(tf.square(waves), axis=-1, keepdims=True) + 1e-10)


def _mix_at_snr(waves: tf.Tensor, noise: tf.Tensor, snr_db: tuple[float, float]) -> tf.Tensor:
    snr = tf.random.uniform([tf.shape(waves)[0], 1], *snr_db)
    scale = _rms(waves) / (_rms(noise) * tf.pow(10.0, snr / 20.0))
    return waves + noise * scale


def _spectral_filter(waves: tf.Tensor, gains: tf.Tensor) -> tf.Tensor:
    """Multiply the spectrum by ``gains`` (batch, bins) and come back to the time domain."""
    length = tf.shape(waves)[-1]
    spectrum = tf.signal.rfft(waves)
    return tf.signal.irfft(spectrum * tf.cast(gains, tf.complex64), fft_length=[length])


def _bin_frequencies(waves: tf.Tensor, sample_rate: int) -> tf.Tensor:
    bins = tf.shape(waves)[-1] // 2 + 1
    return tf.cast(tf.range(bins), tf.float32) * (sample_rate / tf.cast(tf.shape(waves)[-1], tf.float32))


def _add_coloured_noise(waves: tf.Tensor, snr_db: tuple[float, float]) -> tf.Tensor:
    """White to brown noise: a random spectral slope of -0..-2 (power ~ 1/f^slope)."""
    white = tf.random.normal(tf.shape(waves))
    bins = tf.shape(waves)[-1] // 2 + 1
    f = tf.maximum(tf.cast(tf.range(bins), tf.float32), 1.0)[None, :]
    slope = tf.random.uniform([tf.shape(waves)[0], 1], 0.0, 2.0)
    coloured = _spectral_filter(white, tf.pow(f, -slope / 2.0))
    return _mix_at_snr(waves, coloured, snr_db)


def _add_babble(waves: tf.Tensor, snr_db: tuple[float, float]) -> tf.Tensor:
    """Other speakers of the batch, summed, behind the target voice."""
    babble = tf.roll(waves, 1, axis=0) + tf.roll(waves, 2, axis=0) + tf.roll(waves, 3, axis=0)
    return _mix_at_snr(waves, babble, snr_db)


def _reverberate(waves: tf.Tensor, sample_rate: int, rt60_s: tuple[float, float]) -> tf.Tensor:
    """Convolution with a synthetic room response: exponentially decaying noise."""
    batch, length = tf.shape(waves)[0], tf.shape(waves)[-1]
    taps = int(0.5 * sample_rate)
    t = tf.range(taps, dtype=tf.float32)[None, :] / sample_rate
    rt60 = tf.random.uniform([batch, 1], *rt60_s)
    response = tf.random.normal([batch, taps]) * tf.exp(-6.9 * t / rt60)
    response = tf.concat([tf.ones([batch, 1]), response[:, 1:] * 0.3], axis=1)
    exponent = tf.math.ceil(tf.math.log(tf.cast(length + taps, tf.float32)) / math.log(2.0))
    size = tf.reshape(tf.cast(tf.pow(2.0, exponent), tf.int32), [1])
    wet = tf.signal.irfft(tf.signal.rfft(waves, size) * tf.signal.rfft(response, size), size)
    wet = wet[:, :length]
    return wet * _rms(waves) / _rms(wet)


def _telephone(waves: tf.Tensor, sample_rate: int) -> tf.Tensor:
    """300-3400 Hz band then 8-bit mu-law companding (G.711)."""
    f = _bin_frequencies(waves, sample_rate)
    band = tf.cast((f >= 300.0) & (f <= 3400.0), tf.float32)[None, :]
    narrow = _spectral_filter(waves, band)
    peak = tf.reduce_max(tf.abs(narrow), axis=-1, keepdims=True) + 1e-9
    x = narrow / peak
    mu = 255.0
    companded = tf.sign(x) * tf.math.log1p(mu * tf.abs(x)) / math.log1p(mu)
    quantised = tf.round(companded * 127.0) / 127.0
    expanded = tf.sign(quantised) * (tf.pow(1.0 + mu, tf.abs(quantised)) - 1.0) / mu
    return expanded * peak


def _lowpass(waves: tf.Tensor, sample_rate: int, cutoff_hz: tuple[float, float]) -> tf.Tensor:
    """A web codec's band limit: a smooth low-pass at a random cut-off."""
    f = _bin_frequencies(waves, sample_rate)[None, :]
    cutoff = tf.random.uniform([tf.shape(waves)[0], 1], *cutoff_hz)
    return _spectral_filter(waves, tf.sigmoid((cutoff - f) / 100.0))
