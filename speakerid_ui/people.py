"""Who is using the app, as the gallery's history records them: the account the person signed in
with (:data:`~speakerid_ui.access_gate.SIGNED_IN_USER`), or, where nobody signs in with a name (on
one's own computer, or with the one shared password), the operating system's user running the
server, as the CLI records it on the same computer."""

from __future__ import annotations

import streamlit as st

from speakerid.gallery.history import os_user
from speakerid_ui.access_gate import SIGNED_IN_USER


def acting_user() -> str:
    """The name changes made in this browser session are recorded under."""
    return st.session_state.get(SIGNED_IN_USER) or os_user()
