"""Small pieces the pages share: audio inputs (uploads, a web link), figures, and messages that
survive a rerun."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError, paths
from speakerid.audio import SUPPORTED_EXTENSIONS, AudioClip, decode_bytes
from speakerid.i18n import _
from speakerid_ui.formatting import without_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from streamlit.delta_generator import DeltaGenerator

    from speakerid.fetch import DownloadProgress, FetchedAudio

AUDIO_TYPES = sorted({ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS})


# --- audio inputs -------------------------------------------------------------------------------
def decode(uploaded) -> AudioClip | None:
    """An UploadedFile (upload or recording) decoded, or None after showing why it is unusable."""
    try:
        return decode_bytes(uploaded.getvalue(), uploaded.name or "upload")
    except SpeakerIDError as exc:
        show_unusable(uploaded.name, exc)
        return None


def show_unusable(name: str, exc: SpeakerIDError) -> None:
    """Why the file ``name`` cannot be decoded, in one sentence."""
    problem = without_name(str(exc), name)
    st.error(_("**{name}** cannot be used: {problem}").format(name=name, problem=problem),
             icon=":material/error:")


def data_roots_help() -> str:
    """Where a typed server folder may be (the app reads nothing outside these)."""
    roots = ", ".join(f"`{root}`" for root in paths.data_roots())
    return _("Only folders inside {roots} can be read (set `{variable}` to change them).").format(
        roots=roots, variable=paths.DATA_ROOTS_VARIABLE)


# How wide the pages show a chart in a 1280 px window (the narrowest they are laid out for): the
# page's width, or the left column of the Identify page's analysis. Drawn at 100 px an inch there,
# no text is under 11 px; the 9-inch charts shrunk into 460 px had 7 px tick labels.
FULL_WIDTH_PX = 800
LEFT_COLUMN_PX = 460
PX_PER_INCH = 100
MIN_TEXT_PX = 11
TIGHT_PAD_INCHES = 0.1  # st.pyplot saves with bbox_inches="tight" and matplotlib's pad


SAVED_DPI = 200  # as st.pyplot saves a figure: sharp on high-density screens


def show(fig: Figure, shown_px: int = FULL_WIDTH_PX) -> None:
    """Show a matplotlib figure, readable where it is shown."""
    show_image(figure_png(fig, shown_px))


def show_image(png: bytes) -> None:
    """Show a figure drawn by :func:`figure_png`, as wide as its place."""
    st.image(png, width="stretch")


def figure_png(fig: Figure, shown_px: int = FULL_WIDTH_PX) -> bytes:
    """``fig`` drawn as a PNG, readable at ``shown_px`` wide, as st.pyplot would draw it. Touches no
    Streamlit state, so a worker thread can draw a page's figures (speakerid.app.work_queue)."""
    readable(fig, shown_px)
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=SAVED_DPI, bbox_inches="tight")
    return image.getvalue()


def readable(fig: Figure, shown_px: int) -> None:
    """Make ``fig`` as wide as the place it is shown, its height kept, and raise any text that would
    be under :data:`MIN_TEXT_PX` there, measured on the cropped image Streamlit shows (text out past
    the figure's edge widens it, so it is shrunk more)."""
    fig.set_size_inches(shown_px / PX_PER_INCH, fig.get_figheight())
    for _attempt in range(3):  # larger text can widen the cropped image again: re-measure
        shown_inches = fig.get_tightbbox().width + 2 * TIGHT_PAD_INCHES
        smallest_pt = MIN_TEXT_PX * 72 * shown_inches / shown_px
        if not _raise_small_text(fig, smallest_pt):
            return


def _raise_small_text(fig: Figure, smallest_pt: float) -> bool:
    """Text smaller than ``smallest_pt`` (tick labels included) set to it; whether any was."""
    from matplotlib.text import Text

    raised = False
    for ax in fig.axes:
        for axis, labels in (("x", ax.get_xticklabels()), ("y", ax.get_yticklabels())):
            if any(label.get_fontsize() < smallest_pt - 0.01 for label in labels):
                ax.tick_params(axis=axis, which="both", labelsize=smallest_pt)
                raised = True
    for text in fig.findobj(Text):
        if text.get_fontsize() < smallest_pt - 0.01:
            text.set_fontsize(smallest_pt)
            raised = True
    return raised


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

    url = link_field(f"{prefix}_url")
    cols = st.columns(2)
    start = cols[0].text_input(_("From (optional)"), key=f"{prefix}_start", placeholder="1:30")
    end = cols[1].text_input(_("To (optional)"), key=f"{prefix}_end", placeholder="2:45")
    fetched = st.session_state.setdefault("_fetched_links", {})
    key = (url, start.strip(), end.strip())
    if key in fetched:
        return fetched[key]
    if not url or not st.button(_("Fetch the audio"), key=f"{prefix}_fetch", icon=":material/download:"):
        return None
    bar = st.progress(0.0, text=_("Asking the site for the audio…"))
    try:
        result = fetch_audio(url, parse_time(start), parse_time(end), progress=download_progress(bar))
    except SpeakerIDError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return None
    bar.empty()
    fetched[key] = result
    return result


def link_field(key: str) -> str:
    """The field a web link is pasted in (the same on every page), stripped."""
    return st.text_input(_("Link to a video or audio page"), key=key,
                         placeholder="https://www.youtube.com/watch?v=...",
                         help=_("YouTube, news and TV sites, podcasts, or a direct link to a media "
                                "file; only the audio is downloaded (at most 4 hours, 200 MB).")).strip()


def download_progress(bar: DeltaGenerator) -> DownloadProgress:
    """A download followed on ``bar`` (an ``st.progress``), in megabytes."""
    def progress(done: int, total: int | None) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=_("Downloading… {done:.1f} of {total:.1f} MB").format(
                done=done / 1e6, total=total / 1e6))
        else:
            bar.progress(0.0, text=_("Downloading… {done:.1f} MB").format(done=done / 1e6))

    return progress
