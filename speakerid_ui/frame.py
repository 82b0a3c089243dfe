"""The frame around every page (settings, access gate, navigation, sidebar), and the run of the page
the navigation chose, whatever page Streamlit was asked for first."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.app.accounts import ADMIN
from speakerid_ui import access_gate, plain_words, streamlit_fixes
from speakerid_ui.formatting import md
from speakerid_ui.navigation import menu
from speakerid_ui.resources import enrolled_speakers, load_encoder, model_code_loaded

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

# A local image: Streamlit fetches a material-icon favicon from fonts.gstatic.com, which a newsroom
# offline (or behind a strict proxy) cannot reach.
ICON = Path(__file__).resolve().parents[1] / "assets" / "icon.png"
_this_run = threading.local()  # a script run stays on one thread: whether app.py is running it


def app_frame() -> StreamlitPage:
    """What app.py draws around every page (settings, navigation, sidebar); returns the page the
    URL asks for, to run with :func:`run_page`."""
    streamlit_fixes.keep_upload_urls_across_reruns()
    st.set_page_config(page_title="Speaker ID", page_icon=str(ICON), layout="wide")
    # Nobody in by default: a session that may not enter gets no menu, page, sidebar or gallery. Every
    # page is still routed (hidden), so signing in from a page's address opens that page; once in,
    # the menu holds only the pages the person's role may open (Train and Accounts: admins).
    allowed = access_gate.may_enter()
    page = st.navigation(menu(admin=not allowed or access_gate.may(ADMIN),
                              accounts=not allowed or access_gate.has_accounts()),
                         position="sidebar" if allowed else "hidden")
    if not allowed:
        access_gate.turn_away()
    with st.sidebar:
        st.markdown("### :material/record_voice_over: Speaker ID")
        st.caption("Who is speaking in this clip?")
    sidebar_status()
    access_gate.sidebar_account()
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
    """The model in use and how strict its decision is, in words; the figures in an expander."""
    encoder, _ = load_encoder()
    if encoder is None:
        st.markdown(":orange[no model installed]")
        return
    calibration = encoder.calibration
    st.markdown(f"**Model:** {md(plain_words.model_words(encoder))}")
    st.markdown(f"**Decision:** {plain_words.strictness_words(calibration.false_accept_rate)}")
    with st.expander("The figures"):
        where = Path(encoder.path).name if encoder.path else "in memory"
        st.caption(f"{encoder.model_config.backbone} · `{where}` · threshold {encoder.threshold:.2f}"
                   + (f" · {calibration.false_accept_rate:.0%} false accepts"
                      if calibration.false_accept_rate is not None else "")
                   + (f" · EER {calibration.eer:.1%}" if calibration.eer else ""))
