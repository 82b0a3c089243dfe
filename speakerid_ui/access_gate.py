"""The app's front door: ``speakerid_ui.frame.app_frame`` asks :func:`may_enter` before it draws any page
or the sidebar (on every run, deep links included), and calls :func:`turn_away` for a session that
may not, so nobody gets in by default.

- A password hash in ``.streamlit/secrets.toml`` (``python -m speakerid app-password``): every
  browser session signs in with the password first.
- No password, server bound to this machine (``server.address = "localhost"``, the shipped
  ``.streamlit/config.toml``): open, as any program on one's own computer.
- No password, server on a network address: nothing is served but how to set a password.

Presentation only (the hashing is :mod:`speakerid.app.access`); imports neither TensorFlow nor the gallery.
"""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.app.access import HASH_KEY, SECRETS_SECTION, is_local_address, password_matches
from speakerid.i18n import _

SIGNED_IN = "_signed_in_with"  # session key: the hash this session's password matched


def may_enter() -> bool:
    """Whether this browser session may see the app: signed in with the password set, or, with
    none set, served on this computer only. A changed password signs everyone out."""
    stored = configured_password_hash()
    if stored is None:
        return is_local_address(st.get_option("server.address"))
    return st.session_state.get(SIGNED_IN) == stored


def turn_away() -> NoReturn:
    """Draw the sign-in form, or why the app is closed, and stop the script run."""
    stored = configured_password_hash()
    if stored is None:
        refuse_without_password()
    sign_in(stored)
    st.stop()


def configured_password_hash() -> str | None:
    """The password hash from Streamlit's secrets, or None when none is set (or the file is unreadable)."""
    if not st.secrets.load_if_toml_exists():
        return None
    section = st.secrets.get(SECRETS_SECTION)
    stored = section.get(HASH_KEY) if section is not None else None
    return stored if isinstance(stored, str) and stored else None


def refuse_without_password() -> NoReturn:
    st.title(_("Speaker ID is closed"))
    st.error(_("**This server listens on the network, but no password is set, so it serves nothing.** "
               "On the server, in the project folder, run `python -m speakerid app-password`, then restart "
               "the app; or serve it on this computer only (`server.address = \"localhost\"`, the default "
               "in `.streamlit/config.toml`)."), icon=":material/lock:")
    st.stop()


def sign_in(stored: str) -> None:
    """The password form; a right password marks the session signed in and redraws the app."""
    st.title("Speaker ID")
    with st.form("sign_in"):
        password = st.text_input(_("Password"), type="password", key="sign_in_password")
        submitted = st.form_submit_button(_("Sign in"), type="primary", icon=":material/login:",
                                          key="sign_in_submit")
    if not submitted:
        return
    try:
        right = password_matches(password, stored)
    except SpeakerIDError as exc:
        st.error(_("Nobody can sign in: {problem}.").format(problem=exc), icon=":material/error:")
        return
    if not right:
        st.error(_("Wrong password."), icon=":material/lock:")
        return
    st.session_state[SIGNED_IN] = stored
    st.rerun()
