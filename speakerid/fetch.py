"""Audio from a web link (a video page, a podcast, a direct media file), fetched with yt-dlp.

Journalists collect voices from YouTube and TV sites, so wherever a file is accepted a link is too.
yt-dlp's Python API resolves the link to its best audio-only format and downloads it to a temporary
folder; the project's own decoder (:mod:`speakerid.audio`, PyAV inside) reads the result, so no
ffmpeg binary is needed. Limits are enforced as early as the link allows: a duration or size that
the page's metadata declares is refused before anything is downloaded, and a download that grows
past the size cap is stopped. Every refusal is a :class:`LinkError`, one sentence a person can act on.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import deno

from .audio import MAX_DURATION_S, MAX_UPLOAD_BYTES, AudioClip, bytes_text, decode_bytes, duration_text
from .errors import SpeakerIDError
from .i18n import _

DownloadProgress = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total)``; the total is None when the site does not say."""

MAX_TITLE_CHARS = 200
SOCKET_TIMEOUT_S = 30.0


class LinkError(SpeakerIDError):
    """A link that cannot be fetched, holds no media, or is over the limits."""


@dataclass(frozen=True)
class FetchLimits:
    """What a link may bring: the media's whole duration and the downloaded file's size."""

    max_duration_s: float = MAX_DURATION_S
    max_bytes: int = MAX_UPLOAD_BYTES


DEFAULT_LIMITS = FetchLimits()


@dataclass(frozen=True)
class FetchedAudio:
    """Decoded audio of a link, with the page's title and address to keep as its source."""

    clip: AudioClip
    title: str
    url: str


def is_link(text: str | Path) -> bool:
    """Whether a command-line argument or a text field is a web link rather than a path."""
    return isinstance(text, str) and urlparse(text.strip()).scheme in {"http", "https"} \
        and bool(urlparse(text.strip()).netloc)


def parse_time(text: str | None) -> float | None:
    """Seconds from ``90``, ``1:30``, ``1:02:03`` or ``90.5`` (None or blank: not given)."""
    if text is None or not str(text).strip():
        return None
    parts = str(text).strip().split(":")
    if len(parts) > 3 or not all(re.fullmatch(r"\d+(\.\d+)?", part) for part in parts):
        raise SpeakerIDError(_("{text!r} is not a time; write seconds (90) or minutes:seconds (1:30)").format(
            text=text))
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def fetch_audio(url: str, start_s: float | None = None, end_s: float | None = None,
                limits: FetchLimits = DEFAULT_LIMITS, progress: DownloadProgress | None = None
                ) -> FetchedAudio:
    """Download the audio of a web page (anything yt-dlp reads) and decode it.

    Args:
        url: an http(s) address.
        start_s, end_s: keep only this part, in seconds from the start (None: from the start / to
            the end).
        limits: the largest download and the longest audio accepted, checked before and while
            downloading.
        progress: called as ``progress(bytes done, bytes in all or None)`` during the download.

    Returns:
        The decoded clip with the page's title and address.

    Raises:
        LinkError: not a link, the site refuses or fails, or the audio exceeds ``limits``.
        SpeakerIDError: the span is invalid, or the download cannot be decoded.
    """
    url = url.strip()
    if not is_link(url):
        raise LinkError(f"{url!r} is not a web link (it must start with http:// or https://)")
    check_span(start_s, end_s)
    from yt_dlp import YoutubeDL  # imported here: only links need it

    with tempfile.TemporaryDirectory(prefix="speakerid-link-") as folder:
        with YoutubeDL(_options(Path(folder), limits, progress)) as downloader:
            info = _resolve(downloader, url)
            _check_declared(info, url, limits)
            title = _title(info, url)
            try:
                downloader.process_ie_result(info, download=True)
            except SpeakerIDError:
                raise
            except Exception as exc:
                raise LinkError(f"{url}: the download failed ({_reason(exc)})") from exc
        files = [path for path in Path(folder).iterdir() if path.is_file()
                 and not path.name.endswith((".part", ".ytdl"))]
        if not files:
            raise LinkError(f"{url}: the site gave no file to download")
        data = files[0].read_bytes()
    clip = decode_bytes(data, title, limits.max_bytes, limits.max_duration_s)
    return FetchedAudio(cut(clip, start_s, end_s), title, info.get("webpage_url") or url)


def _options(folder: Path, limits: FetchLimits, progress: DownloadProgress | None) -> dict[str, Any]:
    """Audio only, one item, no post-processing (that would need ffmpeg), nothing printed."""
    def hook(status: dict[str, Any]) -> None:
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        done = int(status.get("downloaded_bytes") or 0)
        largest = max(done, int(total or 0))
        if largest > limits.max_bytes:
            raise LinkError(f"{status.get('info_dict', {}).get('webpage_url', 'the link')}: the media "
                            f"is over the {bytes_text(limits.max_bytes)} download limit")
        if progress is not None:
            progress(done, int(total) if total else None)

    # YouTube's pages hold their media addresses behind JavaScript challenges: yt-dlp solves them
    # with its EJS scripts (the yt-dlp-ejs package) run by Deno, installed from PyPI with the app,
    # so given by its path (a venv's bin/ is not on the PATH of every way the app is started).
    return {"format": "bestaudio/best", "outtmpl": str(folder / "media.%(ext)s"),
            "noplaylist": True, "playlist_items": "1", "quiet": True, "no_warnings": True,
            "noprogress": True, "logger": _Silent(), "progress_hooks": [hook],
            "socket_timeout": SOCKET_TIMEOUT_S, "retries": 1, "fragment_retries": 1,
            "postprocessors": [], "cachedir": False, "overwrites": True,
            "js_runtimes": {"deno": {"path": deno.find_deno_bin()}}}


def _resolve(downloader: Any, url: str) -> dict[str, Any]:
    """The metadata of the link's one item (the first entry of a playlist), read from the page
    alone: ``process=False`` leaves the media itself, and any page it points to, unrequested."""
    try:
        info = downloader.extract_info(url, download=False, process=False)
    except Exception as exc:
        reason = _reason(exc)
        if "Unsupported URL" in reason:
            raise LinkError(f"{url}: no audio or video was found at this link") from None
        raise LinkError(f"{url}: could not be fetched ({reason})") from None
    entries = list(itertools.islice(info.get("entries") or [], 1)) \
        if info.get("_type") == "playlist" else [info]
    if not entries or entries[0] is None:
        raise LinkError(f"{url}: no audio or video was found at this link")
    return entries[0]


def _check_declared(info: dict[str, Any], url: str, limits: FetchLimits) -> None:
    """Refuse before downloading what the metadata already says is too long or too large."""
    duration = info.get("duration")
    if duration and float(duration) > limits.max_duration_s:
        raise LinkError(f"{url}: {duration_text(float(duration))} of media is over the "
                        f"{duration_text(limits.max_duration_s)} limit; give a shorter link")
    size = info.get("filesize") or info.get("filesize_approx")
    if size and int(size) > limits.max_bytes:
        raise LinkError(f"{url}: {bytes_text(int(size))} is over the {bytes_text(limits.max_bytes)} "
                        "download limit")


def check_span(start_s: float | None, end_s: float | None) -> None:
    """Refuse a negative start or an end before the start, before anything is downloaded."""
    if start_s is not None and start_s < 0:
        raise SpeakerIDError(_("the start time cannot be negative"))
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise SpeakerIDError(_("the end time ({end}) must come after the start "
                               "time ({start})").format(
                                   end=duration_text(end_s), start=duration_text(start_s)))


def cut(clip: AudioClip, start_s: float | None, end_s: float | None) -> AudioClip:
    """The part of ``clip`` between the two times (the whole clip when neither is given)."""
    if start_s is None and end_s is None:
        return clip
    start = int(round((start_s or 0.0) * clip.sample_rate))
    end = clip.samples.shape[0] if end_s is None else int(round(end_s * clip.sample_rate))
    if start >= clip.samples.shape[0]:
        raise SpeakerIDError(_("{name}: the start time {start} is past "
                               "the end of the media ({duration})").format(
                                   name=clip.name, start=duration_text(start_s or 0.0),
                                   duration=duration_text(clip.duration_s)))
    return AudioClip(clip.samples[start:end], clip.sample_rate, clip.name)


def _title(info: dict[str, Any], url: str) -> str:
    title = " ".join(str(info.get("title") or "").split())[:MAX_TITLE_CHARS]
    return title or urlparse(url).netloc


def _reason(exc: BaseException) -> str:
    """yt-dlp's message without its ``ERROR:`` prefix and the repeated cause."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    text = re.sub(r"^ERROR:\s*(\[\w+\]\s*)?", "", text)
    return re.sub(r"\s*\(caused by .*$", "", text.splitlines()[0] if text else type(exc).__name__)[:200]


class _Silent:
    """yt-dlp's logger: its messages become our exceptions, never lines on the terminal."""

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        pass
