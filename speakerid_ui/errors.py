"""Problems said to the user in a sentence, instead of a stack trace."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.i18n import _, ngettext
from speakerid_ui.formatting import md


def gallery_failed(problem: SpeakerIDError) -> NoReturn:
    """Say why the gallery cannot be opened and stop the page."""
    st.error(_("The gallery cannot be opened: {problem}").format(problem=problem), icon=":material/error:")
    st.stop()


def refusals_note(refused: list[SpeakerIDError]) -> str:
    """Markdown: the clips a new model refused, kept in the gallery but unused until one accepts them."""
    lines = "\n".join(f"- {md(str(error))}" for error in refused)
    return ngettext("**{count} clip was kept but not re-enrolled**: the current model's audio pipeline "
                    "refuses it, so it does not count until a model accepts it.",
                    "**{count} clip(s) were kept but not re-enrolled**: the current model's audio "
                    "pipeline refuses them, so they do not count until a model accepts them.",
                    len(refused)).format(count=len(refused)) + f"\n\n{lines}"
