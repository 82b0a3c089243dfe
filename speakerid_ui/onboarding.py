"""How to start, for a first-time user: with an empty gallery, or with no model installed."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from speakerid.app.accounts import ADMIN, EDITOR
from speakerid.i18n import _
from speakerid_ui.access_gate import may
from speakerid_ui.navigation import PAGES


def onboarding(where: str) -> None:
    """How to start, for a first-time user with an empty gallery."""
    with st.container(border=True):
        st.markdown("#### :material/waving_hand: Getting started")
        if not may(EDITOR):
            st.markdown(_("The gallery is empty: the app can only recognise voices it has been shown. "
                          "An editor or an admin enrols them; then identify clips here."))
            return
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
        # imported here: the demo needs speakerid_ui.resources, which imports this module
        from speakerid_ui.demo import demo_offer

        demo_offer(where)


def explain_missing_model(problem: str | None) -> NoReturn:
    """How to get a speaker model (none is installed), ``problem`` in the details; stops the page."""
    st.warning("**No speaker model is installed yet.** Identification needs a trained model.",
               icon=":material/model_training:")
    st.markdown(
        "- Train one on the **Train** page (a folder of recordings, one folder per speaker), "
        "then press *Make this model active*;\n"
        "- or copy a trained model folder (`config.json` + `encoder.weights.h5`) to "
        "`weights/` in the project, or point the `SPEAKERID_WEIGHTS` environment variable at it.")
    if may(ADMIN):  # the Train page is an admin's
        st.page_link(PAGES["train"], label="Go to the Train page", icon=":material/arrow_forward:")
    else:
        st.caption(_("Installing or training a model is for admins: ask one."))
    with st.expander("Details"):
        st.code(problem or "", language=None)
    st.stop()
