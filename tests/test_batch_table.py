"""The Identify page's table of several clips: one type per column, so pyarrow takes it whole."""

from __future__ import annotations

import pyarrow as pa

from speakerid.app.batch import REPORT_COLUMNS
from speakerid_ui.batch_table import batch_rows
from speakerid_ui.formatting import compact_duration


def report_row(**values) -> dict:
    return {**dict.fromkeys(REPORT_COLUMNS), **values}


ROWS = [
    report_row(input="long.wav", verdict="Asha", probability=0.97, speech_s=312.0,
               segments=[{"start_s": 0.0, "end_s": 3.0}, {"start_s": 3.0, "end_s": 6.0}]),
    report_row(input="short.wav", verdict="unknown", probability=0.2, speech_s=8.5),  # no timeline
    report_row(input="bad.mp3", verdict="error", error="bad.mp3: the file holds no audio the app can "
                                                       "decode (it may be damaged or not a sound file)"),
]


def test_every_column_has_one_type():
    table = batch_rows(ROWS)
    for column in table[0]:
        assert {type(row[column]) for row in table} == {str}, column
    assert [row["segments"] for row in table] == ["2", "", ""]
    pa.Table.from_pylist(table)  # what st.dataframe's conversion refused when "" met numbers


def test_the_problem_without_the_clip_name_and_durations_short():
    table = batch_rows(ROWS)
    assert table[2]["problem"].startswith("the file holds no audio")
    assert [row["speech"] for row in table] == ["5:12", "8.5 s", ""]


def test_compact_durations_fit_a_metric_card():
    shown = [compact_duration(s) for s in (12.34, 65.0, 312.9, 3725.0)]
    assert shown == ["12.3 s", "1:05", "5:12", "1:02:05"]
