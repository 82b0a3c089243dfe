"""The Gallery page's History: every change to the gallery, newest first, with who made it and
when, and an Undo button on each change that stands (for people who may edit the gallery)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.i18n import _
from speakerid_ui.formatting import md

if TYPE_CHECKING:
    from speakerid.gallery import Gallery
    from speakerid.gallery.history import Change

PAGE_SIZE = 50  # changes shown at first, and added by each "Show older changes"
SHOWN_KEY = "history_shown"


def history_view(gallery: Gallery, may_undo: bool, done: Callable[[str], None]) -> None:
    """The changes as a table, a row each; ``done(message)`` redraws the page after an undo."""
    shown = st.session_state.setdefault(SHOWN_KEY, PAGE_SIZE)
    changes = gallery.history(shown + 1)  # one more: whether older ones exist
    if not changes:
        st.caption(_("No changes yet. Every enrolment, edit, removal, import, calibration and re-enrolment "
                     "will be listed here, with who made it and when, and can be undone."))
        return
    st.caption(_("Every change to the gallery, newest first. Undoing a change is a change of its own: "
                 "it is listed too, and can be undone in turn."))
    widths = [3, 2, 6, 2] if may_undo else [3, 2, 8]
    header = st.columns(widths)
    for column, title in zip(header, [_("When"), _("Who"), _("What")]):
        column.markdown(f"**{title}**")
    for change in changes[:shown]:
        change_row(gallery, change, widths, may_undo, done)
    if len(changes) > shown and st.button(_("Show older changes"), key="history_more"):
        st.session_state[SHOWN_KEY] = shown + PAGE_SIZE
        st.rerun()


def change_row(gallery: Gallery, change: Change, widths: list[int], may_undo: bool,
               done: Callable[[str], None]) -> None:
    cells = st.columns(widths, vertical_alignment="center")
    cells[0].caption(change.when)
    cells[1].markdown(md(change.user))
    cells[2].markdown(md(change.what) + (" — " + _("undone by change {id}").format(id=change.undone_by)
                                         if change.undone_by else ""))
    if not may_undo or change.undone_by:
        return
    if cells[3].button(_("Undo"), key=f"history_undo_{change.id}", icon=":material/undo:",
                       help=_("Undo change {id}").format(id=change.id)):
        try:
            gallery.undo(change.id)
        except SpeakerIDError as exc:
            st.error(str(exc), icon=":material/block:")
        else:
            done(_("Undid change {id}: {what}.").format(id=change.id, what=md(change.what)))
