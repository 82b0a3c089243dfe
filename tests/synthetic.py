"""Synthetic voices for tests: each speaker has its own pitch, formants and rhythm.

A glottal pulse train (with jitter) through a speaker's vocal-tract resonances, cut into
syllables by an amplitude envelope with pauses: enough structure that a speaker encoder must
learn something speaker-like, no recordings needed.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def speaker_traits(index: int) -> dict:
    rng = np.random.default_rng(1000 + index)
    return {
        "f0": float(rng.uniform(85, 260)),
        "formants": sorted(rng.uniform([300, 900, 2000], [900, 2300, 3400])),
        "bandwidths": rng.uniform(60, 160, 3),
        "rate": float(rng.uniform(3.0, 6.0)),
        "breath": float(rng.uniform(0.0, 0.05)),
        "tilt": float(rng.uniform(0.85, 0.98)),
    }


def synth_voice(index: int, seconds: float, sample_rate: int = 16000, seed: int = 0,
                pauses: bool = True) -> np.ndarray:
    """``seconds`` of speech-like audio from synthetic speaker ``index`` (float32 mono)."""
    rng = np.random.default_rng(seed * 7919 + index)
    return render_voice(speaker_traits(index), seconds, sample_rate, rng, pauses)


def tract_voice(index: int, clip: int, seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Clip ``clip`` of a speaker who is only a pitch and a vocal-tract length.

    Everything else (voice quality, rhythm, formant bandwidths, microphone and line) changes from
    clip to clip, so an untrained network mostly hears the clip while a trained one should hear the
    speaker, and a few dozen speakers cover the two traits well enough to generalise to new ones.
    """
    speaker = np.random.default_rng(5000 + index)
    f0, tract = speaker.uniform(85, 260), speaker.uniform(0.8, 1.25)
    rng = np.random.default_rng(index * 100 + clip + 7)
    traits = {
        "f0": float(f0 * rng.uniform(0.97, 1.03)),
        "formants": list(np.array([520.0, 1480.0, 2500.0]) * tract * rng.uniform(0.98, 1.02, 3)),
        "bandwidths": rng.uniform(60, 160, 3),
        "rate": float(rng.uniform(3.0, 6.0)),
        "tilt": float(rng.uniform(0.85, 0.98)),
        "breath": float(rng.uniform(0.0, 0.05)),
    }
    voice = render_voice(traits, seconds, sample_rate, np.random.default_rng(clip * 7919 + index))
    return through_channel(voice, seed=index * 100 + clip, sample_rate=sample_rate)


def render_voice(traits: dict, seconds: float, sample_rate: int, rng: np.random.Generator,
                 pauses: bool = True) -> np.ndarray:
    """A glottal pulse train with intonation through the traits' formants, cut into syllables."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    # intonation: slow pitch movement and jitter around the speaker's f0
    f0 = traits["f0"] * (1 + 0.12 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6)))
    f0 *= 1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
    phase = np.cumsum(f0 / sample_rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    source = lfilter([1.0], [1.0, -traits["tilt"]], pulses) + traits["breath"] * rng.standard_normal(n)
    voice = source
    for freq, bw in zip(traits["formants"], traits["bandwidths"]):
        r = np.exp(-np.pi * bw / sample_rate)
        theta = 2 * np.pi * freq / sample_rate
        voice = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], voice)
    envelope = np.clip(np.sin(2 * np.pi * traits["rate"] / 2 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    if pauses:
        blocks = (rng.uniform(size=int(seconds) + 1) > 0.2).astype(float)
        envelope = envelope * np.repeat(blocks, sample_rate)[:n]
    out = voice * envelope
    out = out / (np.abs(out).max() + 1e-9) * 0.5
    return out.astype(np.float32)


def write_wav(path, signal: np.ndarray, sample_rate: int = 16000) -> None:
    import soundfile as sf

    sf.write(str(path), signal, sample_rate)


def through_channel(signal: np.ndarray, seed: int, sample_rate: int = 16000, snr_db: float = 15.0
                    ) -> np.ndarray:
    """The same voice heard through another microphone/line: random EQ, band limit and noise."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(10_000 + seed)
    low = rng.uniform(80, 400)
    high = rng.uniform(2800, 7000)
    out = sosfilt(butter(2, [low, high], btype="band", fs=sample_rate, output="sos"), signal)
    tilt = rng.uniform(-0.9, 0.9)
    out = lfilter([1.0, tilt], [1.0], out)
    noise = rng.standard_normal(len(out))
    noise *= np.sqrt(np.mean(out ** 2) / np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    out = out + noise
    return (out / (np.abs(out).max() + 1e-9) * 0.5).astype(np.float32)
