"""Charts the browser draws: Vega-Lite specs (plain dicts) built from results, for
``st.vega_lite_chart``.

Names are data here, not pixels: the reader's browser lays them out in its own fonts, so a speaker
enrolled as "पुष्पकमल दाहाल" reads as typed, and the charts answer hover (a segment's times and
probability) and zoom (scroll on the time axis; double-click resets). Nothing here needs Streamlit
or matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..i18n import N_, _
from ..numerals import digits
from ..voice_labels import shown_voice

if TYPE_CHECKING:
    from ..results import Span, Timeline

Spec = dict[str, Any]

INK = "#1f2933"
MUTED = "#7b8794"
ACCENT = "#2563eb"
MATCH = "#16a34a"
REMOVED = "#ef4444"
SILENCE = "#f59e0b"
UNKNOWN = "#9aa5b1"
PALETTE = ["#2563eb", "#16a34a", "#db2777", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#4d7c0f",
           "#be123c", "#0f766e"]
UNKNOWN_LABEL = N_("unknown")  # the timeline's words are shown through _ (the reader's language)
LEFT_OUT_LABEL = N_("left out, as asked")
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # what Streamlit 1.67 draws
# text at 12-14 px: the browser draws it at that size whatever the chart's width
CONFIG = {"axis": {"labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal"},
          "legend": {"labelFontSize": 12, "titleFontSize": 12}, "title": {"fontSize": 14}}


def config() -> dict[str, Any]:
    """:data:`CONFIG`, with the reader's digits for the numbers the browser formats (axes and
    tooltips: d3-format's ``numerals``); names are text and keep their own digits."""
    numerals = list(digits("0123456789"))
    if numerals == list("0123456789"):
        return CONFIG
    return {**CONFIG, "locale": {"number": {"decimal": ".", "thousands": ",", "grouping": [3],
                                            "currency": ["", ""], "numerals": numerals}}}


# drag to pan, scroll to zoom, double-click to reset: on the time (x) axis only
ZOOM = {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}


def speaker_colors(names: Sequence[str | None]) -> dict[str | None, str]:
    """A stable colour per speaker name (sorted), grey for the unknown speaker (None)."""
    known = sorted({n for n in names if n is not None}, key=str.casefold)
    colors: dict[str | None, str] = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(known)}
    colors[None] = UNKNOWN
    return colors


def timeline_lanes(result: Timeline) -> list[str | None]:
    """The timeline's rows: enrolled speakers (sorted), then found voices, then unknown (None)."""
    names = sorted({s.speaker for s in result.segments if s.speaker is not None}, key=str.casefold)
    names += list(dict.fromkeys(s.voice for s in result.segments if s.voice is not None))
    return [*names, None] if any(s.label is None for s in result.segments) else names


def timeline(result: Timeline, title: str | None = None, left_out: Sequence[Span] = ()) -> Spec:
    """Who speaks when: one row per speaker, segments as bars on the clip's time; hovering a bar
    gives its speaker, times and probability. ``left_out``: parts of the clip left out when asked,
    shaded."""
    lanes = timeline_lanes(result)
    colors = speaker_colors(lanes)
    labels = [_lane_label(lane) for lane in lanes]
    rows = [{"speaker": _lane_label(s.label), "start_s": round(s.start_s, 2),
             "end_s": round(s.end_s, 2), "seconds": round(s.duration_s, 1),
             "probability": round(s.probability, 3)} for s in result.segments]
    duration = max(result.duration_s, 1e-3)
    spec: Spec = {
        "$schema": SCHEMA,
        "data": {"values": rows},
        "height": {"step": 32},
        "params": [ZOOM],
        "mark": {"type": "bar", "clip": True, "cornerRadius": 2},
        "encoding": {
            "x": {"field": "start_s", "type": "quantitative", "title": _("time in the clip (s)"),
                  "scale": {"domain": [0, duration], "nice": False}},
            "x2": {"field": "end_s"},
            "y": {"field": "speaker", "type": "nominal", "sort": labels, "title": None,
                  "axis": {"labelLimit": 260}},
            "color": {"field": "speaker", "type": "nominal", "legend": None,
                      "scale": {"domain": labels, "range": [colors[lane] for lane in lanes]}},
            "tooltip": [
                {"field": "speaker", "type": "nominal", "title": _("speaker")},
                {"field": "start_s", "type": "quantitative", "title": _("from (s)"), "format": ".1f"},
                {"field": "end_s", "type": "quantitative", "title": _("to (s)"), "format": ".1f"},
                {"field": "seconds", "type": "quantitative", "title": _("length (s)")},
                {"field": "probability", "type": "quantitative", "title": _("probability"), "format": ".0%"},
            ],
        },
        "config": config(),
    }
    if not rows:
        spec["height"] = 60
        spec["mark"] = {"type": "text", "color": MUTED, "fontSize": 13}
        spec["data"] = {"values": [{"text": _("no speech found")}]}
        spec["encoding"] = {"text": {"field": "text"}}
    elif left_out:
        bars = {key: spec.pop(key) for key in ("data", "mark", "encoding", "params")}
        shade = {"data": {"values": [{"from_s": round(start, 2), "to_s": round(end, 2),
                                      "label": _(LEFT_OUT_LABEL)} for start, end in left_out]},
                 "mark": {"type": "rect", "color": UNKNOWN, "opacity": 0.3, "clip": True},
                 "encoding": {"x": {"field": "from_s", "type": "quantitative"}, "x2": {"field": "to_s"},
                              "tooltip": [{"field": "label", "type": "nominal", "title": _("shaded")},
                                          {"field": "from_s", "type": "quantitative", "title": _("from (s)")},
                                          {"field": "to_s", "type": "quantitative", "title": _("to (s)")}]}}
        spec["layer"] = [shade, bars]
    return _titled(spec, title)


def training_curves(history: Sequence[dict[str, float]]) -> list[Spec]:
    """Per epoch, one chart each: the loss, the mean same/different-speaker distance (the
    reference's "epoch vs distance" plot) and, when recorded, the validation equal-error rate."""
    charts = [
        _lines(history, "epoch", {"loss": ("loss", ACCENT)}, "training loss", "loss"),
        _lines(history, "epoch", {"same_distance": ("same speaker", MATCH),
                                  "different_distance": ("different speakers", REMOVED)},
               "mean distance on validation pairs", "distance"),
    ]
    if any("eer" in row for row in history):
        charts.append(_lines(history, "epoch", {"eer": ("EER", INK)}, "validation EER (%)",
                             "EER (%)", scale=100.0))
    return charts


def precision_recall(points: Sequence[dict[str, float]], threshold: float | None = None) -> Spec:
    """Precision and recall of "same speaker" decisions against the threshold on the score."""
    rows = [p for p in points if {"threshold", "precision", "recall"} <= p.keys()]
    spec = _lines(rows, "threshold", {"precision": ("precision", ACCENT), "recall": ("recall", MATCH)},
                  "precision / recall vs threshold (held-out speakers)", "rate", point=False)
    spec["encoding"]["x"]["title"] = "decision threshold on the score"
    if threshold is None:
        return spec
    lines = {key: spec.pop(key) for key in ("data", "mark", "encoding", "params")}
    rule = {"data": {"values": [{"threshold": threshold, "label": f"threshold {threshold:.2f}"}]},
            "mark": {"type": "rule", "color": INK, "strokeDash": [4, 3]},
            "encoding": {"x": {"field": "threshold", "type": "quantitative"},
                         "tooltip": [{"field": "label", "type": "nominal"}]}}
    spec["layer"] = [lines, rule]
    return spec


def _lines(rows: Sequence[dict[str, float]], x: str, series: dict[str, tuple[str, str]], title: str,
           y_title: str, scale: float = 1.0, point: bool = True) -> Spec:
    """One line per key of ``series`` (key: (label, colour)) over ``x``, from the rows that have it."""
    values = [{x: row[x] if x in row else index + 1, "series": label, "value": row[key] * scale}
              for key, (label, _colour) in series.items()
              for index, row in enumerate(rows) if key in row]
    labels = [label for label, _colour in series.values()]
    spec: Spec = {
        "$schema": SCHEMA,
        "data": {"values": values},
        "height": 220,
        "params": [ZOOM],
        "mark": {"type": "line", "point": point, "clip": True},
        "encoding": {
            "x": {"field": x, "type": "quantitative", "title": x},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": labels, "range": [color for _label, color in series.values()]},
                      "legend": {"orient": "bottom"} if len(series) > 1 else None},
            "tooltip": [{"field": x, "type": "quantitative"}, {"field": "series", "type": "nominal"},
                        {"field": "value", "type": "quantitative", "format": ".3f"}],
        },
        "config": config(),
    }
    return _titled(spec, title)


def _lane_label(lane: str | None) -> str:
    return shown_voice(lane) if lane is not None else _(UNKNOWN_LABEL)


def _titled(spec: Spec, title: str | None) -> Spec:
    if title:
        spec["title"] = {"text": title, "anchor": "start"}
    return spec
