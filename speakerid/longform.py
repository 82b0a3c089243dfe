"""Long recordings in bounded memory: the stages of :func:`speakerid.preprocess.prepare`, then
features, embedding and timeline, a block at a time.

A one-hour stereo 48 kHz file is 1.4 GB of float32 once decoded, and every stage used to make a
full-length copy. Here the file is decoded block by block (:func:`speakerid.audio.audio_blocks`),
each block made mono and resampled by a streaming resampler (soxr's, the same filter as
:func:`~speakerid.preprocess.resample`), and the result written to a temporary file
(:class:`~speakerid.spill.Spill`). Speech detection then reads it back in blocks (the detector's
state carries over; its energy gate, relative to the whole clip, needs only each 30 ms frame's
level), loudness is set from sums over the speech, and the features are framed block by block and
spilled too; the encoder reads them a window at a time. What stays in memory grows only with the
number of frames' decisions and windows' verdicts, a few megabytes an hour.

The results are those of the whole-file path up to float rounding (sums taken in another order),
for the 16 kHz pipelines the shipped models use: ``webrtc``, ``energy`` and ``none`` speech
detection stream; ``pydub`` (the reference recipe) reads the trimmed signal whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import soxr

from .audio import MAX_DURATION_S, audio_blocks, probe_duration
from .i18n import N_
from .preprocess import (
    VAD_BLOCK_FRAMES,
    VAD_FRAME_S,
    VAD_RATE,
    _require_speech,
    energy_spans,
    frame_levels_db,
    loudness_gain,
    remove_silence,
    to_mono,
    trim_span,
    webrtc_frames,
    webrtc_spans,
)
from .results import Progress, Span
from .spill import Spill

if TYPE_CHECKING:
    from .config import FeatureConfig, PreprocessConfig
    from .identifier import Identifier as Gallery  # any gallery: see speakerid.identifier
    from .models.base import SpeakerModel
    from .results import Identification, Timeline

StageProgress = Callable[[str, float, float], None]
"""``progress(stage, done, total)``: stage is one of :data:`STAGES`."""

STAGES = {"decode": N_("decoding (s)"), "speech": N_("finding speech (s)"), "features": N_("features (s)"),
          "embed": N_("embedding (window)"), "timeline": N_("timeline (window)")}  # shown through _
STREAM_MIN_DURATION_S = 600.0  # files at least this long are streamed
STREAM_MIN_BYTES = 32 * 1024 * 1024  # and files of unknown length at least this big
BLOCK_SAMPLES = 1 << 20  # about a minute at 16 kHz: what one read of the resampled signal holds
FEATURE_BLOCK_FRAMES = 6000  # a minute of 10 ms frames framed at once
# Windows per forward pass: ECAPA's activations take about 3 MB per second of window (a batch of
# four 20 s windows added 250 MB to the peak, one window 65 MB, at the same speed per window).
EMBED_BATCH = 1
TIMELINE_BATCH = 8  # 3 s windows


def is_long(source: str | Path | bytes) -> bool:
    """Whether a file should go through :class:`LongRecording` rather than be decoded whole: it
    declares a long duration, or declares none and is big."""
    duration = probe_duration(source)
    if duration is not None:
        return duration >= STREAM_MIN_DURATION_S
    if isinstance(source, bytes):
        return len(source) >= STREAM_MIN_BYTES
    return Path(source).is_file() and Path(source).stat().st_size >= STREAM_MIN_BYTES


@dataclass(frozen=True)
class RecordingSummary:
    """What a page shows of a long recording, and no signal: an envelope short enough to plot."""

    name: str
    duration_s: float
    input_rate: int
    channels: int
    sample_rate: int
    trim: Span  # the part kept by trimming, on the input's timeline
    spans: list[Span]  # the speech, on the trimmed timeline
    trimmed_s: float
    speech_s: float
    overview: np.ndarray  # see LongRecording.overview
    overview_rate: float
    identification: Identification
    timeline: Timeline | None

    def speech_on_input(self) -> list[Span]:
        """The speech spans on the input's timeline."""
        return [(self.trim[0] + a, self.trim[0] + b) for a, b in self.spans]

    @property
    def left_out(self) -> list[Span]:
        """The ends left out when asked (``trim_ends``), on the input's timeline."""
        from .verdict import left_out

        return left_out(self.trim, self.duration_s)


def summarise_recording(source: str | Path | bytes, gallery: Gallery, name: str | None = None,
                        top_k: int = 5, timeline: bool = False,
                        progress: StageProgress | None = None, trim_ends: bool = False) -> RecordingSummary:
    """A long recording streamed once: its verdict, its timeline when asked for, and what to plot.

    Args:
        source: a file path, or the file's bytes (an upload).
        gallery: the gallery (any :class:`~speakerid.identifier.Identifier`) to identify against.
        name: how the recording is named in the summary (default: the file's name).
        top_k: how many speakers to rank.
        timeline: also find who speaks when (3 s windows).
        progress: called as ``progress(stage, done, total)`` (stages: :data:`STAGES`).
        trim_ends: leave out the first and last minute of a recording over 5 minutes (see
            :class:`LongRecording`).

    Returns:
        The summary: durations, speech spans, an overview to plot, the identification and the
        timeline (None unless asked for).

    Raises:
        SpeakerIDError: the file cannot be decoded, exceeds the longest audio accepted, holds too
            little speech, or the gallery holds another model's vectors.
    """
    def windows_done(done: int, total: int) -> None:
        if progress:
            progress("timeline", done, total)

    with LongRecording(source, gallery.encoder, name, progress, trim_ends=trim_ends) as recording:
        found = gallery.identify_embedding(recording.embedding(), top_k, recording.speech_s)
        who_when = recording.timeline(gallery, windows_done) if timeline else None
        overview, rate = recording.overview()
        return RecordingSummary(recording.name, recording.duration_s, recording.input_rate,
                                recording.channels, recording.sample_rate, recording.trim,
                                recording.spans, recording.trimmed_s, recording.speech_s, overview,
                                rate, found, who_when)


def identify_recording(source: str | Path, gallery: Gallery, top_k: int = 5, timeline: bool = False,
                       progress: StageProgress | None = None, trim_ends: bool = False
                       ) -> tuple[Identification, Timeline | None]:
    """Who speaks in a file, and with ``timeline`` when: streamed when it is long (see
    :func:`is_long`), decoded whole otherwise, so a short clip's results are those of
    :meth:`Gallery.identify <speakerid.gallery.Gallery.identify>` exactly.

    Args:
        source: an audio file.
        gallery, top_k, timeline, progress, trim_ends: as for :func:`summarise_recording`.

    Returns:
        The identification, and the timeline (None unless asked for).

    Raises:
        SpeakerIDError: as for :func:`summarise_recording`.
    """
    if is_long(source):
        summary = summarise_recording(source, gallery, None, top_k, timeline, progress, trim_ends)
        return summary.identification, summary.timeline
    from .audio import load_audio
    from .timeline import identify_timeline

    clip = load_audio(source)
    prepared = gallery.encoder.prepare(clip, trim_ends)
    found = gallery.identify_embedding(gallery.encoder.embed_prepared(prepared), top_k, prepared.speech_s)
    if not timeline:
        return found, None
    return found, identify_timeline(
        prepared, gallery.encoder, gallery, original_duration_s=clip.duration_s,
        progress=lambda done, total: progress("timeline", done, total) if progress else None)


class LongRecording:
    """A recording prepared for one model, its signal and features on disk until :meth:`close`.

    Raises SpeakerIDError, as :func:`~speakerid.preprocess.prepare` does, when the file cannot be
    decoded or holds too little speech. ``trim_ends``: cut the first and last minute of a recording
    over 5 minutes, as :func:`~speakerid.preprocess.prepare` does when asked.
    """

    def __init__(self, source: str | Path | bytes, model: SpeakerModel, name: str | None = None,
                 progress: StageProgress | None = None,
                 max_duration_s: float = MAX_DURATION_S, trim_ends: bool = False) -> None:
        self.model = model
        self.trim_ends = trim_ends
        self.config: PreprocessConfig = model.pipeline.preprocess
        self.sample_rate = self.config.sample_rate
        self._progress = progress or (lambda stage, done, total: None)
        self._signal = Spill()
        self._features: list[Spill] = []
        try:
            self._decode(source, name, max_duration_s)
            self._find_speech()
            self._set_loudness()
            self._compute_features()
        except BaseException:
            self.close()
            raise

    # --- stages -----------------------------------------------------------------------------
    def _decode(self, source: str | Path | bytes, name: str | None, max_duration_s: float) -> None:
        """Decode, mono, resample, spill; the input's rate and channels are noted for display."""
        declared = probe_duration(source)
        resampler = None
        frames = 0
        for block in audio_blocks(source, name, max_duration_s):
            if resampler is None:
                self.name, self.input_rate, self.channels = block.name, block.sample_rate, block.channels
                resampler = _Resampler(block.sample_rate, self.sample_rate)
            frames += len(block.samples)
            self._signal.append(resampler(to_mono(block.samples)))
            done = frames / self.input_rate
            self._progress("decode", done, max(declared or done, done))
        self._signal.append(resampler(np.zeros(0, np.float32), last=True))
        self.duration_s = frames / self.input_rate

    def _find_speech(self) -> None:
        """Trim a long recording's ends when asked, then find its speech spans (trimmed timeline)."""
        rate, total = self.sample_rate, self._signal.rows
        self.trim = trim_span(total / rate, self.config, self.trim_ends)
        if self.trim == (0.0, total / rate):
            first, last = 0, total
        else:
            first, last = (int(round(t * rate)) for t in self.trim)
        self.spans = self._speech_spans(first, last)
        self._pieces = [(first + int(round(a * rate)), min(first + int(round(b * rate)), last))
                        for a, b in self.spans]
        self._pieces = [(a, b) for a, b in self._pieces if b > a]
        self.trimmed_s = (last - first) / rate
        self.speech_samples = sum(b - a for a, b in self._pieces)
        self.speech_s = self.speech_samples / rate
        _require_speech(self.speech_s, self.config.min_speech_s, self.name)

    def _speech_spans(self, first: int, last: int) -> list[Span]:
        method, rate = self.config.silence_method, self.sample_rate
        if method == "none" or last == first:
            return [(0.0, (last - first) / rate)]
        if method == "webrtc" and rate == VAD_RATE:
            import webrtcvad

            vad = webrtcvad.Vad(self.config.vad_aggressiveness)
            blocks = list(self._frame_blocks(first, last, int(VAD_FRAME_S * rate),
                                             lambda frames: webrtc_frames(frames, vad)))
            return webrtc_spans(*map(np.concatenate, zip(*blocks))) if blocks else []
        if method == "energy":
            levels = list(self._frame_blocks(first, last, max(1, int(0.03 * rate)), frame_levels_db))
            return energy_spans(np.concatenate(levels)) if levels else []
        # pydub, or WebRTC on a pipeline at another rate: the trimmed signal at once
        return remove_silence(self._signal.read(first, last - first), rate, self.config)[1]

    def _frame_blocks(self, first: int, last: int, frame: int, analyse: Callable) -> Iterator:
        """``analyse`` of every whole frame of samples first..last, in blocks of frames, in order."""
        count = (last - first) // frame
        for start in range(0, count, VAD_BLOCK_FRAMES):
            size = min(VAD_BLOCK_FRAMES, count - start)
            yield analyse(self._signal.read(first + start * frame, size * frame).reshape(size, frame))
            rate = self.sample_rate
            self._progress("speech", (start + size) * frame / rate, count * frame / rate)

    def _set_loudness(self) -> None:
        """:func:`~speakerid.preprocess.normalise_loudness` from sums over the speech: its mean,
        then the square and peak of the centred speech."""
        total = sum(float(block.sum(dtype=np.float64)) for block in self._speech_blocks(raw=True))
        self._mean = total / self.speech_samples
        self._gain = 1.0
        square, peak = 0.0, 0.0
        for block in self._speech_blocks():
            square += float(np.dot(block.astype(np.float64), block.astype(np.float64)))
            peak = max(peak, float(block.max()), -float(block.min()))
        self._gain = loudness_gain(np.sqrt(square / self.speech_samples), peak, self.config.target_dbfs)

    def _speech_blocks(self, raw: bool = False) -> Iterator[np.ndarray]:
        """The speech spans joined, in blocks; centred and scaled unless ``raw``."""
        for a, b in self._pieces:
            for block in self._signal.blocks(a, b, BLOCK_SAMPLES):
                if raw:
                    yield block
                else:
                    centred = np.subtract(block, self._mean, dtype=np.float32)
                    centred *= self._gain
                    yield centred

    def _compute_features(self) -> None:
        """Every front end's frames of the speech, spilled; fbank's floor waits for the peak."""
        framers = [_Framer(config, self.sample_rate, self.speech_samples)
                   for config in self.model.feature_configs]
        self._features = [framer.spill for framer in framers]
        done = 0
        for block in self._speech_blocks():
            for framer in framers:
                framer.push(block)
            done += len(block)
            self._progress("features", done / self.sample_rate, self.speech_s)
        for framer in framers:
            framer.finish()
        self._peaks = [framer.peak for framer in framers]
        self.frame_count = min(spill.rows for spill in self._features)

    # --- results ----------------------------------------------------------------------------
    def features(self, start: int, count: int) -> np.ndarray:
        """Frames ``start`` to ``start + count`` of what ``model.features`` gives for the
        prepared speech (every front end's bands side by side)."""
        from .features import floor_features

        count = min(count, self.frame_count - start)
        return np.concatenate([floor_features(spill.read(start, count), peak, config)
                               for spill, peak, config in zip(self._features, self._peaks,
                                                              self.model.feature_configs)], axis=1)

    def embedding(self) -> np.ndarray:
        """The clip's embedding, as ``model.embed_features`` of all its features would give it."""
        from .features import window_layout

        starts, length = window_layout(self.frame_count, self.model.pipeline)
        vectors = []
        for first in range(0, len(starts), EMBED_BATCH):
            batch = np.stack([self.features(s, length) for s in starts[first:first + EMBED_BATCH]])
            vectors.append(self.model.embed_windows(batch))
            self._progress("embed", min(first + EMBED_BATCH, len(starts)), len(starts))
        return self.model.pool_windows(np.concatenate(vectors))

    def timeline(self, gallery: Gallery, progress: Progress | None = None,
                 **options) -> Timeline:
        """Who speaks when, as :func:`~speakerid.timeline.identify_timeline` finds it."""
        from .timeline import TimeMap, timeline_of_features

        return timeline_of_features(self.features, self.frame_count, TimeMap(self.spans, self.trim[0]),
                                    self.duration_s, self.speech_s, self.model, gallery,
                                    progress=progress, batch=TIMELINE_BATCH, **options)

    def overview(self, columns: int = 2000) -> tuple[np.ndarray, float]:
        """The mono input at the pipeline's rate as a (signal, rate) pair short enough to plot:
        the minimum and maximum of each of ``columns`` stretches, in turn."""
        step = max(1, -(-self._signal.rows // columns))
        pairs = []
        for block in self._signal.blocks(0, self._signal.rows, step * max(1, BLOCK_SAMPLES // step)):
            block = np.pad(block, (0, -len(block) % step), mode="edge").reshape(-1, step)
            pairs.append(np.stack([block.min(axis=1), block.max(axis=1)], axis=1).reshape(-1))
        return np.concatenate(pairs), 2 * self.sample_rate / step

    def close(self) -> None:
        for spill in (self._signal, *self._features):
            spill.close()

    def __enter__(self) -> LongRecording:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Resampler:
    """soxr's streaming resampler (or nothing, rates being equal), block after block."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._stream = None if rate_in == rate_out else soxr.ResampleStream(
            rate_in, rate_out, 1, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return block.astype(np.float32, copy=False)
        return self._stream.resample_chunk(block, last=last)


class _Framer:
    """One front end's frames of a stream of samples, computed a block of frames at a time and
    spilled; the same frames :func:`~speakerid.features.log_mel_batch` makes of the whole signal."""

    def __init__(self, config: FeatureConfig, sample_rate: int, samples: int) -> None:
        from .features import edge_padding

        self.config, self.sample_rate = config, sample_rate
        left, self._right = edge_padding(samples, config)
        self._buffer = np.zeros(left, np.float32)
        self.spill = Spill(config.n_mels)
        self.peak = -np.inf

    def push(self, block: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, block])
        if len(self._buffer) >= FEATURE_BLOCK_FRAMES * self.config.hop_length:
            self._frame()

    def finish(self) -> None:
        self._buffer = np.concatenate([self._buffer, np.zeros(self._right, np.float32)])
        self._frame()

    def _frame(self) -> None:
        """Every whole frame the buffer holds; the samples later frames need stay."""
        import tensorflow as tf

        from .features import spectral_frames

        win, hop = self.config.win_length, self.config.hop_length
        if len(self._buffer) < win:
            return
        count = 1 + (len(self._buffer) - win) // hop
        frames = spectral_frames(tf.constant(self._buffer[None, :(count - 1) * hop + win]),
                                 self.sample_rate, self.config)[0].numpy()
        self.spill.append(frames)
        self.peak = max(self.peak, float(frames.max()))
        self._buffer = self._buffer[count * hop:]
