"""A recording's audio to speech turns, each with one embedding, and its voices: the model work of
``archive add``, the only part that needs the network (and the part an engine may run elsewhere).

The recording is streamed as :mod:`speakerid.longform` streams long files (bounded memory for an
hour or more), cut into the timeline's 3 s windows every 1.5 s (:mod:`speakerid.timeline`),
and its voices found as :func:`speakerid.voices.find_voices` finds them, **with nobody
enrolled**: a recording's turns and voices then depend only on its audio and the model, never on
who was enrolled when it was added, so enrolling someone later relabels the archive without
re-adding anything (names are given at query time, :mod:`speakerid.archive.labels`).

Each turn keeps the pooled embedding of the windows whose centres fall in it (as a clip's windows
are pooled, :meth:`~speakerid.models.encoder.SpeakerModel.pool_windows`) and that embedding's
AS-norm cohort statistics; each voice of the recording keeps the pooled embedding of all its
windows, which linking (:mod:`speakerid.archive.linking`) compares with the archive's voices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..results import Identification

if TYPE_CHECKING:
    from ..longform import StageProgress
    from ..models.encoder import SpeakerModel
    from ..results import Timeline


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
        timeline = find_voices(recording.timeline(nobody, windows_done), nobody)
        duration_s, speech_s = recording.duration_s, recording.speech_s
    return IndexedRecording(model.encoder_id, duration_s, speech_s, *turns_of(timeline, model))


def turns_of(timeline: Timeline, model: SpeakerModel) -> tuple[list[IndexedTurn], list[LocalVoice]]:
    """The timeline's segments as turns with pooled embeddings, and its found voices."""
    assert timeline.embeddings is not None and timeline.time_map is not None
    time_map, embeddings = timeline.time_map, timeline.embeddings
    centres = np.array([time_map.to_original((w.start_s + w.end_s) / 2) for w in timeline.windows])
    speech = [(time_map.offset_s + a, time_map.offset_s + b) for a, b in time_map.pieces]
    voice_names = list(dict.fromkeys(s.voice for s in timeline.segments if s.voice is not None))
    members = [_windows_of(segment.start_s, segment.end_s, centres) for segment in timeline.segments]
    vectors = np.stack([model.pool_windows(embeddings[m]) for m in members]) if members else \
        np.zeros((0, embeddings.shape[1]), np.float32)
    cohort = model.cohort_statistics(vectors) if len(vectors) else None
    turns = [IndexedTurn(s.start_s, s.end_s, _overlap(s.start_s, s.end_s, speech), vectors[i],
                         None if cohort is None else (float(cohort[0][i]), float(cohort[1][i])),
                         voice_names.index(s.voice) if s.voice is not None else None)
             for i, s in enumerate(timeline.segments)]
    voices = []
    for index in range(len(voice_names)):
        rows = [i for i, turn in enumerate(turns) if turn.voice == index]
        windows = np.unique(np.concatenate([members[i] for i in rows]))
        voices.append(LocalVoice(model.pool_windows(embeddings[windows]),
                                 sum(turns[i].speech_s for i in rows)))
    return turns, voices


def _windows_of(start_s: float, end_s: float, centres: np.ndarray) -> np.ndarray:
    """The windows whose centres fall in [start_s, end_s]; else the one nearest its middle (a
    short piece of a turn that a long pause split off holds no window centre)."""
    inside = np.flatnonzero((centres >= start_s) & (centres <= end_s))
    return inside if len(inside) else np.array([int(np.argmin(np.abs(centres - (start_s + end_s) / 2)))])


def _overlap(start_s: float, end_s: float, spans: list[tuple[float, float]]) -> float:
    return float(sum(max(0.0, min(end_s, b) - max(start_s, a)) for a, b in spans))

