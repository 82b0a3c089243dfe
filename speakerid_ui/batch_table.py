"""The Identify page's table of several clips: each column of one type (pyarrow refuses a column
that mixes text and numbers, and the server logged its traceback), the problem readable in full."""

from __future__ import annotations

from typing import Any

import streamlit as st

from speakerid import verdict
from speakerid.i18n import _
from speakerid_ui.formatting import compact_duration, without_name

# Taller than 4rem (64 px): Streamlit's table then wraps long text instead of cutting it.
WRAPPED_ROW_HEIGHT = 72
# Widths in px that fit the page at 1280 px (820 px), the problem widest: three wrapped lines of it.
def columns() -> dict[str, Any]:
    """The columns' headings and tooltips in the page's language."""
    return {
        "clip": st.column_config.TextColumn(_("clip"), width=170),
        "verdict": st.column_config.TextColumn(_("verdict"), width=130),
        "probability": st.column_config.TextColumn(_("probability"), width=85),
        "speech": st.column_config.TextColumn(_("speech"), width=65, help=_("Speech kept (m:ss)")),
        "segments": st.column_config.TextColumn(_("segments"), width=75,
                                                help=_("Segments of who speaks when (long clips)")),
        "problem": st.column_config.TextColumn(_("problem"), width=270,
                                               help=_("Why the clip could not be identified")),
    }


def batch_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The table's rows from the report's, every cell text: blank where there is nothing to say
    (a null number would show "None")."""
    return [{"clip": str(row["input"]), "verdict": str(row["verdict"]),
             "probability": "" if row["probability"] is None else verdict.percent(row["probability"]),
             "speech": "" if row["speech_s"] is None else compact_duration(row["speech_s"]),
             "segments": "" if row["segments"] is None else str(len(row["segments"])),
             "problem": without_name(row["error"] or "", str(row["input"]))} for row in rows]


def show_batch_table(rows: list[dict[str, Any]]) -> None:
    """The table, its long problems wrapped over several lines."""
    table = batch_rows(rows)
    st.dataframe(table, hide_index=True, width="stretch", key="batch_table", column_config=columns(),
                 row_height=WRAPPED_ROW_HEIGHT if any(row["problem"] for row in table) else None)
