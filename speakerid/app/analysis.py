"""One clip from upload to verdict, step by step, keeping every intermediate result for display.

:func:`analyse_steps` is what the app's Identify page runs: prepare (the preprocessing stages)
-> log-mel features -> the encoder's windows -> embedding -> ranking against the gallery.
:func:`speech_check` is the enrolment page's check that a recording holds enough speech.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..audio import AudioClip
from ..errors import SpeakerIDError
from ..features import frames_per_second, window_layout
from ..i18n import N_, _
from ..preprocess import Prepared, prepare
from ..results import Span
from ..verdict import left_out

if TYPE_CHECKING:
    from ..config import PipelineConfig
    from ..gallery import Gallery
    from ..models.base import SpeakerModel as Encoder
    from ..results import Identification

ENROL_MIN_SPEECH_S = 5.0  # what the app asks for when enrolling from a recording
ENROL_MAX_USEFUL_S = 30.0  # longer recordings are fine, but add little

STEPS = {  # what each step of analyse_steps does, for progress messages
    "prepare": N_("Preparing the waveform: mono, resampling, trimming, silence removal, loudness"),
    "features": N_("Computing the log-mel spectrogram and the encoder's windows"),
    "embed": N_("Embedding the speech with the encoder"),
    "identify": N_("Ranking the enrolled speakers"),
}


@dataclass
class Analysis:
    """Everything computed for one clip, filled in step by step (see :func:`analyse_steps`)."""

    clip: AudioClip
    prepared: Prepared | None = None
    features: np.ndarray | None = None  # (frames, n_mels) log-mel of the prepared speech
    windows: list[Span] = field(default_factory=list)  # speech-time spans the encoder sees
    frames_per_second: float = 0.0
    embedding: np.ndarray | None = None
    identification: Identification | None = None  # None without a gallery
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def speech_s(self) -> float:
        return self.prepared.speech_s if self.prepared is not None else 0.0

    @property
    def complete(self) -> bool:
        return self.embedding is not None

    @property
    def left_out(self) -> list[Span]:
        """The ends of a long recording left out when asked (``trim_ends``), on the clip's time."""
        if self.prepared is None:
            return []
        return left_out(self.prepared.stage("trim").kept[0], self.clip.duration_s)


@dataclass(frozen=True)
class FrontEnd:
    """One network's own features of the clip: a fused model sets its members' front ends side by
    side in one array, which read as one image would show a seam where one ends."""

    reader: str  # the network that reads these features, in words
    description: str  # what they are: "Fbank, 80 bands"
    features: np.ndarray  # (frames, bands)


FEATURE_KINDS = {"fbank": "Fbank", "log_mel": "log-mel"}


def front_ends(features: np.ndarray, encoder: Encoder) -> list[FrontEnd]:
    """``features`` (as :meth:`Encoder.features` gives them) cut into each network's own part."""
    parts, low = [], 0
    for config, reader in zip(encoder.feature_configs, encoder.feature_readers):
        kind = FEATURE_KINDS.get(config.kind, config.kind)
        parts.append(FrontEnd(reader, f"{kind}, {config.n_mels} bands",
                              features[:, low:low + config.n_mels]))
        low += config.n_mels
    return parts


def window_spans(frame_count: int, pipeline: PipelineConfig) -> list[Span]:
    """The (start_s, end_s) of each window :func:`features.split_windows` cuts (speech time)."""
    rate = frames_per_second(pipeline)
    starts, length = window_layout(frame_count, pipeline)
    return [(s / rate, (s + length) / rate) for s in starts]


def analyse_steps(clip: AudioClip, encoder: Encoder, gallery: Gallery | None = None, top_k: int = 5,
                  trim_ends: bool = False) -> Iterator[tuple[str, Analysis]]:
    """Run the steps one by one, yielding ``(step, analysis so far)`` after each, so that a caller
    can show each result as soon as it exists. SpeakerIDError (readable) when a step refuses.
    ``trim_ends``: leave out the first and last minute of a recording over 5 minutes."""
    analysis = Analysis(clip, frames_per_second=frames_per_second(encoder.pipeline))
    started = time.perf_counter()
    analysis.prepared = encoder.prepare(clip, trim_ends)
    analysis.timings["prepare"] = time.perf_counter() - started
    yield "prepare", analysis
    started = time.perf_counter()
    analysis.features = encoder.features(analysis.prepared)
    analysis.windows = window_spans(analysis.features.shape[0], encoder.pipeline)
    analysis.timings["features"] = time.perf_counter() - started
    yield "features", analysis
    started = time.perf_counter()
    analysis.embedding = encoder.embed_features(analysis.features)
    analysis.timings["embed"] = time.perf_counter() - started
    yield "embed", analysis
    if gallery is not None:
        started = time.perf_counter()
        analysis.identification = gallery.identify_embedding(analysis.embedding, top_k,
                                                             analysis.prepared.speech_s)
        analysis.timings["identify"] = time.perf_counter() - started
        yield "identify", analysis


def analyse(clip: AudioClip, encoder: Encoder, gallery: Gallery | None = None, top_k: int = 5,
            trim_ends: bool = False) -> Analysis:
    """Every step of :func:`analyse_steps` at once."""
    result = Analysis(clip)
    for _step, result in analyse_steps(clip, encoder, gallery, top_k, trim_ends):  # noqa: B007 (the last one)
        pass
    return result


@dataclass(frozen=True)
class SpeechCheck:
    """Whether a clip holds enough speech to enrol from, with a sentence for the user."""

    duration_s: float
    speech_s: float
    ok: bool
    message: str


def speech_check(clip: AudioClip, encoder: Encoder, min_speech_s: float = ENROL_MIN_SPEECH_S,
                 recording: bool = False) -> SpeechCheck:
    """How much speech ``clip`` holds, judged against what enrolment asks for."""
    if clip.duration_s < encoder.pipeline.preprocess.min_speech_s:
        short = (_("the recording is only {seconds} s long; at least {needed:g} s of speech is needed")
                 if recording else
                 _("the clip is only {seconds} s long; at least {needed:g} s of speech is needed"))
        return SpeechCheck(clip.duration_s, 0.0, False, short.format(
            seconds=short_of(clip.duration_s, min_speech_s), needed=min_speech_s))
    try:
        prepared = prepare(clip, encoder.pipeline.preprocess, require_speech=False)
    except SpeakerIDError as exc:
        return SpeechCheck(clip.duration_s, 0.0, False, str(exc))
    speech = prepared.speech_s
    if speech == 0:
        return SpeechCheck(clip.duration_s, 0.0, False,
                           _("no speech found: the recording is silent or only noise"))
    if speech < min_speech_s:
        more = (_("only {seconds} s of speech captured; keep talking to reach at least {needed:g} s")
                if recording else
                _("only {seconds} s of speech captured; use a longer clip to reach at least {needed:g} s"))
        return SpeechCheck(clip.duration_s, speech, False, more.format(
            seconds=short_of(speech, min_speech_s), needed=min_speech_s))
    note = ""
    if recording and clip.duration_s > ENROL_MAX_USEFUL_S:
        note = _(" (longer than needed: {plenty:.0f} s is plenty)").format(plenty=ENROL_MAX_USEFUL_S)
    return SpeechCheck(clip.duration_s, speech, True, _("{speech:.1f} s of speech in {seconds:.1f} s: good")
                       .format(speech=speech, seconds=clip.duration_s) + note)


def short_of(value: float, limit: float) -> str:
    """``value`` (below ``limit``) in seconds that read below it: 0.99 of 1 s is "0.99", not "1.0"."""
    text = f"{value:.1f}"
    return text if float(text) < limit else f"{math.floor(value * 100) / 100:.2f}"
