"""What a person names as input (a file, a folder of files, a web link, an upload) made audio.

The CLI and the pages accept all of these wherever a clip is asked for; this module is the one
place that tells them apart, expands folders and applies an optional start and end time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .audio import SUPPORTED_EXTENSIONS, AudioClip, decode_bytes, load_audio
from .errors import SpeakerIDError
from .fetch import (
    DEFAULT_LIMITS,
    DownloadProgress,
    FetchedAudio,
    FetchLimits,
    check_span,
    cut,
    fetch_audio,
    is_link,
)
from .i18n import _


@dataclass(frozen=True)
class EncodedAudio:
    """A file's bytes with its name (an upload): decoded where it is used, so that a file that
    cannot be decoded gets its own refusal there, like any other input."""

    name: str
    data: bytes


Input = str | Path | AudioClip | EncodedAudio
"""A path or link as typed, an upload, or audio already decoded."""


@dataclass(frozen=True)
class Span:
    """The part of each input to use: seconds from its start; None means its start or its end."""

    start_s: float | None = None
    end_s: float | None = None

    def __post_init__(self) -> None:
        check_span(self.start_s, self.end_s)


WHOLE = Span()


def label(item: Input) -> str:
    """How an input is named in messages and reports: as the user gave it."""
    return item.name if isinstance(item, AudioClip | EncodedAudio) else str(item)


def expand(items: Sequence[Input]) -> list[Input]:
    """Folders replaced by the audio files under them (sorted); links, files and clips kept as
    given, so that a missing path still gets its own refusal where it is used."""
    expanded: list[Input] = []
    for item in items:
        if isinstance(item, AudioClip | EncodedAudio) or is_link(item) or not Path(item).is_dir():
            expanded.append(item)
            continue
        files = sorted(path for path in Path(item).rglob("*")
                       if path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS)
        expanded.extend(files or [item])  # an empty folder is refused by load_input
    return expanded


def load_input(item: Input, span: Span = WHOLE, limits: FetchLimits = DEFAULT_LIMITS,
               progress: DownloadProgress | None = None) -> AudioClip | FetchedAudio:
    """Decoded audio of one input, cut to ``span``; a link is fetched (``progress`` follows the
    download) and keeps its page's title and address."""
    if isinstance(item, AudioClip):
        return cut(item, span.start_s, span.end_s)
    if isinstance(item, EncodedAudio):
        clip = decode_bytes(item.data, item.name, limits.max_bytes, limits.max_duration_s)
        return cut(clip, span.start_s, span.end_s)
    if is_link(item):
        return fetch_audio(str(item), span.start_s, span.end_s, limits, progress)
    path = Path(item)
    if path.is_dir():
        raise SpeakerIDError(_("{item}: the folder holds no audio files "
                               "({formats}, ...)").format(
                                   item=item, formats=', '.join(SUPPORTED_EXTENSIONS[:6])))
    clip = load_audio(path, limits.max_bytes, limits.max_duration_s)
    return cut(clip, span.start_s, span.end_s)


def audio_of(loaded: AudioClip | FetchedAudio) -> AudioClip:
    return loaded.clip if isinstance(loaded, FetchedAudio) else loaded
