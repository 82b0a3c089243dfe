"""Shared pieces of the Streamlit pages: the frame around them (navigation, sidebar), cached model
and gallery, friendly errors, small widgets.

Presentation only: everything computed comes from the ``speakerid`` package. Nothing here imports
TensorFlow: it is imported in a background thread, so the first page draws in about the time of
any Streamlit page, and pages wait for the model only where they use it.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import streamlit as st

# streamlit-webrtc (the Live page) must be imported before TensorFlow: its SRTP library crashes the
# process when it initialises after TensorFlow has loaded. Every page imports this module first.
import streamlit_webrtc  # noqa: F401, I001

import access_gate
import streamlit_fixes
from speakerid import SpeakerIDError, paths
from speakerid.audio import SUPPORTED_EXTENSIONS, AudioClip, decode_bytes
from speakerid.gallery import Gallery, SpeakerInfo

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.navigation.page import StreamlitPage

    from speakerid.fetch import DownloadProgress, FetchedAudio
    from speakerid.models.encoder import Encoder

AUDIO_TYPES = sorted({ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS})
PAGES = {
    "identify": "pages/identify.py",
    "gallery": "pages/gallery.py",
    "archive": "pages/archive.py",
    "live": "pages/live.py",
    "train": "pages/train.py",
}


# --- the frame around every page -----------------------------------------------------------------
# A local image: Streamlit fetches a material-icon favicon from fonts.gstatic.com, which a newsroom
# offline (or behind a strict proxy) cannot reach.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
_this_run = threading.local()  # a script run stays on one thread: whether app.py is running it


def app_frame() -> StreamlitPage:
    """What app.py draws around every page (settings, navigation, sidebar); returns the page the
    URL asks for, to run with :func:`run_page`."""
    streamlit_fixes.keep_upload_urls_across_reruns()
    st.set_page_config(page_title="Speaker ID", page_icon=str(ICON), layout="wide")
    # Nobody in by default: a session that may not enter gets no menu, page, sidebar or gallery. The
    # page is still routed (hidden), so signing in from a page's address opens that page.
    allowed = access_gate.may_enter()
    page = st.navigation([
        st.Page(PAGES["identify"], title="Identify", icon=":material/person_search:", default=True),
        st.Page(PAGES["gallery"], title="Gallery", icon=":material/groups:"),
        st.Page(PAGES["archive"], title="Archive", icon=":material/library_music:"),
        st.Page(PAGES["live"], title="Live", icon=":material/mic:"),
        st.Page(PAGES["train"], title="Train", icon=":material/model_training:"),
    ], position="sidebar" if allowed else "hidden")
    if not allowed:
        access_gate.turn_away()
    with st.sidebar:
        st.markdown("### :material/record_voice_over: Speaker ID")
        st.caption("Who is speaking in this clip?")
    sidebar_status()
    return page


def run_page(page: StreamlitPage) -> None:
    """Run the page app.py's navigation chose (what :func:`ensure_app_frame` checks for)."""
    _this_run.through_app = True
    try:
        page.run()
    finally:
        _this_run.through_app = False


def ensure_app_frame() -> None:
    """Called first by every page: run it inside the app's frame, whatever the first request was.

    With a top-level ``pages/`` folder, Streamlit 1.67 starts in its legacy multipage mode: until
    app.py has called ``st.navigation`` once, a page asked for by URL (``/live`` as the first
    request to a fresh server) runs straight from ``pages/``, without app.py; Streamlit's AppTest
    starts every run so. Such a run draws the frame, runs the page app.py's navigation picks, as
    app.py would, and stops there. The navigation ends legacy mode for the whole server. Not a
    rerun: that would lose a button click made in this run; and the page's widgets keep the ids
    they have when app.py runs it.
    """
    if not getattr(_this_run, "through_app", False):
        run_page(app_frame())
        st.stop()


# --- model and gallery, loaded once per process ------------------------------------------------
def model_location() -> tuple[str, float]:
    """The model directory the library would load now, and the newest modification time of its
    files (so a newly activated or recalibrated model is picked up)."""
    folder = paths.default_model_dir()
    stamps = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return str(folder), max(stamps, default=0.0)


def _import_model_code() -> None:
    import speakerid.models.encoder  # noqa: F401 (TensorFlow and Keras: most of the time a model takes to load)

    _freeze_garbage_collection()


def _freeze_garbage_collection() -> None:
    """Keep what is loaded now (libraries, model) out of every later garbage collection.

    After every script run, fragments included, Streamlit runs a full collection and Keras's
    ``clear_session`` another; with TensorFlow loaded each scans millions of objects (about 0.45 s
    each on a busy 2-core machine), twice a second on the Live page, holding the interpreter while
    audio frames arrive. Frozen, a collection sees only what the pages made since (under 15 ms)."""
    gc.freeze()


@functools.cache
def _importing() -> Future[None]:
    """TensorFlow, imported in a background thread from the first call on, so that pages draw
    meanwhile. Only imported there: the network is built in the page's thread (:func:`load_encoder`),
    because Streamlit resets Keras's global state when any script run ends, which would garble
    the layer names of a network being built in another thread."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="speakerid-import").submit(
        _import_model_code)


def model_code_loaded() -> bool:
    """Whether the model's libraries are in (their import starts, in the background, if not)."""
    return _importing().done()


@st.cache_resource(show_spinner="Loading the speaker model…", max_entries=4)
def _load_encoder(folder: str, stamp: float) -> Encoder:
    from speakerid import Encoder

    encoder = Encoder.load(folder)
    _freeze_garbage_collection()
    return encoder


@st.cache_resource(show_spinner=False, max_entries=16)
def _open_gallery(path: str, model: str, stamp: float, _encoder: Encoder) -> Gallery:
    return Gallery(path, encoder=_encoder)


def load_encoder() -> tuple[Encoder | None, str | None]:
    """(encoder, None), or (None, why) when no usable model is installed; waits while it loads."""
    importing = _importing()
    if not importing.done():
        with st.spinner("Loading the speaker model…"):
            importing.result()
    folder, stamp = model_location()
    try:
        return _load_encoder(folder, stamp), None
    except SpeakerIDError as exc:
        return None, str(exc)


def loaded_encoder() -> Encoder | None:
    """The model (as :func:`require_encoder`) once its libraries are in, else None at once."""
    return require_encoder() if model_code_loaded() else None


def require_encoder() -> Encoder:
    """The active encoder; without one, explain how to get one and stop the page."""
    encoder, problem = load_encoder()
    if encoder is None:
        st.warning("**No speaker model is installed yet.** Identification needs a trained model.",
                   icon=":material/model_training:")
        st.markdown(
            "- Train one on the **Train** page (a folder of recordings, one folder per speaker), "
            "then press *Make this model active*;\n"
            "- or copy a trained model folder (`config.json` + `encoder.weights.h5`) to "
            "`weights/` in the project, or point the `SPEAKERID_WEIGHTS` environment variable at it.")
        st.page_link(PAGES["train"], label="Go to the Train page", icon=":material/arrow_forward:")
        with st.expander("Details"):
            st.code(problem or "", language=None)
        st.stop()
    return encoder


def open_gallery(encoder: Encoder) -> Gallery:
    folder, stamp = model_location()
    try:
        return _open_gallery(str(paths.gallery_path()), folder, stamp, encoder)
    except SpeakerIDError as exc:
        gallery_failed(exc)


def enrolled_speakers() -> list[SpeakerInfo]:
    """Everyone enrolled, read without the model (pages list them before it has loaded)."""
    with Gallery(paths.gallery_path()) as gallery:
        return gallery.speakers()


def require_speakers() -> list[SpeakerInfo]:
    """:func:`enrolled_speakers`, or the page stops saying why the gallery cannot be read."""
    try:
        return enrolled_speakers()
    except SpeakerIDError as exc:
        gallery_failed(exc)


def gallery_failed(problem: SpeakerIDError) -> NoReturn:
    st.error(f"The gallery cannot be opened: {problem}", icon=":material/error:")
    st.stop()


def require_gallery(encoder: Encoder) -> Gallery:
    """The gallery, checked against the encoder; offers re-enrolment when the model changed."""
    gallery = open_gallery(encoder)
    try:
        gallery.check_encoder()
    except SpeakerIDError:
        st.warning("**The gallery was enrolled with another model.** Its speakers must be re-enrolled "
                   "with the current model from their stored recordings (nothing to record again).",
                   icon=":material/sync_problem:")
        if st.button("Re-enrol all speakers now", type="primary", key="reenroll_gallery"):
            reenroll(gallery, encoder)
            st.rerun()
        st.stop()
    return gallery


def reenroll(gallery: Gallery, encoder: Encoder) -> int:
    """Re-embed every stored clip with ``encoder``, showing progress."""
    bar = st.progress(0.0, text="Re-enrolling the gallery…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Re-enrolling the gallery: clip {done} of {total}")

    refused: list[SpeakerIDError] = []
    try:
        count = gallery.reenroll(encoder, progress, on_refused=refused.append)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(f"Re-enrolment failed: {exc}", icon=":material/error:")
        st.stop()
    bar.empty()
    st.toast(f"Gallery re-enrolled: {count} clip(s)", icon=":material/check_circle:")
    if refused:
        flash(refusals_note(refused), "warning")
    return count


def refusals_note(refused: list[SpeakerIDError]) -> str:
    """Markdown: the clips a new model refused, kept in the gallery but unused until one accepts them."""
    lines = "\n".join(f"- {md(str(error))}" for error in refused)
    return (f"**{len(refused)} clip(s) were kept but not re-enrolled**: the current model's audio "
            f"pipeline refuses them, so they do not count until a model accepts them.\n\n{lines}")


def clear_model_cache() -> None:
    _load_encoder.clear()
    _open_gallery.clear()


# --- audio inputs -------------------------------------------------------------------------------
def decode(uploaded) -> AudioClip | None:
    """An UploadedFile (upload or recording) decoded, or None after showing why it is unusable."""
    try:
        return decode_bytes(uploaded.getvalue(), uploaded.name or "upload")
    except SpeakerIDError as exc:
        st.error(f"**{uploaded.name}** cannot be used: {without_name(str(exc), uploaded.name)}",
                 icon=":material/error:")
        return None


def without_name(message: str, name: str) -> str:
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$:"


def md(text: str) -> str:
    """User text (a speaker's name) shown literally inside Markdown."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()[:16]


def show(fig: Figure) -> None:
    """Show a matplotlib figure and release it."""
    st.pyplot(fig, width="stretch")


# --- text ---------------------------------------------------------------------------------------
def seconds(value: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def clock(value: float) -> str:
    """A time in a clip as m:ss.s"""
    return f"{int(value // 60)}:{value % 60:04.1f}"


def onboarding(where: str) -> None:
    """How to start, for a first-time user with an empty gallery."""
    with st.container(border=True):
        st.markdown("#### :material/waving_hand: Getting started")
        st.markdown(
            "The gallery is empty: the app can only recognise voices it has been shown.\n\n"
            "1. **Enrol two voices** on the Gallery page: for each person, upload a clip or record "
            "5–30 seconds of them speaking, and give their name.\n"
            "2. **Identify**: come back here and upload or record a clip; the app tells you who is "
            "speaking, or that the voice is unknown.\n"
            "3. **Go further**: import a whole folder of speakers, follow a speaker live from the "
            "microphone, or train a model on your own recordings.")
        if where != "gallery":
            st.page_link(PAGES["gallery"], label="Enrol speakers in the Gallery",
                         icon=":material/person_add:")


def data_roots_help() -> str:
    """Where a typed server folder may be (the app reads nothing outside these)."""
    roots = ", ".join(f"`{root}`" for root in paths.data_roots())
    return f"Only folders inside {roots} can be read (set `{paths.DATA_ROOTS_VARIABLE}` to change them)."


def sidebar_status() -> None:
    """Which model is in use and how big the gallery is."""
    with st.sidebar:
        st.caption("MODEL")
        if model_code_loaded():
            _model_summary()
        else:
            st.fragment(_wait_for_model, run_every=1.0)()
        try:
            count = len(enrolled_speakers())
        except SpeakerIDError:  # the pages report gallery problems themselves
            return
        st.caption("GALLERY")
        st.markdown(f"**{count}** speaker{'s' if count != 1 else ''} enrolled")


def _wait_for_model() -> None:
    """Polled while the model's libraries load; then the whole page is redrawn, with the model."""
    if model_code_loaded():
        st.rerun()
    st.markdown(":gray[:material/hourglass_top: loading the speaker model…]")


def _model_summary() -> None:
    """The model in use, and how its threshold was set."""
    encoder, _ = load_encoder()
    if encoder is None:
        st.markdown(":orange[no model installed]")
        return
    where = Path(encoder.path).name if encoder.path else "in memory"
    st.markdown(f"**{encoder.model_config.backbone}** · `{where}`")
    calibration = encoder.calibration
    st.caption(f"threshold {encoder.threshold:.2f}"
               + (f" · {calibration.false_accept_rate:.0%} false accepts"
                  if calibration.false_accept_rate is not None else "")
               + (f" · EER {calibration.eer:.1%}" if calibration.eer else ""))


# --- Live over networks -------------------------------------------------------------------------
ICE_SERVERS_ENV = "SPEAKERID_ICE_SERVERS"


def ice_servers() -> list[dict]:
    """The STUN/TURN servers for the Live page's WebRTC connection, from ``SPEAKERID_ICE_SERVERS``
    (a JSON list of RTCIceServer objects: ``[{"urls": "turn:host:3478", "username": ...,
    "credential": ...}]``); none by default, enough when the browser and the app share a machine
    or a network without NAT between them."""
    text = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not text:
        return []
    try:
        servers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpeakerIDError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc.msg} at character {exc.pos})"
                             ) from None
    if not isinstance(servers, list) or not all(
            isinstance(s, dict) and isinstance(s.get("urls"), str | list) for s in servers):
        raise SpeakerIDError(f'{ICE_SERVERS_ENV} must be a JSON list of servers like '
                             f'[{{"urls": "stun:stun.example.org:3478"}}]')
    return servers


# --- messages that survive a rerun ----------------------------------------------------------------
def flash(message: str, kind: str = "success") -> None:
    """Show ``message`` at the top of the page after the next rerun (e.g. after saving)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
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
    start = cols[0].text_input("From (optional)", key=f"{prefix}_start", placeholder="1:30")
    end = cols[1].text_input("To (optional)", key=f"{prefix}_end", placeholder="2:45")
    fetched = st.session_state.setdefault("_fetched_links", {})
    key = (url, start.strip(), end.strip())
    if key in fetched:
        return fetched[key]
    if not url or not st.button("Fetch the audio", key=f"{prefix}_fetch", icon=":material/download:"):
        return None
    bar = st.progress(0.0, text="Asking the site for the audio…")
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
    return st.text_input("Link to a video or audio page", key=key,
                         placeholder="https://www.youtube.com/watch?v=...",
                         help="YouTube, news and TV sites, podcasts, or a direct link to a media "
                              "file; only the audio is downloaded (at most 4 hours, 200 MB).").strip()


def download_progress(bar: DeltaGenerator) -> DownloadProgress:
    """A download followed on ``bar`` (an ``st.progress``), in megabytes."""
    def progress(done: int, total: int | None) -> None:
        if total:
            bar.progress(min(done / total, 1.0),
                         text=f"Downloading… {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            bar.progress(0.0, text=f"Downloading… {done / 1e6:.1f} MB")

    return progress
