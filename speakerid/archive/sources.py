"""What ``archive add`` is given, made a file on disk with a content hash; and the audio of a stretch
of a recording read back from that file (to enrol a voice, to play a turn).

A file is hashed where it lies and read from there later (the archive keeps its path: move it and
the archive can no longer cut its audio, though every search still works). A link's audio and an
upload have no file of their own that lasts, so their audio is kept in the archive's ``media/``
folder (FLAC, named by its hash), written whole before the recording is added.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import AudioClip, audio_blocks
from ..errors import SpeakerIDError
from ..fetch import DEFAULT_LIMITS, DownloadProgress, FetchLimits, fetch_audio, is_link
from ..i18n import _
from ..inputs import EncodedAudio, Input, label

HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Media:
    """One input ready to index: ``source`` as the user gave it, the file its audio is read from."""

    source: str
    title: str
    media: Path
    sha256: str


def resolve(item: Input, media_dir: Path, limits: FetchLimits = DEFAULT_LIMITS,
            progress: DownloadProgress | None = None) -> Media:
    """A path hashed, a link fetched or an upload saved into ``media_dir``; SpeakerIDError (one
    sentence) for a missing file or a failing link."""
    if isinstance(item, EncodedAudio):
        digest = hashlib.sha256(item.data).hexdigest()
        kept = media_dir / f"{digest}{Path(item.name).suffix.lower() or '.bin'}"
        if not kept.is_file():
            _write_whole(kept, lambda tmp: tmp.write_bytes(item.data))
        return Media(item.name, item.name, kept, digest)
    if is_link(item):
        fetched = fetch_audio(str(item), limits=limits, progress=progress)
        return _keep_clip(fetched.clip, str(item).strip(), fetched.title, media_dir)
    path = Path(item)
    if not path.is_file():
        raise SpeakerIDError(_("{source}: no such file").format(source=label(item)))
    return Media(str(item), path.name, path.resolve(), file_hash(path))


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def cut_audio(media: str | Path, start_s: float, end_s: float, name: str | None = None) -> AudioClip:
    """The audio of ``media`` from ``start_s`` to ``end_s``: read by seeking where the format allows
    it, else decoded up to the end of the stretch."""
    name = name or f"{Path(media).name} {start_s:.1f}-{end_s:.1f} s"
    if not Path(media).is_file():
        raise SpeakerIDError(_("{media}: the recording's file is gone (moved or deleted since it was "
                               "added); its audio cannot be read").format(media=media))
    try:
        with sf.SoundFile(str(media)) as sound:
            sound.seek(int(start_s * sound.samplerate))
            samples = sound.read(max(1, int((end_s - start_s) * sound.samplerate)), dtype="float32",
                                 always_2d=True)
            return AudioClip(samples, sound.samplerate, name)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass  # not a format libsndfile seeks in: decode from the start
    parts, position = [], 0.0
    for block in audio_blocks(media, name):
        rate, length = block.sample_rate, len(block.samples) / block.sample_rate
        first, last = int(max(0.0, start_s - position) * rate), int(max(0.0, end_s - position) * rate)
        if last > first:
            parts.append(block.samples[first:last])
        position += length
        if position >= end_s:
            break
    if not parts:
        raise SpeakerIDError(_("{name}: the recording is shorter than {end_s:.1f} s").format(
            name=name, end_s=end_s))
    return AudioClip(np.concatenate(parts), rate, name)


def _keep_clip(clip: AudioClip, source: str, title: str, media_dir: Path) -> Media:
    """A fetched clip written to ``media_dir`` as FLAC and named by the hash of that file."""
    media_dir.mkdir(parents=True, exist_ok=True)
    tmp = media_dir / f".{os.getpid()}-{os.urandom(4).hex()}.flac"
    try:
        sf.write(str(tmp), np.clip(clip.samples, -1.0, 1.0), clip.sample_rate, format="FLAC",
                 subtype="PCM_16")
        digest = file_hash(tmp)
        kept = media_dir / f"{digest}.flac"
        os.replace(tmp, kept)
    finally:
        tmp.unlink(missing_ok=True)
    return Media(source, title, kept, digest)


def _write_whole(path: Path, write) -> None:
    """Written under a temporary name and renamed: a half-written file never has the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
