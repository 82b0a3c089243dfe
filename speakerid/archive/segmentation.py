"""A recording's turn changes re-decided from the audio on either side, after its voices were found.

:func:`speakerid.voices.find_voices` labels 3 s windows every 1.5 s, so a turn of 3-4 s owns one or
two windows and a change of voice can land a second or more inside a neighbour's speech: a window
with a third of its speech from a telephone caller and the rest from a studio voice sounds like
neither. The archive therefore cuts the speech into stretches at every pause the silence stage
found and at every change the voice finding made, embeds each stretch next to a change of voice
from its own audio (``embed``: no other speaker's speech in it), and gives it whichever voice, its
own or a neighbouring stretch's (people take turns), that embedding scores highest against. A
voice there is the mean of the windows that lie wholly in its stretches and of its stretches' own
embeddings, leaving out whatever the stretch being decided is heard in. A stretch that changes
brings its neighbours next to a change, so they are decided in turn. A change of voice thus falls
on a pause wherever the speech has one near it.

Two people whose turns of 3-4 s follow each other hold one whole window each, or none, and the
window clustering can join them into one voice with no change between them to re-decide. A short
run of one voice is therefore split at the pause where its speech before and after sound most
unlike (from its stretches' own embeddings), when the model's calibrated likelihood ratio says
two people far more surely than one; the part less like the voice's speech elsewhere becomes a new
voice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..results import Segment, Timeline
from ..scoring import unit
from ..timeline import MERGE_GAP_S, TimeMap
from ..timeline import _bridge as bridge_pauses
from ..voice_labels import voice_label

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]

MIN_STRETCH_S = 0.5  # a shorter stretch's own embedding says too little: it keeps its voice
# A stretch moves to another voice only when it scores at least this against it (AS-norm: above the
# cohort's typical score). A stretch that sounds like none of its neighbours' voices is more likely
# part of a turn the voice finding got right than a piece of the least unlike neighbour.
MOVE_SCORE = 0.0
MAX_PASSES = 4  # of deciding the stretches that a change brought next to a change
PURE_SHARE = 0.9  # a window with this share of its speech in one voice's stretches stands for it
# A run of one voice of up to MAX_SPLIT_RUN_S of speech is split at a pause when the speech on either
# side (MIN_SPLIT_SIDE_S or more each, the archive's least voice) has a calibrated likelihood ratio,
# for the shorter side's seconds, of at most 10**SPLIT_LOG10_LR (100 to 1 for two people). Longer
# turns hold windows of their own, which the window clustering tells apart. On the archive
# benchmark's development seeds (12-17), the pauses between two people scored -3.2 to 1.3 (log10
# ratio -9.4 to -2.5), those inside one person's turn 2.6 and up (-0.5 and up) with 1.5 s or more on
# each side; with a side of 1.1-1.2 s, one person's scored as low as 0.4.
MAX_SPLIT_RUN_S = 10.0
MIN_SPLIT_SIDE_S = 1.5
SPLIT_LOG10_LR = -2.0
LogLR = Callable[[float, float], "float | None"]  # (score, seconds of speech) -> calibrated log10 LR


def recut_turns(timeline: Timeline, embed: Callable[[float, float], np.ndarray], score: Scorer,
                log_lr: LogLR, merge_gap_s: float = MERGE_GAP_S) -> Timeline:
    """``timeline`` (from :func:`~speakerid.voices.find_voices`, nobody enrolled) with its turn
    changes re-decided as the module doc says; ``embed(start_s, end_s)`` gives the unit embedding
    of that stretch of the prepared speech (speech time), ``score(a, b)`` the model's scores
    between rows of ``a`` and ``b`` (AS-norm where it has a cohort: a telephone line makes any
    two callers' raw embeddings alike), ``log_lr(score, seconds)`` the calibrated log10
    likelihood ratio of one score (None: not known, nothing is split). A timeline with fewer than
    two found voices, a segment of no found voice, or no embeddings is returned unchanged."""
    time_map, embeddings = timeline.time_map, timeline.embeddings
    voices = list(dict.fromkeys(s.voice for s in timeline.segments if s.voice is not None))
    if (len(voices) < 2 or embeddings is None or not isinstance(time_map, TimeMap)
            or any(s.voice is None for s in timeline.segments)):
        return timeline
    edges = _stretch_edges(timeline, time_map)
    labels = np.array([_voice_at(timeline.segments, time_map.to_original((a + b) / 2), voices)
                       for a, b in zip(edges[:-1], edges[1:])])
    shares = _shares(timeline, edges)
    starts = [w.start_s for w in timeline.windows]
    hop_s = float(np.median(np.diff(starts))) if len(starts) > 1 else 1.0
    voices_ = _Voices(unit(np.asarray(embeddings, np.float64)), shares, labels.copy(), len(voices), hop_s,
                      np.diff(edges))
    pauses = _pauses(time_map, edges)
    labels = _decide(edges, labels, pauses, voices_, embed, score)
    labels = _split_runs(edges, labels, pauses, voices_, embed, score, log_lr)
    voices += _new_voice_names(voices, max(0, int(labels.max()) + 1 - len(voices)))
    segments = _segments(edges, labels, shares, voices, timeline.segments, time_map, merge_gap_s)
    return dataclasses.replace(timeline, segments=segments)


def _stretch_edges(timeline: Timeline, time_map: TimeMap) -> np.ndarray:
    """Speech-time edges of the stretches: every removed pause, and every change of voice."""
    starts = time_map.starts
    cuts = [t for t in (speech_time(time_map, s.start_s) for s in timeline.segments[1:])
            if np.min(np.abs(starts - t)) > 1e-3]  # a cut at a pause is that pause's edge
    return np.unique(np.concatenate([starts, np.clip(cuts, 0.0, time_map.speech_s)]))


def speech_time(time_map: TimeMap, t: float) -> float:
    """The prepared speech's position of original time ``t`` (a time inside a removed pause: the pause's)."""
    for (start, end), s0 in zip(time_map.pieces, time_map.starts[:-1]):
        if t <= time_map.offset_s + end:
            return float(s0 + max(0.0, t - time_map.offset_s - start))
    return time_map.speech_s


def _voice_at(segments: list[Segment], t: float, voices: list[str]) -> int:
    """The index of the voice whose segment holds (or, in a pause, is nearest to) original time t."""
    nearest = min(segments, key=lambda s: 0.0 if s.start_s <= t <= s.end_s else
                  min(abs(s.start_s - t), abs(s.end_s - t)))
    return voices.index(nearest.voice)


def _shares(timeline: Timeline, edges: np.ndarray) -> np.ndarray:
    """(windows, stretches): the share of each window's speech that lies in each stretch."""
    starts = np.array([w.start_s for w in timeline.windows])[:, None]
    ends = np.array([w.end_s for w in timeline.windows])[:, None]
    overlap = np.clip(np.minimum(ends, edges[None, 1:]) - np.maximum(starts, edges[None, :-1]), 0, None)
    return overlap / np.maximum(overlap.sum(axis=1, keepdims=True), 1e-9)


class _Voices:
    """The voices' mean embeddings, each without what is heard in one stretch: the windows (nearly)
    all one voice's, each standing for a hop of speech, and the stretches embedded on their own,
    each for its length."""

    def __init__(self, vectors: np.ndarray, shares: np.ndarray, labels: np.ndarray, count: int,
                 hop_s: float, lengths: np.ndarray) -> None:
        self.vectors, self.shares, self.hop_s, self.lengths = vectors, shares, hop_s, lengths
        self.count = count
        self.own: dict[int, np.ndarray] = {}
        self.own_sum = np.zeros((count, vectors.shape[1]))
        self.own_s = np.zeros(count)
        self.relabel(labels)

    def relabel(self, labels: np.ndarray) -> None:
        """Which windows are one voice's, after stretches changed voice."""
        self.labels = labels
        weight = np.stack([self.shares[:, labels == v].sum(axis=1) for v in range(self.count)], axis=1)
        self.pure = np.where(weight.max(axis=1) >= PURE_SHARE, weight.argmax(axis=1), -1)
        self.pure_sum = np.zeros_like(self.own_sum)
        np.add.at(self.pure_sum, self.pure[self.pure >= 0], self.hop_s * self.vectors[self.pure >= 0])
        self.pure_s = self.hop_s * np.bincount(self.pure[self.pure >= 0], minlength=self.count).astype(float)

    def add_own(self, k: int, vector: np.ndarray) -> None:
        self.own[k] = vector
        self.own_sum[self.labels[k]] += self.lengths[k] * vector
        self.own_s[self.labels[k]] += self.lengths[k]

    def move(self, k: int, voice: int) -> None:
        if k in self.own:
            self.own_sum[self.labels[k]] -= self.lengths[k] * self.own[k]
            self.own_sum[voice] += self.lengths[k] * self.own[k]
            self.own_s[self.labels[k]] -= self.lengths[k]
            self.own_s[voice] += self.lengths[k]
        self.labels[k] = voice

    def without(self, first: int, last: int | None = None) -> np.ndarray:
        """(voices, dim): each voice's unit mean, leaving out stretches ``first`` to ``last``
        (default: ``first`` alone) and the windows over them (a voice heard nowhere else: zeros)."""
        stretches = range(first, first + 1 if last is None else last + 1)
        total = self.pure_sum + self.own_sum
        seconds = self.pure_s + self.own_s
        over = np.flatnonzero((self.shares[:, stretches].sum(axis=1) > 0) & (self.pure >= 0))
        np.subtract.at(total, self.pure[over], self.hop_s * self.vectors[over])
        np.subtract.at(seconds, self.pure[over], self.hop_s)
        for k in stretches:
            if k in self.own:
                total[self.labels[k]] -= self.lengths[k] * self.own[k]
                seconds[self.labels[k]] -= self.lengths[k]
        total[seconds < 1e-6] = 0.0
        return unit(total)


def _decide(edges: np.ndarray, labels: np.ndarray, pauses: np.ndarray, voices: _Voices,
            embed: Callable[[float, float], np.ndarray], score: Scorer) -> np.ndarray:
    """Each stretch next to a change of voice takes the voice among its own and its neighbours'
    that its own embedding scores highest against (leaving its own audio out of the voices' means); one
    shorter than MIN_STRETCH_S, whose own embedding says little, the voice of the neighbour it is
    nearer to (across the shorter pause). Repeated for the stretches a change brought next to a
    change."""
    pending = [k for k in range(len(labels)) if _at_change(labels, k)]
    for _ in range(MAX_PASSES):
        for k in pending:  # all of them first: each is weighed against the others
            if k not in voices.own and edges[k + 1] - edges[k] >= MIN_STRETCH_S:
                voices.add_own(k, np.asarray(embed(float(edges[k]), float(edges[k + 1])), np.float64))
        changed = []
        for k in pending:
            sides = [(pauses[k][side], int(voices.labels[j])) for side, j in ((0, k - 1), (1, k + 1))
                     if 0 <= j < len(labels)]
            options = sorted({voice for _, voice in sides} | {int(voices.labels[k])})
            if len(options) == 1:
                continue
            if edges[k + 1] - edges[k] < MIN_STRETCH_S:
                best = min(sides)[1]
            else:
                means = voices.without(k)
                if not means[voices.labels[k]].any():
                    continue  # its voice is heard nowhere else: nothing to weigh it against
                options = [v for v in options if means[v].any()]
                scores = score(voices.own[k][None].astype(np.float32), means[options].astype(np.float32))[0]
                best = options[int(np.argmax(scores))]
                if scores[options.index(best)] < MOVE_SCORE:
                    continue  # like none of the voices around it: the voice finding's call stands
            if best != voices.labels[k]:
                voices.move(k, best)
                changed.append(k)
        if not changed:
            break
        voices.relabel(voices.labels)
        pending = sorted({j for k in changed for j in (k - 1, k, k + 1)
                          if 0 <= j < len(labels) and _at_change(voices.labels, j)})
    return voices.labels


def _split_runs(edges: np.ndarray, labels: np.ndarray, pauses: np.ndarray, voices: _Voices,
                embed: Callable[[float, float], np.ndarray], score: Scorer, log_lr: LogLR) -> np.ndarray:
    """``labels`` with each short run of one voice that two people share split at a pause (see
    SPLIT_LOG10_LR): the side less like its voice's speech outside the run takes a new voice
    (numbered after every voice found; the later side where the voice is heard nowhere else).
    The stretches are embedded whole, so a turn made of them needs no model run of its own."""
    result = labels.copy()
    lengths = np.diff(edges)
    new = max(int(labels.max()) + 1, voices.count)
    for first, last in _runs(labels):
        if last == first or lengths[first:last + 1].sum() > MAX_SPLIT_RUN_S:
            continue
        vectors = {k: np.asarray(embed(float(edges[k]), float(edges[k + 1])), np.float64)
                   for k in range(first, last + 1) if lengths[k] >= MIN_STRETCH_S}
        found = _most_unlike_cut(first, last, pauses, lengths, vectors, score, log_lr)
        if found is None:
            continue
        cut, sides = found
        means = voices.without(first, last)[int(labels[first])]
        leaving = range(cut, last + 1)
        if means.any():
            alike = score(sides, means[None].astype(np.float32))[:, 0]
            leaving = leaving if alike[0] >= alike[1] else range(first, cut)
        result[list(leaving)] = new
        new += 1
    return result


def _most_unlike_cut(first: int, last: int, pauses: np.ndarray, lengths: np.ndarray,
                     vectors: dict[int, np.ndarray], score: Scorer, log_lr: LogLR
                     ) -> tuple[int, np.ndarray] | None:
    """The stretch after the pause in ``first``-``last`` where the speech before and after it is
    most surely two people, if surely enough (SPLIT_LOG10_LR), with the two sides' unit means
    (rows, float32); None otherwise."""
    best, best_ratio = None, SPLIT_LOG10_LR
    for cut in range(first + 1, last + 1):
        before, after = range(first, cut), range(cut, last + 1)
        shorter = min(_seconds(vectors, lengths, before), _seconds(vectors, lengths, after))
        if pauses[cut][0] <= 0 or shorter < MIN_SPLIT_SIDE_S:
            continue
        sides = np.stack([_unit_mean(vectors, lengths, before),
                          _unit_mean(vectors, lengths, after)]).astype(np.float32)
        ratio = log_lr(float(score(sides[:1], sides[1:])[0, 0]), shorter)
        if ratio is not None and ratio <= best_ratio:
            best, best_ratio = (cut, sides), ratio
    return best


def _seconds(vectors: dict[int, np.ndarray], lengths: np.ndarray, stretches: range) -> float:
    return float(sum(lengths[k] for k in stretches if k in vectors))


def _unit_mean(vectors: dict[int, np.ndarray], lengths: np.ndarray, stretches: range) -> np.ndarray:
    """The length-weighted unit mean of the embedded stretches among ``stretches``."""
    return unit(sum(lengths[k] * vectors[k] for k in stretches if k in vectors))


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) stretch of each run of one label."""
    changes = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], changes])
    return list(zip(starts.tolist(), (np.concatenate([changes, [len(labels)]]) - 1).tolist()))


def _new_voice_names(voices: list[str], count: int) -> list[str]:
    """Labels for ``count`` voices the splitting made, unlike any of ``voices``."""
    names, index = [], len(voices)
    while len(names) < count:
        if voice_label(index) not in voices:
            names.append(voice_label(index))
        index += 1
    return names


def _pauses(time_map: TimeMap, edges: np.ndarray) -> np.ndarray:
    """(stretches, 2): the seconds of pause before and after each stretch (0: none, as between
    two stretches of one piece of speech)."""
    starts = np.array([time_map.to_original(float(t)) for t in edges[:-1]])
    ends = np.array([time_map.to_original(max(float(t) - 1e-6, 0.0)) for t in edges[1:]])
    gaps = np.maximum(starts[1:] - ends[:-1], 0.0)
    return np.stack([np.concatenate([[np.inf], gaps]), np.concatenate([gaps, [np.inf]])], axis=1)


def _at_change(labels: np.ndarray, k: int) -> bool:
    return (k > 0 and labels[k - 1] != labels[k]) or (k + 1 < len(labels) and labels[k + 1] != labels[k])


def _segments(edges: np.ndarray, labels: np.ndarray, shares: np.ndarray, voices: list[str],
              before: list[Segment], time_map: TimeMap, merge_gap_s: float) -> list[Segment]:
    """Runs of stretches of one voice as segments on the original time, split at long pauses; each
    keeps its voice's confidence from the voice finding."""
    confidence = {s.voice: (s.score, s.probability) for s in before}  # a split-off voice: not known
    confidence.update({voice: (np.nan, np.nan) for voice in voices if voice not in confidence})
    segments: list[Segment] = []
    for first, last in _runs(labels):
        voice = voices[int(labels[first])]
        spans = bridge_pauses(time_map.original_spans(float(edges[first]), float(edges[last + 1])),
                              merge_gap_s)
        windows = int(round(float(shares[:, first:last + 1].sum())))  # in windows' worth of speech
        segments += [Segment(a, b, None, *confidence[voice], windows, voice) for a, b in spans]
    return segments
