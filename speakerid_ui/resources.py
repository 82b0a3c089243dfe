"""The model and the gallery, loaded once per process and shared by every session, and the
TensorFlow import that starts in the background so that pages draw meanwhile."""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError, numerals, paths
from speakerid.app.accounts import EDITOR
from speakerid.gallery import Gallery, SpeakerInfo
from speakerid.i18n import _
from speakerid_ui.access_gate import may
from speakerid_ui.errors import gallery_failed, refusals_note
from speakerid_ui.onboarding import explain_missing_model
from speakerid_ui.people import acting_user
from speakerid_ui.widgets import flash

if TYPE_CHECKING:
    from speakerid.models.base import SpeakerModel as Encoder


def model_location() -> tuple[str, float]:
    """The model directory the library would load now, and the newest modification time of its
    files (so a newly activated or recalibrated model is picked up)."""
    folder = paths.default_model_dir()
    stamps = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return str(folder), max(stamps, default=0.0)


def digest(*parts: bytes | str) -> str:
    """A short key for what a page keeps in its session (a clip, the model, the gallery's state)."""
    h = hashlib.sha1()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()[:16]


def _import_model_code() -> None:
    import speakerid.models.encoder  # noqa: F401 (TensorFlow and Keras: most of the time a model takes to load)
    from speakerid.app.work_queue import pool_size
    from speakerid.runtime import tensorflow_threads

    tensorflow_threads(pool_size().intra_op_threads)  # before the model runs anything
    _freeze_garbage_collection()


def _freeze_garbage_collection() -> None:
    """Keep what is loaded now (libraries, model) out of every later garbage collection.

    After every script run, fragments included, Streamlit runs a full collection and Keras's
    ``clear_session`` another; with TensorFlow loaded each scans millions of objects (about 0.45 s
    each on a busy 2-core machine), twice a second on the Live page, holding the interpreter while
    audio frames arrive. Frozen, a collection sees only what the pages made since (under 15 ms)."""
    gc.freeze()


@functools.cache
def _model_thread() -> ThreadPoolExecutor:
    """One background thread for the model's slow starts: the import of TensorFlow, then the warm-up
    of each model loaded, while the page is read and a clip chosen. An executor's thread finishes its
    job before the interpreter finalises (a daemon thread still in TensorFlow then would abort the
    process, see speakerid.app.live)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="speakerid-model")


@functools.cache
def _importing() -> Future[None]:
    """TensorFlow, imported in the background thread from the first call on, so that pages draw
    meanwhile. Only imported there: the network is built in the page's thread (:func:`load_encoder`),
    because Streamlit resets Keras's global state when any script run ends, which would garble
    the layer names of a network being built in another thread."""
    return _model_thread().submit(_import_model_code)


def model_code_loaded() -> bool:
    """Whether the model's libraries are in (their import starts, in the background, if not)."""
    return _importing().done()


@st.cache_resource(show_spinner="Loading the speaker model…", max_entries=4)
def _load_encoder(folder: str, stamp: float) -> Encoder:
    from speakerid import load_model

    encoder = load_model(folder)
    _freeze_garbage_collection()
    _model_thread().submit(_warm_up, encoder)
    return encoder


WARM_UP_S = 3.0  # seconds of silence: one trace of the network serves every later length


def _warm_up(encoder: Encoder) -> None:
    """Trace the network before the first clip (SpeakerModel.warm_up): a fresh server's first
    verdict otherwise pays for it (the shipped model: 2.9 s for a 15 s clip instead of 0.45 s).
    A failure costs only that head start: the first clip traces the network and reports its own
    problem."""
    try:
        encoder.warm_up(WARM_UP_S)
    except Exception as exc:  # any failure: the first clip meets it again and reports it properly
        logging.getLogger(__name__).warning("the model's warm-up failed: %s", exc)


@st.cache_resource(show_spinner=False, max_entries=16)
def _open_gallery(path: str, model: str, stamp: float, user: str, _encoder: Encoder) -> Gallery:
    """One per person: each records the changes made through it under that person's name."""
    return Gallery(path, encoder=_encoder, user=user)


def load_encoder() -> tuple[Encoder | None, str | None]:
    """(encoder, None), or (None, why) when no usable model is installed; waits while it loads."""
    importing = _importing()
    if not importing.done():
        with st.spinner(_("Loading the speaker model…")):
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
        explain_missing_model(problem)
    return encoder


def open_gallery(encoder: Encoder) -> Gallery:
    """The gallery for ``encoder``, recording changes under this session's person
    (:func:`~speakerid_ui.people.acting_user`); the page stops saying why when it cannot be opened."""
    folder, stamp = model_location()
    try:
        return _open_gallery(str(paths.gallery_path()), folder, stamp, acting_user(), encoder)
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


def require_gallery(encoder: Encoder) -> Gallery:
    """The gallery, checked against the encoder; offers re-enrolment when the model changed."""
    gallery = open_gallery(encoder)
    try:
        gallery.check_encoder()
    except SpeakerIDError:
        st.warning(_("**The gallery was enrolled with another model.** Its speakers must be re-enrolled "
                     "with the current model from their stored recordings (nothing to record again)."),
                   icon=":material/sync_problem:")
        if not may(EDITOR):
            st.info(_("An editor or an admin can do it: ask one, then reload this page."),
                    icon=":material/lock:")
        elif st.button(_("Re-enrol all speakers now"), type="primary", key="reenroll_gallery"):
            reenroll(gallery, encoder)
            st.rerun()
        st.stop()
    return gallery


def reenroll(gallery: Gallery, encoder: Encoder) -> int:
    """Re-embed every stored clip with ``encoder``, showing progress."""
    bar = st.progress(0.0, text=_("Re-enrolling the gallery…"))

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=_("Re-enrolling the gallery: clip {done} of {total}").format(
            done=numerals.number(done), total=numerals.number(total)))

    refused: list[SpeakerIDError] = []
    try:
        count = gallery.reenroll(encoder, progress, on_refused=refused.append)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(_("Re-enrolment failed: {problem}").format(problem=exc), icon=":material/error:")
        st.stop()
    bar.empty()
    st.toast(_("Gallery re-enrolled: {count} clip(s)").format(count=numerals.number(count)),
             icon=":material/check_circle:")
    if refused:
        flash(refusals_note(refused), "warning")
    return count


def clear_model_cache() -> None:
    """Forget the loaded model and galleries (after another model was made active)."""
    _load_encoder.clear()
    _open_gallery.clear()
