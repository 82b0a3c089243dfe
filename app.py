"""speakerid app: `streamlit run app.py` (or `make run`).

Identify (home), Gallery, Live and Train pages; all the work is done by the speakerid package.

The pages live in ``app_pages/``, one file each, routed by ``st.navigation`` below. Not in
``pages/``: Streamlit 1.67 runs a ``pages/`` folder in its legacy multipage mode until this
script has called ``st.navigation`` once, so a first request for ``/gallery`` after a restart
would run the page without this script (no navigation, no sidebar, and streamlit-webrtc
imported after TensorFlow, which crashes the server).
"""

from pathlib import Path

import streamlit as st

# streamlit-webrtc (the Live page) must be imported before TensorFlow: its SRTP library crashes the
# process when it initialises after TensorFlow has loaded.
import streamlit_webrtc  # noqa: F401, I001

import access_gate
import speakerid_ui as ui

# A local image: Streamlit fetches a material-icon favicon from fonts.gstatic.com, which a newsroom
# offline (or behind a strict proxy) cannot reach.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="Speaker ID", page_icon=str(ICON), layout="wide")

pages = [
    st.Page(ui.PAGES["identify"], title="Identify", icon=":material/person_search:", default=True),
    st.Page(ui.PAGES["gallery"], title="Gallery", icon=":material/groups:"),
    st.Page(ui.PAGES["live"], title="Live", icon=":material/mic:"),
    st.Page(ui.PAGES["train"], title="Train", icon=":material/model_training:"),
]
# Nobody in by default: a session that may not enter gets no menu, page, sidebar or gallery. The
# page is still routed (hidden), so signing in from a page's address opens that page.
allowed = access_gate.may_enter()
page = st.navigation(pages, position="sidebar" if allowed else "hidden")
if not allowed:
    access_gate.turn_away()
with st.sidebar:
    st.markdown("### :material/record_voice_over: Speaker ID")
    st.caption("Who is speaking in this clip?")
ui.sidebar_status()
page.run()
