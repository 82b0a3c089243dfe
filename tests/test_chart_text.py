"""Charts drawn as wide as the place the page shows them, so that no text is under 11 px there."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

from speakerid.app import plots
from speakerid_ui.widgets import FULL_WIDTH_PX, LEFT_COLUMN_PX, MIN_TEXT_PX, readable


def smallest_text_px(fig, shown_px: int) -> float:
    """The smallest visible text's height in screen pixels, the PNG Streamlit makes (200 dpi, tight)
    scaled to ``shown_px`` as the page does."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=200, bbox_inches="tight")
    scale = shown_px / Image.open(png).width
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    return min(sizes) * 200 / 72 * scale


def spectrogram():
    return plots.spectrogram(np.random.default_rng(0).normal(size=(300, 80)), 100.0, [(0.0, 3.0)],
                             title="log-mel spectrogram")


def waveform():
    return plots.waveform(np.random.default_rng(0).uniform(-1, 1, 16_000), 16_000, kept=[(0.2, 0.8)],
                          title="speech")


@pytest.mark.parametrize("chart, shown_px", [(spectrogram, LEFT_COLUMN_PX), (spectrogram, FULL_WIDTH_PX),
                                             (waveform, FULL_WIDTH_PX)])
def test_no_chart_text_under_11_px(chart, shown_px):
    fig = chart()
    assert smallest_text_px(fig, shown_px) < MIN_TEXT_PX  # the 9-inch charts with 7-8 point text
    height = fig.get_figheight()
    readable(fig, shown_px)
    assert fig.get_figwidth() == pytest.approx(shown_px / 100) and fig.get_figheight() == height
    assert smallest_text_px(fig, shown_px) >= MIN_TEXT_PX


def test_tick_numbers_are_in_the_readers_digits():
    """In Nepali the axes count in Devanagari digits (the bundled font draws them), in English as
    matplotlib writes them."""
    from speakerid.i18n import in_language

    def tick_labels(fig) -> list[str]:
        fig.canvas.draw()
        return [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()
                if t.get_text()]

    with in_language("ne"):
        nepali = tick_labels(spectrogram())
    english = tick_labels(spectrogram())
    assert nepali and all(not any(c.isascii() and c.isdigit() for c in label) for label in nepali), nepali
    assert "०.०" in nepali or "०" in nepali
    assert any(c.isdigit() and c.isascii() for label in english for c in label)


def test_the_browser_formats_chart_numbers_in_the_readers_digits():
    """Vega-Lite's axes and tooltips format numbers with d3-format, told the Nepali numerals."""
    from speakerid.app import charts
    from speakerid.i18n import in_language

    assert "locale" not in charts.config()
    with in_language("ne"):
        numerals = charts.config()["locale"]["number"]["numerals"]
    assert numerals == list("०१२३४५६७८९")
