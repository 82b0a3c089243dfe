"""Figures for the app and reports: waveforms and spectrograms, too dense for the browser to draw,
and the timeline as the evidence report prints it.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, so
figures can be drawn from several threads); the caller shows, saves or closes it. The app's charts
with names in them are drawn by the browser instead (:mod:`speakerid.app.charts`), in the reader's
own fonts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import ScalarFormatter

from ..i18n import _
from ..numerals import digits
from ..paths import ASSETS
from ..results import Span
from ..voice_labels import shown_voice
from .charts import ACCENT, INK, MUTED, PALETTE, REMOVED, SILENCE, UNKNOWN, speaker_colors, timeline_lanes

if TYPE_CHECKING:
    from ..preprocess import Prepared
    from ..results import Timeline

MAX_COLUMNS = 2000  # a waveform is drawn as at most this many min/max columns
# DejaVu Sans (matplotlib's own) has no Devanagari: a name such as "पुष्पकमल दाहाल" drew as boxes,
# with a "Glyph ... missing" warning per letter. Matplotlib falls back along font.family's list.
DEVANAGARI_FONT = ASSETS / "fonts" / "NotoSansDevanagari-Regular.ttf"


def _use_bundled_fonts() -> None:
    """Latin from DejaVu Sans, Devanagari from the shipped Noto Sans Devanagari (SIL OFL)."""
    font_manager.fontManager.addfont(str(DEVANAGARI_FONT))
    family = font_manager.FontProperties(fname=DEVANAGARI_FONT).get_name()
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]


_use_bundled_fonts()


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs: Any):
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    for ax in axes.flat:
        _style(ax)
    return fig, axes


class _LanguageDigits(ScalarFormatter):
    """Matplotlib's tick numbers in the reader's digits (Devanagari in Nepali)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return digits(super().__call__(x, pos))


def _style(ax) -> None:
    ax.xaxis.set_major_formatter(_LanguageDigits())
    ax.yaxis.set_major_formatter(_LanguageDigits())
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(MUTED)
    ax.tick_params(colors=INK, labelsize=8)
    ax.title.set_color(INK)
    ax.xaxis.label.set_color(INK)
    ax.yaxis.label.set_color(INK)


def envelope(signal: np.ndarray, sample_rate: int, columns: int = MAX_COLUMNS
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, minima, maxima) of ``signal`` in at most ``columns`` columns: what a plot can show."""
    signal = np.asarray(signal, dtype=np.float32).reshape(-1)
    if len(signal) == 0:
        return np.zeros(1), np.zeros(1), np.zeros(1)
    step = max(1, int(np.ceil(len(signal) / columns)))
    count = int(np.ceil(len(signal) / step))
    padded = np.pad(signal, (0, count * step - len(signal)), mode="edge").reshape(count, step)
    times = (np.arange(count) * step + step / 2) / sample_rate
    return times, padded.min(axis=1), padded.max(axis=1)


def removed_spans(kept: Sequence[Span] | None, duration_s: float) -> list[Span]:
    """The complement of ``kept`` within [0, duration_s]: what a cutting stage threw away."""
    if kept is None:
        return []
    removed, cursor = [], 0.0
    for start, end in sorted(kept):
        if start > cursor + 1e-6:
            removed.append((cursor, min(start, duration_s)))
        cursor = max(cursor, end)
    if cursor < duration_s - 1e-6:
        removed.append((cursor, duration_s))
    return [(a, b) for a, b in removed if b > a]


def _draw_waveform(ax, signal: np.ndarray, sample_rate: int, color: str = ACCENT,
                   offset_s: float = 0.0) -> None:
    times, low, high = envelope(signal, sample_rate)
    ax.fill_between(times + offset_s, low, high, color=color, linewidth=0.4, alpha=0.9)
    ax.set_ylim(-1.05, 1.05)
    ax.set_yticks([-1, 0, 1])
    ax.margins(x=0)
    ax.set_ylabel(_("amplitude"), fontsize=8)


def _shade(ax, spans: Sequence[Span], color: str, offset_s: float = 0.0) -> None:
    for start, end in spans:
        ax.axvspan(start + offset_s, end + offset_s, color=color, alpha=0.18, linewidth=0)


def waveform(signal: np.ndarray, sample_rate: int, kept: Sequence[Span] | None = None,
             title: str | None = None, removed_label: str | None = None,
             removed_color: str = REMOVED) -> Figure:
    """A waveform; spans outside ``kept`` (when given) are shaded as removed (``removed_label``,
    "removed" unless told)."""
    fig, axes = _figure(9, 2.0)
    ax = axes[0, 0]
    duration = len(signal) / sample_rate
    _draw_waveform(ax, signal, sample_rate)
    removed = removed_spans(kept, duration)
    _shade(ax, removed, removed_color)
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_xlabel(_("time (s)"), fontsize=8)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    if removed:
        ax.legend(handles=[Patch(color=removed_color, alpha=0.3, label=removed_label or _("removed"))],
                  loc="upper right", fontsize=8, frameon=False)
    return fig


def pipeline_waveforms(prepared: Prepared) -> Figure:
    """Three rows: the input with trimmed parts shaded, the trimmed audio with silence shaded, the
    speech the encoder hears; each titled with its duration."""
    resampled = prepared.stage("resample")
    trimmed = prepared.stage("trim")
    silence = prepared.stage("silence")
    final = prepared.stages[-1]
    fig, axes = _figure(9, 5.4, rows=3)
    rows = [
        (resampled, trimmed.kept, _("trimmed (intro/outro of a long recording)"), REMOVED,
         _("1 · input, mono at {rate} Hz: {seconds:.1f} s").format(rate=resampled.sample_rate,
                                                                   seconds=resampled.duration_s)),
        (trimmed, silence.kept, _("silence / noise removed"), SILENCE,
         _("2 · after trimming: {seconds:.1f} s").format(seconds=trimmed.duration_s)),
        (final, None, "", ACCENT,
         _("3 · speech sent to the encoder (loudness-normalised): {seconds:.1f} s").format(
             seconds=final.duration_s)),
    ]  # titles and legends without names: their digits may all be the reader's

    for ax, (stage, kept, label, color, title) in zip(axes[:, 0], rows):
        duration = stage.duration_s
        _draw_waveform(ax, stage.signal, stage.sample_rate, color=INK if kept is not None else ACCENT)
        removed = removed_spans(kept, duration)
        _shade(ax, removed, color)
        ax.set_xlim(0, max(duration, 1e-3))
        ax.set_title(digits(title), fontsize=10, loc="left")
        if removed:
            seconds = sum(b - a for a, b in removed)
            ax.legend(handles=[Patch(color=color, alpha=0.3, label=digits(_("{what}: {seconds:.1f} s").format(
                what=label, seconds=seconds)))],
                      loc="upper right", fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel(_("time (s)"), fontsize=8)
    return fig


def spectrogram(features: np.ndarray, frames_per_second: float,
                windows: Sequence[Span] | None = None, title: str | None = None) -> Figure:
    """Log-mel spectrogram (frames, n_mels) with the encoder's windows marked above it."""
    features = np.asarray(features)
    fig, axes = _figure(9, 2.8)
    ax = axes[0, 0]
    duration = features.shape[0] / frames_per_second
    image = ax.imshow(features.T, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, max(duration, 1e-3), 0, features.shape[1]), interpolation="nearest")
    cbar = fig.colorbar(image, ax=ax, pad=0.01)
    cbar.set_label(_("log power"), fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    cbar.ax.yaxis.set_major_formatter(_LanguageDigits())
    ax.set_ylabel(_("mel band"), fontsize=8)
    ax.set_xlabel(_("speech time (s)"), fontsize=8)
    if windows:
        top = features.shape[1]
        for index, (start, end) in enumerate(windows):
            level = top * (1.02 + 0.04 * (index % 2))
            ax.plot([start, end], [level, level], color=PALETTE[index % len(PALETTE)], linewidth=3,
                    solid_capstyle="butt", clip_on=False)
        ax.set_ylim(0, top)
    if title:
        ax.set_title(title, fontsize=10, loc="left", pad=14 if windows else 6)
    return fig


def timeline(result: Timeline, title: str | None = None, left_out: Sequence[Span] = ()) -> Figure:
    """Who speaks when: one lane per speaker, then per found voice (unknown last), segments as bars
    on the clip's time; ``left_out``: parts of the clip left out when asked, shaded."""
    lanes = timeline_lanes(result)
    colors = speaker_colors(lanes)
    fig, axes = _figure(9, 0.5 * max(len(lanes), 1) + 1.2)
    ax = axes[0, 0]
    for row, lane in enumerate(lanes):
        spans = [(s.start_s, s.end_s - s.start_s) for s in result.segments if s.label == lane]
        ax.broken_barh(spans, (row - 0.35, 0.7), facecolors=colors[lane])
    ax.set_yticks(range(len(lanes)),
                  [shown_voice(lane) if lane is not None else _("unknown") for lane in lanes], fontsize=9)
    ax.set_ylim(-0.6, max(len(lanes), 1) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(0, max(result.duration_s, 1e-3))
    ax.set_xlabel(_("time in the clip (s)"), fontsize=8)
    ax.grid(axis="x", color=MUTED, alpha=0.2)
    _shade(ax, left_out, UNKNOWN)
    if left_out:
        ax.legend(handles=[Patch(color=UNKNOWN, alpha=0.3, label=_("left out, as asked"))],
                  loc="upper right", fontsize=8, frameon=False)
    if not lanes:
        ax.text(0.5, 0.5, _("no speech found"), ha="center", va="center", color=MUTED,
                transform=ax.transAxes)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    return fig
