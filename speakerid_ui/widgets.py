"""Small pieces the pages share: audio inputs (uploads, a web link), figures, and messages that
survive a rerun."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError, paths
from speakerid.audio import SUPPORTED_EXTENSIONS, AudioClip, decode_bytes
from speakerid_ui.formatting import without_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from speakerid.fetch import FetchedAudio

AUDIO_TYPES = sorted({ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS})


# --- audio inputs -------------------------------------------------------------------------------
def decode(uploaded) -> AudioClip | None:
    """An UploadedFile (upload or recording) decoded, or None after showing why it is unusable."""
    try:
        return decode_bytes(uploaded.getvalue(), uploaded.name or "upload")
    except SpeakerIDError as exc:
        st.error(f"**{uploaded.name}** cannot be used: {without_name(str(exc), uploaded.name)}",
                 icon=":material/error:")
        return None


def data_roots_help() -> str:
    """Where a typed server folder may be (the app reads nothing outside these)."""
    roots = ", ".join(f"`{root}`" for root in paths.data_roots())
    return f"Only folders inside {roots} can be read (set `{paths.DATA_ROOTS_VARIABLE}` to change them)."


def show(fig: Figure) -> None:
    """Show a matplotlib figure and release it."""
    st.pyplot(fig, width="stretch")


# --- messages that survive a rerun ----------------------------------------------------------------
def flash(message: str, kind: str = "success") -> None:
    """Show ``message`` at the top of the page after the next rerun (e.g. after saving)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
    """The messages :func:`flash` kept for this run, once."""
    for kind, message in st.session_state.pop("_flash", []):
        icon = {"success": ":material/check_circle:", "warning": ":material/warning:",
                "error": ":material/error:"}.get(kind, ":material/info:")
        getattr(st, kind, st.info)(message, icon=icon)


# --- audio from a web link ----------------------------------------------------------------------
def link_input(prefix: str) -> FetchedAudio | None:
    """A link field with optional start and end times and a Fetch button; the fetched audio (kept
    for the session, so reruns do not download again), or None after saying what is wrong."""
    from speakerid.fetch import fetch_audio, parse_time

    url = st.text_input("Link to a video or audio page", key=f"{prefix}_url",
                        placeholder="https://www.youtube.com/watch?v=...",
                        help="YouTube, news and TV sites, podcasts, or a direct link to a media "
                             "file; only the audio is downloaded (at most 4 hours, 200 MB).").strip()
    cols = st.columns(2)
    start = cols[0].text_input("From (optional)", key=f"{prefix}_start", placeholder="1:30")
    end = cols[1].text_input("To (optional)", key=f"{prefix}_end", placeholder="2:45")
    fetched = st.session_state.setdefault("_fetched_links", {})
    key = (url, start.strip(), end.strip())
    if key in fetched:
        return fetched[key]
    if not url or not st.button("Fetch the audio", key=f"{prefix}_fetch", icon=":material/download:"):
        return None
    bar = st.progress(0.0, text="Asking the site for the audio…")

    def progress(done: int, total: int | None) -> None:
        if total:
            bar.progress(min(done / total, 1.0),
                         text=f"Downloading… {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            bar.progress(0.0, text=f"Downloading… {done / 1e6:.1f} MB")

    try:
        result = fetch_audio(url, parse_time(start), parse_time(end), progress=progress)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return None
    bar.empty()
    fetched[key] = result
    return result
