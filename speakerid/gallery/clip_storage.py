"""How a clip is kept: its audio as mono FLAC (at most 48 kHz and 60 s, enough to re-enrol it with
another model) and its embedding as little-endian float32 bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import AudioClip, load_audio
from ..errors import SpeakerIDError
from ..fetch import FetchedAudio
from ..i18n import _
from ..preprocess import resample, to_mono

MAX_STORED_RATE = 48_000
MAX_STORED_S = 60.0
# Mono 16-bit FLAC of MAX_STORED_S at MAX_STORED_RATE is at most the PCM size plus FLAC's framing;
# an imported clip larger than this was not written by speakerid.
MAX_STORED_AUDIO_BYTES = int(MAX_STORED_RATE * MAX_STORED_S * 2 * 1.05) + 2 ** 16
FLAC_HEADER_BYTES = 2 ** 16  # enough for the metadata blocks before the first audio frame
FLAC_MAGIC = b"fLaC"
EMBEDDING_DTYPE = np.dtype("<f4")

ClipInput = str | Path | AudioClip | FetchedAudio


def as_clip(item: ClipInput) -> AudioClip:
    if isinstance(item, FetchedAudio):
        return item.clip
    return item if isinstance(item, AudioClip) else load_audio(item)


def storable_audio(clip: AudioClip) -> tuple[bytes, int]:
    """Mono FLAC at most 48 kHz and 60 s long: the middle of a longer clip, away from intros."""
    signal, rate = to_mono(clip.samples), clip.sample_rate
    if rate > MAX_STORED_RATE:
        signal, rate = resample(signal, rate, MAX_STORED_RATE), MAX_STORED_RATE
    keep = int(MAX_STORED_S * rate)
    if len(signal) > keep:
        start = (len(signal) - keep) // 2
        signal = signal[start:start + keep]
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(signal, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue(), rate


def decode_stored(audio: bytes, sample_rate: int, label: str) -> AudioClip:
    try:
        samples, rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports damage in many ways
        raise SpeakerIDError(_("the stored audio of {label} is damaged: {exc}").format(
            label=label, exc=exc)) from exc
    if rate != sample_rate or len(samples) == 0:
        raise SpeakerIDError(_("the stored audio of {label} is damaged").format(label=label))
    return AudioClip(samples, int(rate), label)


def as_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE)


def as_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=EMBEDDING_DTYPE).tobytes()
