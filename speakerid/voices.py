"""Voices nobody enrolled, found in a timeline: clustered into "Voice A", "Voice B", ... and enrollable.

:func:`identify_timeline` names a window only when it passes the gallery's threshold for 3 s of
speech; every other window used to be one grey "unknown". :func:`find_voices` labels the windows
again from their embeddings:

1. The unmatched windows are clustered by voice: agglomerative clustering (average linkage) of the
   model's own scores between them (AS-norm where the model has a cohort), with no number of voices
   given. Two groups merge while their mean score reaches the calibration's threshold for probes
   of one window's length (the score at which 1 % of held-out different-speaker comparisons pass,
   before the gallery-size raise): the groups are merged when the model would call them one person.
2. Groups are merged, the closest pair first, while their mean embeddings score at least the
   threshold for the shorter group's speech (a mean of many windows is a surer sample of a voice
   than one window, so one speaker split by the first step is joined again). The means leave out
   the windows over a pause the silence stage removed where a group has others: such a window may
   hold the ends of two people's turns, and it made two telephone callers taking turns one voice
   (the archive benchmark's seed 3). Each group is then
   identified once more as a whole, at the threshold of its whole stretch of speech (a speaker
   whose 3 s windows each fell short is named here). A group nobody matches becomes a new voice;
   a group of less than ``min_voice_s`` of speech (windows straddling a turn change, a cough) is
   not a voice, and each of its windows takes the label of whichever neighbouring turn it sounds
   closer to.
3. Labels are smoothed by a majority vote over about a window's length of neighbours, and every
   turn change is moved to where the window scores cross: the score difference between the two
   voices' mean embeddings falls roughly linearly as a window slides over the change, and is zero
   where the window is half one and half the other, i.e. where its centre is on the change. A
   change within ``SNAP_S`` of a pause the silence stage removed is moved onto it: people mostly
   take turns at a pause, and the segment edges then fall on the speech's own edges.
4. A found voice's segments carry its own confidence, never the nearest enrolled person's numbers
   (which would read as "3 % that this is Voice A"): ``score`` is the mean score of each of its
   windows against the mean of its other windows, ``probability`` that score through the model's
   calibration for one window's length: how surely its turns are one voice.

The clustering holds square matrices of the unmatched windows' scores: a few hundred MB for the 5 000
windows of a two-hour recording at the timeline's 1.5 s hop.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .audio import AudioClip
from .errors import SpeakerIDError
from .i18n import _
from .results import Segment, Timeline
from .scoring import unit
from .timeline import MERGE_GAP_S, build_segments, window_bounds
from .voice_labels import voice_label

if TYPE_CHECKING:
    from .gallery import Gallery, SpeakerInfo

MIN_VOICE_S = 4.0  # a group with less speech than this is not reported as a voice
SNAP_S = 1.0  # a turn change this close to a pause is moved onto it
MIN_ENROL_SEGMENT_S = 2.0  # shorter segments of a voice are not kept as enrolment clips


def find_voices(timeline: Timeline, gallery: Gallery, min_voice_s: float = MIN_VOICE_S,
                merge_gap_s: float = MERGE_GAP_S) -> Timeline:
    """``timeline`` with its windows labelled again: enrolled names, found voices, refined edges.

    Segments of a found voice have ``speaker`` None and ``voice`` "Voice A", "Voice B", ... in the
    order the voices first speak.

    Args:
        timeline: from :func:`speakerid.timeline.identify_timeline` (it keeps the windows'
            embeddings; a timeline without them is returned as it is).
        gallery: the gallery it was identified against.
        min_voice_s: a group of unmatched windows with less speech is not reported as a voice.
        merge_gap_s: pauses this short inside one voice's turn are bridged.

    Returns:
        A new timeline; ``timeline`` itself is unchanged.
    """
    windows = timeline.windows
    embeddings, time_map = timeline.embeddings, timeline.time_map
    if not windows or embeddings is None or time_map is None:
        return timeline
    window_s = max(w.end_s - w.start_s for w in windows)
    labels, voices = _label_unmatched(timeline, gallery, window_s, min_voice_s)
    labels = _resolve_pending(labels, embeddings)
    hop_s = _hop(timeline)
    labels = majority_vote(labels, radius=max(1, int(round(window_s / (2 * hop_s)))))
    bounds = refine_cuts(labels, embeddings, [(w.start_s + w.end_s) / 2 for w in windows],
                         window_bounds(windows, time_map), pauses=time_map.starts[1:-1])
    segments = build_segments(windows, time_map, merge_gap_s, smooth=False, labels=labels,
                              bounds=bounds)
    confidence = {voice: voice_confidence(embeddings[[i for i, x in enumerate(labels) if x == voice]],
                                          gallery, window_s) for voice in voices}
    segments = [dataclasses.replace(s, speaker=None, voice=s.speaker, score=confidence[s.speaker][0],
                                    probability=confidence[s.speaker][1]) if s.speaker in voices else s
                for s in segments]
    return dataclasses.replace(timeline, segments=_rename_in_order(segments))


def voice_confidence(vectors: np.ndarray, gallery: Gallery, window_s: float, chunk: int = 256
                     ) -> tuple[float, float]:
    """How surely windows (rows of unit embeddings) are one voice: the mean score of each window
    against the mean of the others, and that score's probability under the model's calibration for
    ``window_s``; NaN for fewer than two windows. Scored ``chunk`` windows at a time, so that a
    voice of thousands of windows needs no square matrix of them."""
    count = len(vectors)
    if count < 2:
        return math.nan, math.nan
    others = unit((vectors.sum(axis=0) - vectors) / (count - 1))
    encoder = gallery.encoder
    scores = np.concatenate([np.diag(encoder.score_matrix(vectors[i:i + chunk], others[i:i + chunk]))
                             for i in range(0, count, chunk)])
    score = float(scores.mean())
    return score, float(encoder.calibration.for_duration(window_s).probability(score))


def found_voices(timeline: Timeline) -> list[str]:
    """The found voices' labels, in the order they first speak."""
    return list(dict.fromkeys(s.voice for s in timeline.segments if s.voice is not None))


def voice_clips(clip: AudioClip, timeline: Timeline, voice: str,
                min_segment_s: float = MIN_ENROL_SEGMENT_S) -> list[AudioClip]:
    """The audio of ``voice``'s segments in ``clip`` (the clip the timeline was made from), one clip
    per segment of at least ``min_segment_s``."""
    segments = [s for s in timeline.segments if s.voice == voice]
    if not segments:
        raise SpeakerIDError(_("there is no {voice!r} in this timeline").format(voice=voice))
    long_enough = [s for s in segments if s.duration_s >= min_segment_s]
    if not long_enough:
        raise SpeakerIDError(_("{voice} has no segment of {min_segment_s:g} s or more to enrol from").format(
            voice=voice, min_segment_s=min_segment_s))
    return [segment_audio(clip, s) for s in long_enough]


def segment_audio(clip: AudioClip, segment: Segment) -> AudioClip:
    """The part of ``clip`` (the clip the timeline was made from) under ``segment``."""
    rate = clip.sample_rate
    return AudioClip(clip.samples[int(segment.start_s * rate):int(math.ceil(segment.end_s * rate))],
                     rate, f"{clip.name or 'clip'} {segment.start_s:.1f}-{segment.end_s:.1f} s")


def enroll_voice(gallery: Gallery, clip: AudioClip, timeline: Timeline, voice: str, name: str,
                 ) -> SpeakerInfo:
    """Enrol a found voice under ``name`` (a new speaker, or more clips for an enrolled one): each
    of its segments' audio becomes an enrolment clip, so it is kept like any other."""
    return gallery.enroll(name, voice_clips(clip, timeline, voice))


def cluster_windows(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Group ids for windows whose pairwise ``scores`` (higher: more alike) are given: average
    linkage, merging while the mean score between two groups is at least ``threshold``."""
    count = scores.shape[0]
    if count < 2:
        return np.zeros(count, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    scores = (scores + scores.T) / 2
    top = float(max(scores.max(), threshold))
    distances = top - scores  # non-negative; an affine map, so average linkage merges the same way
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                    distance_threshold=top - threshold + 1e-9)
    return model.fit_predict(distances)


def majority_vote(labels: Sequence[str | None], radius: int) -> list[str | None]:
    """Each label replaced by the most common one within ``radius`` windows (a tie keeps it)."""
    result = list(labels)
    for i in range(len(labels)):
        counts = Counter(labels[max(0, i - radius):i + radius + 1])
        best, count = counts.most_common(1)[0]
        if count > counts[labels[i]]:
            result[i] = best
    return result


def refine_cuts(labels: Sequence[str | None], embeddings: np.ndarray, centres: Sequence[float],
                bounds: Sequence[float], pauses: Sequence[float] = (), snap_s: float = SNAP_S
                ) -> list[float]:
    """``bounds`` (see :func:`~speakerid.timeline.window_bounds`) with each change between two
    labels moved to where the windows' scores against the two labels' mean embeddings cross, then
    onto the nearest of ``pauses`` (speech times where the silence stage removed a pause) within
    ``snap_s``: people mostly take turns at a pause."""
    bounds = list(bounds)
    prototypes = {label: unit(embeddings[[i for i, x in enumerate(labels) if x == label]].mean(axis=0))
                  for label in set(labels) if label is not None}
    changes = [k for k in range(len(labels) - 1) if labels[k] != labels[k + 1]]
    for n, k in enumerate(changes):
        before, after = labels[k], labels[k + 1]
        if before is None or after is None:
            continue
        first = changes[n - 1] + 1 if n else 0  # the two turns around the change: k in [first, last)
        last = changes[n + 1] + 1 if n + 1 < len(changes) else len(labels)
        cut = _crossing(embeddings[first:last] @ (prototypes[before] - prototypes[after]),
                        centres[first:last], bounds[k + 1])
        if cut is not None:
            nearest = min(pauses, key=lambda t: abs(t - cut), default=None)
            if nearest is not None and abs(nearest - cut) <= snap_s:
                cut = float(nearest)
            cut = float(np.clip(cut, bounds[first], bounds[last]))  # inside the two turns
            # the windows of one turn that lie past the cut own nothing: the bounds stay in order
            bounds[first + 1:k + 2] = [min(t, cut) for t in bounds[first + 1:k + 2]]
            bounds[k + 1:last + 1] = [max(t, cut) for t in bounds[k + 1:last + 1]]
    return bounds


def _crossing(difference: np.ndarray, centres: Sequence[float], near: float) -> float | None:
    """Where ``difference`` (positive: the earlier voice) falls through zero, nearest to ``near``."""
    found = []
    for j in range(len(difference) - 1):
        a, b = float(difference[j]), float(difference[j + 1])
        if a >= 0 > b:
            found.append(centres[j] + (centres[j + 1] - centres[j]) * a / (a - b))
    return min(found, key=lambda t: abs(t - near)) if found else None


_PENDING = "\0pending"  # a window of a group too small to be a voice, decided by its neighbours


def _label_unmatched(timeline: Timeline, gallery: Gallery, window_s: float, min_voice_s: float
                     ) -> tuple[list[str | None], set[str]]:
    """Window labels: the window's own verdict, else its group's (a name, a voice or pending);
    and which labels are found voices."""
    assert timeline.embeddings is not None
    labels: list[str | None] = [w.speaker for w in timeline.windows]
    unmatched = [i for i, label in enumerate(labels) if label is None]
    if not unmatched:
        return labels, set()
    vectors = timeline.embeddings[unmatched]
    encoder = gallery.encoder
    threshold = gallery.calibration.for_duration(window_s).threshold
    groups = cluster_windows(encoder.score_matrix(vectors, vectors), threshold)
    members_of = merge_groups([[unmatched[j] for j in np.flatnonzero(groups == group)]
                               for group in set(groups.tolist())], timeline, gallery)
    hop_s = _hop(timeline)
    voices: set[str] = set()
    for members in sorted(members_of, key=min):
        speech_s = _covered_seconds([timeline.windows[i] for i in members])
        found = gallery.identify_embedding(unit(timeline.embeddings[members].mean(axis=0)), top_k=1,
                                           speech_s=speech_s)
        if found.speaker is not None:
            label: str = found.speaker
        elif len(members) * hop_s >= min_voice_s:  # each window stands for one hop of speech
            label = f"\0voice {len(voices)}"  # named "Voice A"... once in order; no clash with a name
            voices.add(label)
        else:
            label = _PENDING
        for i in members:
            labels[i] = label
    return labels, voices


def merge_groups(groups: list[list[int]], timeline: Timeline, gallery: Gallery) -> list[list[int]]:
    """Groups of windows merged, the closest pair first, while their mean embeddings score at least
    the calibration's threshold for the shorter group's speech: a mean of many windows is a far
    surer sample of a voice than one window, so one speaker split by the window-level clustering
    is joined again.

    A group's mean is taken over its windows inside one stretch of speech (see
    :func:`_within_stretch`) where it has any: a window over a pause the silence stage removed may
    hold the end of one person's turn and the start of the next one's, and such windows pull the
    means of two people who take turns towards each other until they pass as one voice."""
    assert timeline.embeddings is not None
    groups = [list(g) for g in groups]
    clean = _within_stretch(timeline)
    while len(groups) > 1:
        cores = [[i for i in g if clean[i]] or g for g in groups]
        means = unit(np.stack([timeline.embeddings[g].mean(axis=0) for g in cores]))
        speech = [_covered_seconds([timeline.windows[i] for i in g]) for g in cores]
        thresholds = np.array([gallery.calibration.for_duration(x).threshold for x in speech])
        shorter = np.less_equal.outer(speech, speech)  # [a, b]: a is the shorter of the two
        margins = gallery.encoder.score_matrix(means, means) - np.where(
            shorter, thresholds[:, None], thresholds[None, :])
        np.fill_diagonal(margins, -np.inf)
        a, b = sorted(np.unravel_index(int(np.argmax(margins)), margins.shape))
        if margins[a, b] < 0:
            break
        groups[a] = sorted(groups[a] + groups.pop(b))
    return groups


def _within_stretch(timeline: Timeline) -> np.ndarray:
    """For each window, whether it lies inside one stretch of speech, holding no pause that the
    silence stage removed (people mostly take turns at a pause; see ``SNAP_S``)."""
    pauses = timeline.time_map.starts[1:-1] if timeline.time_map is not None else np.zeros(0)
    return np.array([not np.any((pauses > w.start_s) & (pauses < w.end_s)) for w in timeline.windows])


def _resolve_pending(labels: list[str | None], embeddings: np.ndarray) -> list[str | None]:
    """Each pending window takes the label of the nearest decided window before or after it,
    whichever voice it is closer to; with no decided window at all it stays unknown (None)."""
    decided = [i for i, label in enumerate(labels) if label != _PENDING]
    if not decided:
        return [None] * len(labels)
    prototypes = {label: unit(embeddings[[i for i in decided if labels[i] == label]].mean(axis=0))
                  for label in {labels[i] for i in decided} if label is not None}
    result = list(labels)
    for i, label in enumerate(labels):
        if label != _PENDING:
            continue
        position = int(np.searchsorted(decided, i))
        neighbours = {labels[decided[j]] for j in (position - 1, position) if 0 <= j < len(decided)}
        named = [x for x in neighbours if x is not None]
        result[i] = max(named, key=lambda x: float(embeddings[i] @ prototypes[x])) if named else None
    return result


def _rename_in_order(segments: list[Segment]) -> list[Segment]:
    """Voice letters in the order the voices first speak (smoothing can drop or reorder some)."""
    order = {voice: voice_label(i) for i, voice in
             enumerate(dict.fromkeys(s.voice for s in segments if s.voice is not None))}
    return [dataclasses.replace(s, voice=order[s.voice]) if s.voice is not None else s for s in segments]


def _covered_seconds(windows: Sequence) -> float:
    """Seconds of speech under the union of the windows' spans."""
    total, end = 0.0, -math.inf
    for w in sorted(windows, key=lambda w: w.start_s):
        total += max(0.0, w.end_s - max(w.start_s, end))
        end = max(end, w.end_s)
    return total


def _hop(timeline: Timeline) -> float:
    starts = [w.start_s for w in timeline.windows]
    steps = np.diff(starts)
    return float(np.median(steps)) if len(steps) else max(timeline.windows[0].end_s, 1e-3)


def save_voices(clip: AudioClip, timeline: Timeline, folder: str | Path) -> dict[str, list[Path]]:
    """Write each found voice's segments as WAV files, one sub-folder per voice ("voice-a", ...),
    ready for ``python -m speakerid enroll --name NAME FOLDER/voice-a/*.wav``."""
    import soundfile as sf

    written: dict[str, list[Path]] = {}
    for voice in found_voices(timeline):
        target = Path(folder) / voice.lower().replace(" ", "-")
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, segment in enumerate((s for s in timeline.segments if s.voice == voice), start=1):
            audio = segment_audio(clip, segment)
            path = target / f"{number:02d}_{segment.start_s:.1f}-{segment.end_s:.1f}s.wav"
            sf.write(str(path), audio.samples, audio.sample_rate, subtype="PCM_16")
            paths.append(path)
        written[voice] = paths
    return written


@dataclass(frozen=True)
class ScriptComparison:
    """How a timeline reads against the known turns of a conversation (tests and benchmarks)."""

    turns: int
    right: int  # turns whose best-overlapping segment has the right label
    edge_error_s: float  # mean distance of those segments' starts and ends from the turns'
    voice_of: dict[str, str]  # each unenrolled speaker of the script: the voice label they got


def compare_with_script(segments: Sequence[Segment], script: Sequence[tuple[float, float, str]],
                        enrolled: Collection[str]) -> ScriptComparison:
    """Score ``segments`` against ``script`` (start, end, speaker per turn). A turn of an enrolled
    speaker is right when named; a turn of anyone else when it has a found voice that is theirs
    alone: the first voice they get, and no other speaker's."""
    right, errors, voice_of, owner = 0, [], {}, {}
    for start, end, speaker in script:
        best = max(segments, key=lambda s: min(s.end_s, end) - max(s.start_s, start))
        errors += [abs(best.start_s - start), abs(best.end_s - end)]
        if speaker in enrolled:
            right += best.speaker == speaker
        elif best.voice is not None:
            voice_of.setdefault(speaker, best.voice)
            right += voice_of[speaker] == best.voice and owner.setdefault(best.voice, speaker) == speaker
    return ScriptComparison(len(script), right, float(np.mean(errors)) if errors else 0.0, voice_of)
