"""Who speaks when in a long clip: identification of short overlapping windows of the speech.

The prepared speech (silence removed, long recordings trimmed) is cut into windows of ``window_s``
every ``hop_s``; each window is embedded and identified against the gallery. Each window then owns
the stretch of speech around its centre (up to the middle of its overlap with its neighbours),
an isolated window that disagrees with two agreeing neighbours takes their label, consecutive
windows with the same label are merged, and the result is mapped back to the time of the original
clip, where pauses shorter than ``merge_gap_s`` inside one speaker's turn are bridged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import SpeakerIDError
from .i18n import _
from .results import Progress, Segment, Span, Timeline, WindowResult
from .scoring import unit

if TYPE_CHECKING:
    from .identifier import Identifier as Gallery  # any gallery: see speakerid.identifier
    from .models.base import SpeakerModel as Encoder
    from .preprocess import Prepared

TIMELINE_MIN_DURATION_S = 20.0  # the app shows a timeline for clips at least this long
WINDOW_S = 3.0
HOP_S = 1.5
MERGE_GAP_S = 2.0
BATCH = 32


class TimeMap:
    """Maps positions in the prepared speech back to the original clip.

    The speech is the concatenation of the spans the silence stage kept, on the timeline of the
    trim stage's output, which itself starts where the trim stage's kept span starts.
    """

    def __init__(self, pieces: Sequence[Span], offset_s: float = 0.0) -> None:
        self.pieces = [(float(a), float(b)) for a, b in pieces if b > a]
        self.offset_s = float(offset_s)
        lengths = np.array([b - a for a, b in self.pieces], dtype=np.float64)
        self.starts = np.concatenate([[0.0], np.cumsum(lengths)])  # speech time of each piece
        self.speech_s = float(self.starts[-1])

    @classmethod
    def from_prepared(cls, prepared: Prepared) -> TimeMap:
        offset = 0.0
        pieces: list[Span] | None = None
        for stage in prepared.stages:
            if stage.name == "trim" and stage.kept:
                offset = stage.kept[0][0]
            elif stage.name == "silence" and stage.kept is not None:
                pieces = list(stage.kept)
        if pieces is None:  # no silence stage: the speech is the trimmed signal itself
            pieces = [(0.0, prepared.speech_s)]
        return cls(pieces, offset)

    def to_original(self, t: float) -> float:
        """The original time of speech position ``t`` (the end of a piece maps to its end)."""
        if not self.pieces:
            return self.offset_s
        t = min(max(t, 0.0), self.speech_s)
        index = int(np.searchsorted(self.starts, t, side="right")) - 1
        index = min(max(index, 0), len(self.pieces) - 1)
        start, end = self.pieces[index]
        return self.offset_s + min(start + (t - self.starts[index]), end)

    def original_spans(self, a: float, b: float) -> list[Span]:
        """The parts of the original clip that speech positions [a, b] come from (split at gaps)."""
        spans = []
        for (start, end), s0 in zip(self.pieces, self.starts[:-1]):
            s1 = s0 + (end - start)
            lo, hi = max(a, s0), min(b, s1)
            if hi > lo + 1e-9:
                spans.append((self.offset_s + start + (lo - s0), self.offset_s + start + (hi - s0)))
        return spans


def identify_timeline(prepared: Prepared, encoder: Encoder, gallery: Gallery,
                      window_s: float = WINDOW_S, hop_s: float = HOP_S,
                      merge_gap_s: float = MERGE_GAP_S, smooth: bool = True,
                      progress: Progress | None = None, original_duration_s: float | None = None
                      ) -> Timeline:
    """Windowed identification of a prepared clip against ``gallery``: who speaks when.

    Args:
        prepared: the clip as :meth:`SpeakerModel.prepare <speakerid.models.base.SpeakerModel.prepare>`
            left it (its stages map speech time back to the clip).
        encoder: the model that prepared it, the gallery's.
        gallery: the gallery (any :class:`~speakerid.identifier.Identifier`) to identify against.
        window_s, hop_s: the windows identified, and how far apart they start.
        merge_gap_s: pauses this short inside one speaker's turn are bridged.
        smooth: an isolated window that disagrees with two agreeing neighbours takes their label.
        progress: called as ``progress(done, total)`` after each batch of windows.
        original_duration_s: the clip's length, when ``prepared`` does not start with it.

    Returns:
        The segments on the clip's time, the windows' verdicts and what
        :func:`speakerid.voices.find_voices` needs to label them again.

    Raises:
        SpeakerIDError: a window or hop that is not positive, or the gallery's vectors come from
            another model.
    """
    features = encoder.features(prepared)
    duration = original_duration_s if original_duration_s is not None else prepared.stages[0].duration_s
    return timeline_of_features(lambda start, count: features[start:start + count], features.shape[0],
                                TimeMap.from_prepared(prepared), duration, prepared.speech_s, encoder,
                                gallery, window_s, hop_s, merge_gap_s, smooth, progress)


def timeline_of_features(read: Callable[[int, int], np.ndarray], frame_count: int, time_map: TimeMap,
                         duration_s: float, speech_s: float, encoder: Encoder, gallery: Gallery,
                         window_s: float = WINDOW_S, hop_s: float = HOP_S,
                         merge_gap_s: float = MERGE_GAP_S, smooth: bool = True,
                         progress: Progress | None = None, batch: int = BATCH) -> Timeline:
    """:func:`identify_timeline` from features read a batch of windows at a time:
    ``read(start, count)`` gives frames ``start`` to ``start + count`` of the prepared speech
    (a long recording's come from disk, see :mod:`speakerid.longform`); ``batch`` windows are
    embedded at once."""
    from .features import frames_per_second, window_starts  # TensorFlow: not for the constants above

    if window_s <= 0 or hop_s <= 0:
        raise SpeakerIDError(_("the timeline's window and hop must be positive"))
    rate = frames_per_second(encoder.pipeline)
    size = max(1, int(round(window_s * rate)))
    hop = max(1, int(round(hop_s * rate)))
    starts = window_starts(frame_count, size, hop)
    windows: list[WindowResult] = []
    embeddings: list[np.ndarray] = []  # kept for the voices nobody enrolled (speakerid.voices)
    threshold = encoder.calibration.for_duration(window_s).threshold
    for first in range(0, len(starts), batch):
        group = starts[first:first + batch]
        vectors = encoder.embed_windows(np.stack([read(s, size) for s in group]))
        if encoder.model_config.metric == "cosine":
            vectors = unit(vectors)
        embeddings.append(vectors)
        for start, vector in zip(group, vectors):
            span = (start / rate, min(start + size, frame_count) / rate)
            found = gallery.identify_embedding(vector, top_k=1, speech_s=span[1] - span[0])
            threshold = found.threshold
            best = found.best
            windows.append(WindowResult(*span, found.speaker, best.name if best else None,
                                        best.score if best else float("nan"),
                                        best.probability if best else 0.0))
        if progress:
            progress(min(first + batch, len(starts)), len(starts))
    segments = build_segments(windows, time_map, merge_gap_s, smooth)
    return Timeline(segments, windows, threshold, duration_s, speech_s,
                    np.concatenate(embeddings) if embeddings else None, time_map)


def smooth_labels(labels: Sequence[str | None]) -> list[str | None]:
    """An isolated window whose two neighbours agree with each other takes their label."""
    result = list(labels)
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            result[i] = labels[i - 1]
    return result


def window_bounds(windows: Sequence[WindowResult], time_map: TimeMap) -> list[float]:
    """Where each window's stretch of speech begins, and the end of the last (speech time): each
    window owns the speech from the middle of its overlap with the previous window to the middle
    of its overlap with the next one."""
    bounds = [0.0] + [(windows[i].end_s + windows[i + 1].start_s) / 2 for i in range(len(windows) - 1)]
    bounds.append(max(windows[-1].end_s, time_map.speech_s))
    return bounds


def build_segments(windows: Sequence[WindowResult], time_map: TimeMap,
                   merge_gap_s: float = MERGE_GAP_S, smooth: bool = True,
                   labels: Sequence[str | None] | None = None,
                   bounds: Sequence[float] | None = None) -> list[Segment]:
    """Merge labelled windows into segments on the original clip's time (see the module doc).

    ``labels`` (default: each window's verdict) and ``bounds`` (default: :func:`window_bounds`)
    let :mod:`speakerid.voices` merge windows it has labelled again, with refined turn edges."""
    if not windows:
        return []
    labels = [w.speaker for w in windows] if labels is None else list(labels)
    if smooth:
        labels = smooth_labels(labels)
    bounds = window_bounds(windows, time_map) if bounds is None else list(bounds)
    runs: list[tuple[float, float, str | None, list[WindowResult]]] = []
    for i, (window, label) in enumerate(zip(windows, labels)):
        a, b = bounds[i], max(bounds[i + 1], bounds[i])
        if runs and runs[-1][2] == label:
            runs[-1] = (runs[-1][0], b, label, [*runs[-1][3], window])
        else:
            runs.append((a, b, label, [window]))
    segments: list[Segment] = []
    for a, b, label, members in runs:
        scores = [w.score for w in members if np.isfinite(w.score)]
        score = float(np.mean(scores)) if scores else float("nan")
        probability = float(np.mean([w.probability for w in members]))
        pieces = _bridge(time_map.original_spans(a, b), merge_gap_s)
        segments.extend(Segment(start, end, label, score, probability, len(members))
                        for start, end in pieces)
    return _merge_touching(segments)


def _bridge(spans: list[Span], gap_s: float) -> list[Span]:
    """Join spans separated by pauses of at most ``gap_s``."""
    joined: list[list[float]] = []
    for start, end in spans:
        if joined and start - joined[-1][1] <= gap_s:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    return [(a, b) for a, b in joined]


def _merge_touching(segments: list[Segment]) -> list[Segment]:
    """Segments of one speaker that meet end to start become one."""
    merged: list[Segment] = []
    for segment in segments:
        last = merged[-1] if merged else None
        if last is not None and last.speaker == segment.speaker and segment.start_s - last.end_s <= 1e-6:
            count = last.windows + segment.windows
            merged[-1] = Segment(last.start_s, segment.end_s, last.speaker,
                                 _weighted(last.score, last.windows, segment.score, segment.windows),
                                 _weighted(last.probability, last.windows, segment.probability,
                                           segment.windows), count)
        else:
            merged.append(segment)
    return merged


def _weighted(a: float, na: int, b: float, nb: int) -> float:
    return float((a * na + b * nb) / max(na + nb, 1))
