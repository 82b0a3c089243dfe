"""Decode any audio file or byte string to float32 samples, without a system ffmpeg.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; PyAV, which bundles FFmpeg's
libraries in its wheel, reads everything else browsers and web downloads produce (M4A/AAC,
WebM/Opus, MP4 audio tracks). Every refusal is a :class:`SpeakerIDError` with a readable message.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import SpeakerIDError
from .i18n import _

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_DURATION_S = 4 * 3600.0
MAX_FILE_BYTES = 2 * 1024 ** 3  # a file read block by block: only its duration limits it
BLOCK_FRAMES = 1 << 18  # about 5 s at 48 kHz
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
        raise SpeakerIDError(_("{name}: no such file").format(name=path.name))
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
        raise SpeakerIDError(_("{name}: the file contains no audio samples").format(name=name))
    return AudioClip(_finite(clip.samples), clip.sample_rate, name)


def from_array(signal: np.ndarray, sample_rate: int, name: str = "signal") -> AudioClip:
    """Wrap a NumPy signal, (frames,) or (frames, channels), with the same checks as a file."""
    if not isinstance(sample_rate, (int, np.integer)) or not 1000 <= int(sample_rate) <= 384000:
        raise SpeakerIDError(_("{name}: sample rate {sample_rate!r} is not a rate between 1 and "
                               "384 kHz").format(name=name, sample_rate=sample_rate))
    samples = np.asarray(signal)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.size == 0:
        raise SpeakerIDError(_("{name}: expected a non-empty 1-D or (frames, channels) signal").format(
            name=name))
    if samples.shape[1] > 64 and samples.shape[0] <= 64:
        samples = samples.T  # (channels, frames) given: be forgiving
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    return AudioClip(_finite(samples.astype(np.float32)), int(sample_rate), name)


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size == 0:
        raise SpeakerIDError(_("{name}: the file is empty (0 bytes)").format(name=name))
    if size > max_bytes:
        raise SpeakerIDError(
            _("{name}: {size} is over the {limit} limit; cut the clip or convert it to a compressed "
              "format").format(name=name, size=bytes_text(size), limit=bytes_text(max_bytes)))


def _check_duration(frames: int, rate: int, max_duration_s: float, name: str) -> None:
    if rate <= 0:
        raise SpeakerIDError(_("{name}: the file declares an invalid sample rate ({rate})").format(
            name=name, rate=rate))
    if frames / rate > max_duration_s:
        raise SpeakerIDError(_("{name}: {duration} of audio is over the {limit} limit").format(
            name=name, duration=duration_text(frames / rate), limit=duration_text(max_duration_s)))


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
    blocks = list(_pyav_blocks(data, name, max_duration_s, block_frames=1))
    if not blocks:
        raise SpeakerIDError(_("{name}: the file contains no audio samples").format(name=name))
    return AudioClip(_joined([b.samples for b in blocks]), blocks[-1].sample_rate, name)


def audio_blocks(source: str | Path | bytes, name: str | None = None,
                 max_duration_s: float = MAX_DURATION_S, block_frames: int = BLOCK_FRAMES
                 ) -> Iterator[AudioClip]:
    """The audio of a file (or an in-memory one) as consecutive clips of about ``block_frames``,
    decoded as they are consumed: an hour-long recording never has to fit in memory whole.

    The same decoders and checks as :func:`load_audio`; samples are made finite block by block."""
    name = name or (Path(source).name if not isinstance(source, bytes) else "upload")
    if not isinstance(source, bytes):
        if not Path(source).is_file():
            raise SpeakerIDError(_("{name}: no such file").format(name=name))
        _check_size(Path(source).stat().st_size, MAX_FILE_BYTES, name)
    else:
        _check_size(len(source), MAX_FILE_BYTES, name)
    try:
        sound = sf.SoundFile(_readable(source))
    except Exception:  # libsndfile does not know the format: FFmpeg's turn
        sound = None
    if sound is None:
        blocks = _pyav_blocks(source, name, max_duration_s, block_frames)
    else:
        blocks = _soundfile_blocks(sound, name, max_duration_s, block_frames)
    empty = True
    for block in blocks:
        empty = False
        yield AudioClip(_finite(block.samples), block.sample_rate, name)
    if empty:
        raise SpeakerIDError(_("{name}: the file contains no audio samples").format(name=name))


def probe_duration(source: str | Path | bytes) -> float | None:
    """The duration a file declares in its header, without decoding it; None when it declares none
    (or cannot be read: decoding will say why)."""
    try:
        with sf.SoundFile(_readable(source)) as sound:
            return sound.frames / sound.samplerate if sound.frames > 0 else None
    except Exception:  # not a libsndfile format
        pass
    import av

    try:
        with av.open(_readable(source), mode="r") as container:
            return container.duration / av.time_base if container.duration else None
    except Exception:  # unreadable: the decoder reports it
        return None


def _readable(source: str | Path | bytes) -> str | io.BytesIO:
    return io.BytesIO(source) if isinstance(source, bytes) else str(source)


def _soundfile_blocks(sound: sf.SoundFile, name: str, max_duration_s: float, block_frames: int
                      ) -> Iterator[AudioClip]:
    with sound:
        if sound.frames > 0:
            _check_duration(sound.frames, sound.samplerate, max_duration_s, name)
        try:
            for block in sound.blocks(block_frames, dtype="float32", always_2d=True):
                yield AudioClip(block, int(sound.samplerate), name)
        except Exception as exc:
            raise SpeakerIDError(_("{name}: the file is damaged: {problem}").format(
                name=name, problem=_short(exc))) from None


def _pyav_blocks(source: str | Path | bytes, name: str, max_duration_s: float, block_frames: int
                 ) -> Iterator[AudioClip]:
    """FFmpeg's decoded frames, gathered into blocks of at least ``block_frames``."""
    import av  # imported lazily: only needed for formats libsndfile does not read

    pending: list[np.ndarray] = []
    held = frames = rate = 0
    try:
        with av.open(_readable(source), mode="r") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise SpeakerIDError(_("{name}: the file has no audio track").format(name=name))
            # Packed float, not planar: PyAV reads past the plane table of an 8-channel planar
            # frame (a segfault), while a packed frame always has exactly one plane.
            resampler = av.AudioResampler(format="flt")
            for frame in container.decode(streams[0]):
                for out in resampler.resample(frame):
                    rate = out.sample_rate
                    block = out.to_ndarray().reshape(-1, len(out.layout.channels))
                    pending.append(block)
                    held += len(block)
                    frames += len(block)
                    _check_duration(frames, rate, max_duration_s, name)
                    if held >= block_frames:
                        yield AudioClip(_joined(pending), rate, name)
                        pending, held = [], 0
    except SpeakerIDError:
        raise
    except Exception as exc:
        suffix = Path(name).suffix.lower() or "(no extension)"
        hint = ("" if suffix in SUPPORTED_EXTENSIONS
                else _(" ({suffix} is not an audio format we know)").format(suffix=suffix))
        raise SpeakerIDError(_("{name}: not a readable audio file{hint}: {problem}").format(
            name=name, hint=hint, problem=_short(exc))) from None
    if pending:
        yield AudioClip(_joined(pending), rate, name)


def _joined(blocks: list[np.ndarray]) -> np.ndarray:
    """Blocks end to end, on the channels they all have (a stream may change its layout)."""
    channels = min(b.shape[1] for b in blocks)
    return np.concatenate([b[:, :channels] for b in blocks]).astype(np.float32, copy=False)


def _finite(samples: np.ndarray) -> np.ndarray:
    """Replace NaN/Inf (broken encoders, float WAVs) by silence and clip to [-1, 1]."""
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(samples, -1.0, 1.0, out=samples if samples.flags.writeable else None)


def bytes_text(size: float) -> str:
    """A size in the unit that keeps the number readable (a 1 kB limit must not print as 0 MB)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} bytes"


def duration_text(seconds: float) -> str:
    """A duration in h, min or s, so that small limits do not print as "0.0 h"."""
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _short(exc: BaseException) -> str:
    """The first line of FFmpeg's complaint, without its errno and the file name it appends (the
    sentence starts with the name the user knows; the path read may be a temporary or archive copy)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r": '[^']*'$", "", re.sub(r"^\[Errno -?\d+\] ", "", text))[:160]
