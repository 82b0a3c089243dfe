"""Decode any audio file or byte string to float32 samples, without a system ffmpeg.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; PyAV, which bundles FFmpeg's
libraries in its wheel, reads everything else browsers and web downloads produce (M4A/AAC,
WebM/Opus, MP4 audio tracks). Every refusal is a :class:`SpeakerIDError` with a readable message.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import SpeakerIDError

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_DURATION_S = 4 * 3600.0
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac",
                        ".mp4", ".webm", ".mkv", ".aiff", ".aif")


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` is float32 of shape (frames, channels) in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    name: str = ""

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / float(self.sample_rate)

    @property
    def channels(self) -> int:
        return self.samples.shape[1]


def load_audio(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES,
               max_duration_s: float = MAX_DURATION_S) -> AudioClip:
    """Decode a file on disk."""
    path = Path(path)
    if not path.is_file():
        raise SpeakerIDError(f"{path.name}: no such file")
    size = path.stat().st_size
    _check_size(size, max_bytes, path.name)
    return decode_bytes(path.read_bytes(), path.name, max_bytes, max_duration_s)


def decode_bytes(data: bytes, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES,
                 max_duration_s: float = MAX_DURATION_S) -> AudioClip:
    """Decode an in-memory file (an upload or a browser recording)."""
    _check_size(len(data), max_bytes, name)
    clip = _decode_with_soundfile(data, name, max_duration_s)
    if clip is None:
        clip = _decode_with_pyav(data, name, max_duration_s)
    if clip.samples.shape[0] == 0:
        raise SpeakerIDError(f"{name}: the file contains no audio samples")
    return AudioClip(_finite(clip.samples), clip.sample_rate, name)


def from_array(signal: np.ndarray, sample_rate: int, name: str = "signal") -> AudioClip:
    """Wrap a NumPy signal, (frames,) or (frames, channels), with the same checks as a file."""
    if not isinstance(sample_rate, (int, np.integer)) or not 1000 <= int(sample_rate) <= 384000:
        raise SpeakerIDError(f"{name}: sample rate {sample_rate!r} is not a rate between 1 and 384 kHz")
    samples = np.asarray(signal)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.size == 0:
        raise SpeakerIDError(f"{name}: expected a non-empty 1-D or (frames, channels) signal")
    if samples.shape[1] > 64 and samples.shape[0] <= 64:
        samples = samples.T  # (channels, frames) given: be forgiving
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    return AudioClip(_finite(samples.astype(np.float32)), int(sample_rate), name)


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size == 0:
        raise SpeakerIDError(f"{name}: the file is empty (0 bytes)")
    if size > max_bytes:
        raise SpeakerIDError(
            f"{name}: {_bytes_text(size)} is over the {_bytes_text(max_bytes)} limit; "
            "cut the clip or convert it to a compressed format")


def _check_duration(frames: int, rate: int, max_duration_s: float, name: str) -> None:
    if rate <= 0:
        raise SpeakerIDError(f"{name}: the file declares an invalid sample rate ({rate})")
    if frames / rate > max_duration_s:
        raise SpeakerIDError(
            f"{name}: {_duration_text(frames / rate)} of audio is over the "
            f"{_duration_text(max_duration_s)} limit")


def _decode_with_soundfile(data: bytes, name: str, max_duration_s: float) -> AudioClip | None:
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.frames > 0:
                _check_duration(f.frames, f.samplerate, max_duration_s, name)
            samples = f.read(dtype="float32", always_2d=True)
            return AudioClip(samples, int(f.samplerate), name)
    except SpeakerIDError:
        raise
    except Exception:  # libsndfile does not know the format or the file is damaged: try FFmpeg
        return None


def _decode_with_pyav(data: bytes, name: str, max_duration_s: float) -> AudioClip:
    import av  # imported lazily: only needed for formats libsndfile does not read

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise SpeakerIDError(f"{name}: the file has no audio track")
            stream = streams[0]
            # Packed float, not planar: PyAV reads past the plane table of an 8-channel planar
            # frame (a segfault), while a packed frame always has exactly one plane.
            resampler = av.AudioResampler(format="flt")
            chunks: list[np.ndarray] = []
            frames = 0
            rate = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    rate = out.sample_rate
                    block = out.to_ndarray().reshape(-1, len(out.layout.channels))
                    chunks.append(block)
                    frames += block.shape[0]
                    _check_duration(frames, rate, max_duration_s, name)
    except SpeakerIDError:
        raise
    except Exception as exc:
        suffix = Path(name).suffix.lower() or "(no extension)"
        hint = "" if suffix in SUPPORTED_EXTENSIONS else f" ({suffix} is not an audio format we know)"
        raise SpeakerIDError(f"{name}: not a readable audio file{hint}: {_short(exc)}") from None
    if not chunks:
        raise SpeakerIDError(f"{name}: the file contains no audio samples")
    channels = min(c.shape[1] for c in chunks)
    samples = np.concatenate([c[:, :channels] for c in chunks]).astype(np.float32)
    return AudioClip(samples, int(rate), name)


def _finite(samples: np.ndarray) -> np.ndarray:
    """Replace NaN/Inf (broken encoders, float WAVs) by silence and clip to [-1, 1]."""
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(samples, -1.0, 1.0, out=samples if samples.flags.writeable else None)


def _bytes_text(size: float) -> str:
    """A size in the unit that keeps the number readable (a 1 kB limit must not print as 0 MB)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} bytes"


def _duration_text(seconds: float) -> str:
    """A duration in h, min or s, so that small limits do not print as "0.0 h"."""
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _short(exc: BaseException) -> str:
    """The first line of FFmpeg's complaint, without its errno and its placeholder file name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\] ", "", text).removesuffix(": '<none>'")[:160]
