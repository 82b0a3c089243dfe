"""The page's language: English or Nepali, from the sidebar's switch or the address (``/?lang=ne``),
kept in the address so that a copied link, and every page the app links to, opens in it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from speakerid.i18n import DEFAULT_LANGUAGE, LANGUAGES, current_language, set_language

PARAMETER = "lang"  # the address's ?lang=
SWITCH_KEY = "language"  # the sidebar switch's widget key: the session's language


def use_session_language() -> str:
    """Set this script run's language (the switch, else ``?lang=``, else English) and keep it in
    the switch and the address. Called first on every run of the page."""
    language = follow_session_language()
    if st.session_state.get(SWITCH_KEY) != language:
        st.session_state[SWITCH_KEY] = language
    if st.query_params.get(PARAMETER, DEFAULT_LANGUAGE) != language:
        st.query_params[PARAMETER] = language
    return language


def follow_session_language() -> str:
    """Set this thread's language to the session's, changing nothing: for a fragment, which reruns
    on a thread of its own without the frame (and may not touch the switch's state)."""
    return set_language(st.session_state.get(SWITCH_KEY) or st.query_params.get(PARAMETER))


def language_switch() -> None:
    """English / नेपाली in the sidebar; a choice redraws the page in that language."""
    st.sidebar.radio("Language / भाषा", list(LANGUAGES), format_func=LANGUAGES.__getitem__, horizontal=True,
                     key=SWITCH_KEY, label_visibility="collapsed", on_change=_keep_in_address)


def _keep_in_address() -> None:
    st.query_params[PARAMETER] = st.session_state[SWITCH_KEY]


def link_params() -> dict[str, Any]:
    """The address parameters a link to another page keeps (``st.page_link``, ``st.switch_page``)."""
    return {PARAMETER: current_language()}
