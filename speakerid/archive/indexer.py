"""A recording's audio to speech turns, each with one embedding, and its voices: the model work of
``archive add``, the only part that needs the network (and the part an engine may run elsewhere).

The recording is streamed as :mod:`speakerid.longform` streams long files (bounded memory for an
hour or more), cut into the timeline's 3 s windows every 1.5 s (:mod:`speakerid.timeline`),
and its voices found as :func:`speakerid.voices.find_voices` finds them, **with nobody
enrolled**: a recording's turns and voices then depend only on its audio and the model, never on
who was enrolled when it was added, so enrolling someone later relabels the archive without
re-adding anything (names are given at query time, :mod:`speakerid.archive.labels`).

The turn changes are then re-decided from the audio on either side of each
(:mod:`speakerid.archive.segmentation`). Each turn keeps one embedding of its own speech (a long
turn: the pooled windows whose centres fall in it; a shorter one: the mean of the stretches
re-cutting embedded and the windows lying wholly in it where they cover it, else its speech
embedded as a clip of that length is), and that embedding's AS-norm cohort statistics; each
voice of the recording keeps the speech-weighted mean of its turns' embeddings, which linking
(:mod:`speakerid.archive.linking`) compares with the archive's voices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..results import Identification
from ..scoring import unit
from ..timeline import TimeMap
from .segmentation import LogLR, recut_turns, speech_time

if TYPE_CHECKING:
    from ..longform import LongRecording, StageProgress
    from ..models.encoder import SpeakerModel
    from ..results import Timeline


# A recording's group of windows is a voice from two windows' worth of speech (the timeline's hop
# is 1.5 s): a person may say one turn of 3-4 s in a recording, and a smaller rule (identify's is
# 4 s) folds that turn into a neighbour's.
MIN_VOICE_S = 1.5
# A turn of this much speech or less is embedded from its own audio (its edge windows also hold
# its neighbours'); a longer one pools its windows. Under MIN_DIRECT_TURN_S a turn's own audio is
# too short to embed well on its own: it pools the windows nearest to it.
DIRECT_TURN_S = 20.0
SHAPE_STEP = 25  # frames: stretches are embedded in lengths of whole steps (SpeechEmbedder)
MIN_DIRECT_TURN_S = 1.0
# A turn whose speech is this much covered by stretches embedded already and by windows lying wholly
# in it takes their mean instead of being embedded again (their own speech, no neighbour's in it).
COVERED_SHARE = 0.8


@dataclass(frozen=True)
class IndexedTurn:
    start_s: float  # on the recording's own timeline
    end_s: float
    speech_s: float  # seconds of speech inside (pauses the silence stage removed left out)
    embedding: np.ndarray  # float32
    cohort: tuple[float, float] | None  # AS-norm statistics of the embedding (None: no cohort)
    voice: int | None  # index into IndexedRecording.voices; None: too little of it to be a voice


@dataclass(frozen=True)
class LocalVoice:
    """One voice of one recording, before it is linked to the archive's voices."""

    embedding: np.ndarray  # pooled over all its windows
    speech_s: float


@dataclass(frozen=True)
class IndexedRecording:
    """What the model made of one recording; small and picklable (an engine sends it back)."""

    model_id: str
    duration_s: float
    speech_s: float
    turns: list[IndexedTurn]
    voices: list[LocalVoice]


class NobodyEnrolled:
    """A gallery with no one in it, for the timeline and the voice finding: every window stays
    unnamed, so all of them are clustered into the recording's own voices."""

    def __init__(self, model: SpeakerModel) -> None:
        self.encoder = model
        self.calibration = model.calibration

    def identify_embedding(self, embedding: np.ndarray, top_k: int = 5,
                           speech_s: float | None = None) -> Identification:
        return Identification([], self.calibration.for_duration(speech_s).threshold)


def index_recording(source: str | Path | bytes, model: SpeakerModel, name: str | None = None,
                    progress: StageProgress | None = None) -> IndexedRecording:
    """Turns, embeddings and voices of one recording (a path, or a file's bytes).

    Raises SpeakerIDError, in one sentence, for audio that cannot be decoded or holds too little
    speech."""
    from ..longform import LongRecording
    from ..voices import find_voices

    def windows_done(done: int, total: int) -> None:
        if progress:
            progress("timeline", done, total)

    nobody = NobodyEnrolled(model)
    with LongRecording(source, model, name, progress) as recording:
        embed = SpeechEmbedder(recording, model)
        timeline = recut_turns(find_voices(recording.timeline(nobody, windows_done), nobody,
                                           min_voice_s=MIN_VOICE_S), embed,
                               model.score_matrix, calibrated_log_lr(model))
        duration_s, speech_s = recording.duration_s, recording.speech_s
        turns, voices = turns_of(timeline, model, embed)
    return IndexedRecording(model.encoder_id, duration_s, speech_s, turns, voices)


def calibrated_log_lr(model: SpeakerModel) -> LogLR:
    """The model's calibrated log10 likelihood ratio of a score, for that many seconds of speech."""
    def log_lr(score: float, speech_s: float) -> float | None:
        return model.calibration.for_duration(speech_s).log10_lr(score)
    return log_lr


class SpeechEmbedder:
    """Embeddings of stretches of a recording's prepared speech, each from its own features, as a
    clip of that length is embedded (:meth:`~speakerid.models.encoder.SpeakerModel.embed_features`).

    A stretch is embedded once (a turn that is one stretch reuses the stretch's embedding), and its
    length is rounded down to SHAPE_STEP frames: every new input length costs the network's
    runtime new kernels and buffers (time and memory), and a few frames say nothing of a voice."""

    def __init__(self, recording: LongRecording, model: SpeakerModel) -> None:
        from ..features import frames_per_second

        self.recording, self.model = recording, model
        self.rate = frames_per_second(model.pipeline)
        self._done: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, start_s: float, end_s: float) -> np.ndarray:
        """The embedding of speech time ``start_s`` to ``end_s``; unit for cosine scoring."""
        key = self._key(start_s, end_s)
        if key not in self._done:
            vector = self.model.embed_features(self.recording.features(*key))
            self._done[key] = unit(vector) if self.model.model_config.metric == "cosine" else vector
        return self._done[key]

    def has(self, start_s: float, end_s: float) -> bool:
        """Whether that stretch of speech time was embedded already."""
        return self._key(start_s, end_s) in self._done

    def within(self, start_s: float, end_s: float) -> list[tuple[float, float, np.ndarray]]:
        """(start, end, embedding) of the stretches embedded so far that lie in speech time
        ``start_s`` to ``end_s``."""
        first, last = start_s * self.rate - 0.5, end_s * self.rate + 0.5  # rounding of the keys
        return [(a / self.rate, (a + n) / self.rate, vector) for (a, n), vector in self._done.items()
                if a >= first and a + n <= last]

    def _key(self, start_s: float, end_s: float) -> tuple[int, int]:
        first = int(round(start_s * self.rate))
        return first, max(SHAPE_STEP, int(round((end_s - start_s) * self.rate)) // SHAPE_STEP * SHAPE_STEP)


def turns_of(timeline: Timeline, model: SpeakerModel, embed: SpeechEmbedder
             ) -> tuple[list[IndexedTurn], list[LocalVoice]]:
    """The timeline's segments as turns, and its found voices. A turn of up to DIRECT_TURN_S gets
    an embedding of its own speech (:func:`_direct_embedding`), not the windows at its edges, which
    also hold its neighbours' speech; a longer turn pools the windows whose centres fall in it. A
    voice's embedding is the speech-weighted mean of its turns'."""
    assert timeline.embeddings is not None and isinstance(timeline.time_map, TimeMap)
    time_map, embeddings = timeline.time_map, timeline.embeddings
    centres = np.array([time_map.to_original((w.start_s + w.end_s) / 2) for w in timeline.windows])
    speech = [(time_map.offset_s + a, time_map.offset_s + b) for a, b in time_map.pieces]
    voice_names = list(dict.fromkeys(s.voice for s in timeline.segments if s.voice is not None))
    seconds = [_overlap(s.start_s, s.end_s, speech) for s in timeline.segments]
    windows = _Windows(timeline)
    vectors = np.stack([
        _direct_embedding(speech_time(time_map, s.start_s), speech_time(time_map, s.end_s), embed, windows,
                          model)
        if MIN_DIRECT_TURN_S <= seconds[i] <= DIRECT_TURN_S
        else model.pool_windows(embeddings[_windows_of(s.start_s, s.end_s, centres)])
        for i, s in enumerate(timeline.segments)]).astype(np.float32) if timeline.segments else \
        np.zeros((0, embeddings.shape[1]), np.float32)
    cohort = model.cohort_statistics(vectors) if len(vectors) else None
    turns = [IndexedTurn(s.start_s, s.end_s, seconds[i], vectors[i],
                         None if cohort is None else (float(cohort[0][i]), float(cohort[1][i])),
                         voice_names.index(s.voice) if s.voice is not None else None)
             for i, s in enumerate(timeline.segments)]
    voices = []
    for index in range(len(voice_names)):
        rows = [i for i, turn in enumerate(turns) if turn.voice == index]
        weights = np.array([seconds[i] for i in rows])
        voices.append(LocalVoice(_mean(vectors[rows], weights, model), float(weights.sum())))
    return turns, voices


class _Windows:
    """The timeline's windows in speech time, each standing for a hop of speech."""

    def __init__(self, timeline: Timeline) -> None:
        assert timeline.embeddings is not None
        self.starts = np.array([w.start_s for w in timeline.windows])
        self.ends = np.array([w.end_s for w in timeline.windows])
        self.vectors = timeline.embeddings
        self.hop_s = float(np.median(np.diff(self.starts))) if len(self.starts) > 1 else 1.0

    def within(self, start_s: float, end_s: float) -> np.ndarray:
        """The windows that lie wholly in speech time ``start_s`` to ``end_s``."""
        return np.flatnonzero((self.starts >= start_s - 1e-6) & (self.ends <= end_s + 1e-6))


def _direct_embedding(start_s: float, end_s: float, embed: SpeechEmbedder, windows: _Windows,
                      model: SpeakerModel) -> np.ndarray:
    """A turn's embedding from its own speech (speech time ``start_s`` to ``end_s``), as identifying
    its audio would embed it, without running the model again where that speech was embedded
    already: a turn that is one stretch is that stretch; one that the stretches embedded to re-decide
    the turn changes and the windows lying wholly in it cover (COVERED_SHARE of it) is their mean,
    each stretch weighing its length and each window a hop. Only the rest is embedded on its own."""
    if embed.has(start_s, end_s):
        return embed(start_s, end_s)
    stretches = embed.within(start_s, end_s)
    inside = windows.within(start_s, end_s)
    spans = [(a, b) for a, b, _ in stretches] + [(windows.starts[i], windows.ends[i]) for i in inside]
    if _covered_s(spans) < COVERED_SHARE * (end_s - start_s):
        return embed(start_s, end_s)
    vectors = np.concatenate([np.array([v for _, _, v in stretches]).reshape(-1, windows.vectors.shape[1]),
                              windows.vectors[inside]])
    weights = np.array([b - a for a, b, _ in stretches] + [windows.hop_s] * len(inside))
    return _mean(vectors, weights, model)


def _mean(vectors: np.ndarray, weights: np.ndarray, model: SpeakerModel) -> np.ndarray:
    """The weighted mean of embeddings (of unit ones, made unit again, for cosine scoring)."""
    cosine = model.model_config.metric == "cosine"
    mean = (weights / max(float(weights.sum()), 1e-9)) @ (unit(vectors) if cosine else vectors)
    return (unit(mean) if cosine else mean).astype(np.float32)


def _covered_s(spans: list[tuple[float, float]]) -> float:
    """Seconds of the union of ``spans``."""
    total, reach = 0.0, -np.inf
    for a, b in sorted(spans):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _windows_of(start_s: float, end_s: float, centres: np.ndarray) -> np.ndarray:
    """The windows whose centres fall in [start_s, end_s]; else the one nearest its middle (a
    short piece of a turn that a long pause split off holds no window centre)."""
    inside = np.flatnonzero((centres >= start_s) & (centres <= end_s))
    return inside if len(inside) else np.array([int(np.argmin(np.abs(centres - (start_s + end_s) / 2)))])


def _overlap(start_s: float, end_s: float, spans: list[tuple[float, float]]) -> float:
    return float(sum(max(0.0, min(end_s, b) - max(start_s, a)) for a, b in spans))

