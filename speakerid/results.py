"""What speakerid answers, in one place: who a clip's voice is (:class:`Identification` of ranked
:class:`Match` es), who is enrolled (:class:`SpeakerInfo`) and who speaks when (:class:`Timeline`
of :class:`Segment` s built from :class:`WindowResult` s), with the two small types every stage
shares (:data:`Span`, :data:`Progress`).

Plain data, importing nothing else of speakerid: the gallery, the pipeline stages, the app and the
CLI all build or read these, so they sit below all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from .i18n import N_

Span = tuple[float, float]
"""A stretch of time, (start, end) in seconds."""
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each unit of long work."""

UNKNOWN_SPEAKER = N_("unknown speaker")  # translated where it is shown
"""The one wording of "no enrolled voice reaches the threshold" (app, CLI and batch reports)."""


@dataclass(frozen=True)
class SpeakerInfo:
    """An enrolled speaker: details, number of clips, seconds of speech (a gallery's answer)."""

    name: str
    gender: str | None
    party: str | None
    notes: str | None
    clips: int
    seconds: float  # of speech, summed over the clips
    aliases: tuple[str, ...] = ()  # other spellings and scripts of the name, in the order given


@dataclass(frozen=True)
class Match:
    name: str
    score: float
    probability: float  # calibrated P(same speaker), for a clip of this length
    threshold: float | None = None  # the score that means "same speaker" for a clip of this length
    llr: float | None = None  # log10 likelihood ratio (Calibration.log10_lr); None: not known


@dataclass(frozen=True)
class Identification:
    matches: list[Match]  # best first
    threshold: float

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def speaker(self) -> str | None:
        """The identified speaker, or None for "unknown speaker" (no match reaches the threshold)."""
        best = self.best
        return best.name if best is not None and best.score >= self.threshold else None

    def to_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "threshold": self.threshold,
                "matches": [asdict(match) for match in self.matches]}


@dataclass(frozen=True)
class WindowResult:
    """One window's verdict; times are on the prepared-speech timeline."""

    start_s: float
    end_s: float
    speaker: str | None  # None: no enrolled speaker reaches the threshold
    best: str | None  # the closest enrolled speaker, even below the threshold
    score: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of the original clip attributed to one speaker (or to an unknown voice)."""

    start_s: float
    end_s: float
    speaker: str | None
    score: float  # mean best score of its windows; a found voice's own (speakerid.voices)
    probability: float  # mean calibrated probability of its windows; a found voice's: one voice
    windows: int
    voice: str | None = None  # a voice found by clustering (speakerid.voices) when speaker is None

    @property
    def label(self) -> str | None:
        """The enrolled name, else the found voice's label, else None (unknown)."""
        return self.speaker if self.speaker is not None else self.voice

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class SpeechClock(Protocol):
    """Maps positions in the prepared speech back to the original clip
    (:class:`speakerid.timeline.TimeMap`)."""

    speech_s: float
    starts: np.ndarray  # the speech time at which each kept piece begins, then the end

    def to_original(self, t: float) -> float: ...

    def original_spans(self, a: float, b: float) -> list[Span]: ...


@dataclass(frozen=True)
class Timeline:
    segments: list[Segment]
    windows: list[WindowResult]
    threshold: float
    duration_s: float  # of the original clip
    speech_s: float
    # what speakerid.voices needs to label the windows again: their unit embeddings (one row per
    # window) and the map from speech time back to the clip
    embeddings: np.ndarray | None = field(default=None, repr=False, compare=False)
    time_map: SpeechClock | None = field(default=None, repr=False, compare=False)

    def speaking_time(self) -> dict[str | None, float]:
        """Seconds attributed to each speaker or found voice (None: unknown), longest first."""
        totals: dict[str | None, float] = {}
        for segment in self.segments:
            totals[segment.label] = totals.get(segment.label, 0.0) + segment.duration_s
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "duration_s": self.duration_s, "speech_s": self.speech_s,
                "segments": [asdict(s) for s in self.segments],
                "windows": [asdict(w) for w in self.windows]}

