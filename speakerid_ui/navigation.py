"""The app's pages: their files, in the order and with the titles and icons the menu shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from speakerid.i18n import _

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

PAGES = {
    "identify": "pages/identify.py",
    "gallery": "pages/gallery.py",
    "archive": "pages/archive.py",
    "live": "pages/live.py",
    "train": "pages/train.py",
    "accounts": "pages/accounts.py",
}


def menu(admin: bool = True, accounts: bool = False) -> list[StreamlitPage]:
    """The pages for ``st.navigation``, Identify the home page; Train for an ``admin`` only, and
    Accounts for an admin signed in with an account (the pages check the role themselves too)."""
    pages = [
        st.Page(PAGES["identify"], title="Identify", icon=":material/person_search:", default=True),
        st.Page(PAGES["gallery"], title="Gallery", icon=":material/groups:"),
        st.Page(PAGES["archive"], title="Archive", icon=":material/library_music:"),
        st.Page(PAGES["live"], title="Live", icon=":material/mic:"),
    ]
    if admin:
        pages.append(st.Page(PAGES["train"], title="Train", icon=":material/model_training:"))
    if admin and accounts:
        pages.append(st.Page(PAGES["accounts"], title=_("Accounts"), icon=":material/manage_accounts:"))
    return pages
