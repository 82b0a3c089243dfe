"""Continuous identification from a live audio stream (the app's microphone page).

:class:`LiveIdentifier` keeps the last ``buffer_s`` seconds of audio, resampled to the encoder's
rate, and identifies the speaker in it every ``hop_s`` seconds of new audio when enough speech is
present. Audio arrives in frames of any rate, channel count and sample type (WebRTC delivers
48 kHz int16 frames of 20 ms, interleaved or planar).

Keeping up with a live stream: the media thread only queues each frame
(:meth:`LiveIdentifier.push_frame`, a deque append). Two worker threads (:meth:`LiveIdentifier.start`)
do the rest: one takes the queued frames in batches a few times a second and converts and resamples
each batch at once, so the buffer and the level follow the stream even while the other identifies,
at most once per hop. No frame is dropped when identification is slow.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import soxr

from ..audio import from_array
from ..errors import SpeakerIDError
from ..i18n import _, current_language, set_language
from ..numerals import number
from ..preprocess import prepare
from ..results import UNKNOWN_SPEAKER
from ..verdict import percent

if TYPE_CHECKING:
    from ..gallery import Gallery
    from ..models.base import SpeakerModel as Encoder
    from ..results import Identification

Layout = Literal["interleaved", "planar"]

BUFFER_S = 6.0
HOP_S = 1.5
MIN_SPEECH_S = 1.5
HISTORY = 120
TICK_S = 0.25  # how often the workers take the queued frames and check whether an update is due
IDLE_STOP_S = 5.0  # the workers end after this long without a frame (the browser left)
EXIT_WAIT_S = 60.0  # at interpreter exit, the longest wait for each thread (a warm-up or identification)

_LOGGER = logging.getLogger(__name__)
_IDENTIFIERS: weakref.WeakSet[LiveIdentifier] = weakref.WeakSet()  # stopped and joined at exit


@dataclass(frozen=True)
class LiveResult:
    """One identification of the rolling buffer (``identification`` None: not enough speech)."""

    at_s: float  # seconds of audio received when it was made
    speech_s: float  # speech found in the buffer
    level_db: float  # loudness of the last half second (dBFS)
    identification: Identification | None
    message: str
    elapsed_s: float  # how long the identification took

    @property
    def speaker(self) -> str | None:
        return self.identification.speaker if self.identification is not None else None


def to_float_mono(samples: Any, channels: int | None = None, layout: Layout = "interleaved"
                  ) -> np.ndarray:
    """Any PCM block as float32 mono in [-1, 1].

    1-D input is interleaved when ``channels`` > 1; 2-D input is (frames, channels), or
    (channels, frames) with ``layout="planar"``. Integer samples are scaled by their type's range
    (unsigned types are centred first).
    """
    array = np.asarray(samples)
    if array.size == 0:
        return np.zeros(0, np.float32)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        half = float(np.iinfo(array.dtype).max) / 2 + 0.5
        array = (array.astype(np.float32) - half) / half
    elif np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / (float(np.iinfo(array.dtype).max) + 1)
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32, copy=False)
    else:
        raise SpeakerIDError(_("audio samples of type {dtype} are not PCM").format(dtype=array.dtype))
    if array.ndim == 1:
        if channels and channels > 1:
            usable = len(array) - len(array) % channels
            array = array[:usable].reshape(-1, channels)
        else:
            return np.clip(np.nan_to_num(array), -1, 1)
    elif array.ndim == 2:
        if layout == "planar":
            array = array.T
    else:
        raise SpeakerIDError(_("expected a 1-D or 2-D block of samples, not shape {shape}").format(
            shape=array.shape))
    return np.clip(np.nan_to_num(array.mean(axis=1, dtype=np.float32)), -1, 1)


class LiveIdentifier:
    """A rolling audio buffer that identifies the current speaker every ``hop_s`` seconds."""

    def __init__(self, encoder: Encoder, gallery: Gallery, buffer_s: float = BUFFER_S,
                 hop_s: float = HOP_S, min_speech_s: float = MIN_SPEECH_S, top_k: int = 3) -> None:
        if buffer_s <= 0 or hop_s <= 0:
            raise SpeakerIDError(_("the live buffer and hop must be positive"))
        self.encoder = encoder
        self.gallery = gallery
        self.rate = encoder.pipeline.preprocess.sample_rate
        self.buffer_s = buffer_s
        self.hop_s = hop_s
        self.min_speech_s = max(min_speech_s, encoder.pipeline.preprocess.min_speech_s)
        self.top_k = top_k
        self._ring = np.zeros(int(round(buffer_s * self.rate)), np.float32)
        self._filled = 0  # valid samples in the ring (up to its size)
        self._received = 0  # samples received since the start, at self.rate
        self._last_update = 0  # self._received at the last identification
        self._stream: soxr.ResampleStream | None = None
        self._stream_rate: int | None = None
        self._lock = threading.Lock()
        self._busy = threading.Lock()
        self._frames: deque[Any] = deque()  # av.AudioFrame-like, queued by the media thread
        self._last_frame = time.monotonic()
        self._workers: list[threading.Thread] = []
        self._warm_up: threading.Thread | None = None
        self._stop = threading.Event()
        self._ingesting = threading.Lock()  # one ingest at a time keeps the frames in order
        self.idle_stop_s = IDLE_STOP_S
        self.latest: LiveResult | None = None
        self.problem: str | None = None  # why the workers' last identification failed
        self._language = current_language()  # of the messages the workers make (see start)
        self.history: deque[LiveResult] = deque(maxlen=HISTORY)
        self.started = time.monotonic()
        _IDENTIFIERS.add(self)

    # --- input --------------------------------------------------------------------------------
    def push(self, samples: Any, sample_rate: int, channels: int | None = None,
             layout: Layout = "interleaved") -> None:
        """Add a block of audio (see :func:`to_float_mono` for the accepted shapes and types)."""
        if not isinstance(sample_rate, int | np.integer) or not 1000 <= int(sample_rate) <= 384000:
            raise SpeakerIDError(_("sample rate {sample_rate!r} is not between 1 and 384 kHz").format(
                sample_rate=sample_rate))
        mono = to_float_mono(samples, channels, layout)
        if len(mono) == 0:
            return
        with self._lock:
            if self._stream_rate != int(sample_rate):
                self._stream = (None if int(sample_rate) == self.rate else
                                soxr.ResampleStream(int(sample_rate), self.rate, 1, dtype="float32"))
                self._stream_rate = int(sample_rate)
            block = mono if self._stream is None else self._stream.resample_chunk(mono)
            self._append(block)

    def push_frame(self, frame: Any) -> None:
        """Queue an ``av.AudioFrame`` (what a WebRTC audio sink receives); :meth:`ingest` reads it.

        Called on the media thread for every 20 ms frame, so it does nothing else."""
        self._frames.append(frame)
        self._last_frame = time.monotonic()

    def ingest(self) -> int:
        """Add the queued frames to the buffer, each run of frames of one format as one block;
        how many frames were taken."""
        with self._ingesting:
            taken = []
            while self._frames:
                taken.append(self._frames.popleft())
            start = 0
            for end in range(1, len(taken) + 1):
                if end == len(taken) or _frame_format(taken[end]) != _frame_format(taken[start]):
                    self._push_frames(taken[start:end])
                    start = end
            return len(taken)

    def _push_frames(self, frames: list[Any]) -> None:
        """Frames of one format (rate, channels, layout) as one block."""
        rate, channels, planar, _layout = _frame_format(frames[0])
        block = np.concatenate([frame.to_ndarray() for frame in frames], axis=1)
        if planar:
            self.push(block, rate, channels, layout="planar")
        else:
            self.push(block.reshape(-1), rate, channels)

    def _append(self, block: np.ndarray) -> None:
        if len(block) == 0:  # the resampler holds back its first few milliseconds
            return
        size = len(self._ring)
        if len(block) >= size:
            self._ring[:] = block[-size:]
        else:
            self._ring = np.roll(self._ring, -len(block))
            self._ring[-len(block):] = block
        self._filled = min(size, self._filled + len(block))
        self._received += len(block)

    def reset(self) -> None:
        with self._lock:
            self._frames.clear()
            self._ring[:] = 0
            self._filled = self._received = self._last_update = 0
            self._stream, self._stream_rate = None, None
            self.latest = None
            self.history.clear()
            self.started = time.monotonic()

    def warm_up(self) -> threading.Thread:
        """Embed silence of two lengths, on a thread, before the stream starts.

        The first calls trace the network for the shapes that live updates use: seconds of pure
        Python that, during a stream, would hold the interpreter while frames arrive. The silence
        goes through the model's own front end and embedding (``SpeakerModel.warm_up``, as
        :meth:`_identify` embeds), so that every kind of model, a fusion of front ends included,
        is warmed up as it will run."""
        def run() -> None:
            for seconds in (self.min_speech_s, self.buffer_s):
                self.encoder.warm_up(seconds, self.rate)

        thread = threading.Thread(target=run, name="speakerid-live-warm-up", daemon=True)
        thread.start()
        self._warm_up = thread
        return thread

    # --- the workers --------------------------------------------------------------------------
    def start(self) -> None:
        """Ingest and identify on two worker threads (if not running already) until :meth:`stop`,
        or until no frame has come for ``idle_stop_s`` seconds (a browser that left sends none).
        Apart, so that the buffer and the level keep up while an identification runs. The messages
        they make are in the language of the page that called this last."""
        self._language = current_language()
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._last_frame = time.monotonic()
            self._workers = [threading.Thread(target=loop, name=f"speakerid-live-{loop.__name__}",
                                              daemon=True)
                             for loop in (self._ingest_loop, self._identify_loop)]
            for worker in self._workers:
                worker.start()

    def stop(self) -> None:
        """End the workers (an identification in progress finishes first)."""
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait until the warm-up and the workers have ended (the workers end after :meth:`stop`)."""
        for thread in [*self._workers, *filter(None, [self._warm_up])]:
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return any(worker.is_alive() for worker in self._workers)

    def _ingest_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            if not self.ingest() and time.monotonic() - self._last_frame > self.idle_stop_s:
                self._stop.set()

    def _identify_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            set_language(self._language)  # this thread's own; the page may have switched since
            try:
                self.update()
                self.problem = None
            except SpeakerIDError as exc:
                self.problem = str(exc)
            except Exception:  # a bug must not end the stream silently: logged, and said on the page
                _LOGGER.exception("live identification failed")
                self.problem = _("live identification failed (the details are in the server's log)")

    # --- state --------------------------------------------------------------------------------
    @property
    def received_s(self) -> float:
        return self._received / self.rate

    @property
    def buffered_s(self) -> float:
        return self._filled / self.rate

    def buffer(self) -> np.ndarray:
        """A copy of the buffered audio, oldest first, at the encoder's rate."""
        with self._lock:
            return self._ring[len(self._ring) - self._filled:].copy()

    def level_db(self, seconds: float = 0.5) -> float:
        with self._lock:
            count = min(self._filled, int(seconds * self.rate))
            tail = self._ring[len(self._ring) - count:]
            power = float(np.mean(np.square(tail, dtype=np.float64))) if count else 0.0
        return 10 * np.log10(power + 1e-12)

    def due(self) -> bool:
        """True when ``hop_s`` seconds of new audio arrived since the last identification."""
        return (self._received - self._last_update) >= self.hop_s * self.rate

    # --- identification -----------------------------------------------------------------------
    def update(self, force: bool = False) -> LiveResult | None:
        """Identify the buffer when due (or when ``force``); None when not due or already running.

        Queued frames are ingested first."""
        self.ingest()
        if not (force or self.due()) or self._filled == 0:
            return None
        if not self._busy.acquire(blocking=False):
            return None
        try:
            with self._lock:
                self._last_update = self._received
                at_s = self._received / self.rate
            signal = self.buffer()
            level = self.level_db()
            started = time.perf_counter()
            result = self._identify(signal, at_s, level, started)
            self.latest = result
            self.history.append(result)
            return result
        finally:
            self._busy.release()

    def _identify(self, signal: np.ndarray, at_s: float, level: float, started: float) -> LiveResult:
        config = self.encoder.pipeline.preprocess
        prepared = prepare(from_array(signal, self.rate, "microphone"), config, require_speech=False)
        speech = prepared.speech_s
        if speech < self.min_speech_s:
            message = (_("listening: no speech yet") if speech == 0 else
                       _("listening: {speech:.1f} s of speech in the last {seconds:.0f} s, {needed:.1f} s "
                         "needed").format(speech=speech, seconds=len(signal) / self.rate,
                                          needed=self.min_speech_s))
            return LiveResult(at_s, speech, level, None, message, time.perf_counter() - started)
        embedding = self.encoder.embed_prepared(prepared)
        found = self.gallery.identify_embedding(embedding, self.top_k, speech)
        best = found.best
        if best is None:
            message = _("no speakers enrolled")
        elif found.speaker is None:
            message = _("{unknown} (closest: {name}, score {score})").format(
                unknown=_(UNKNOWN_SPEAKER), name=best.name, score=number(best.score, ".2f"))
        else:
            message = _("{name} (score {score}, {probability})").format(
                name=best.name, score=number(best.score, ".2f"), probability=percent(best.probability))
        return LiveResult(at_s, speech, level, found, message, time.perf_counter() - started)


def _frame_format(frame: Any) -> tuple[int, int, bool, str]:
    """(sample rate, channels, planar, sample type) of an ``av.AudioFrame``."""
    return (int(frame.sample_rate), len(frame.layout.channels), bool(frame.format.is_planar),
            frame.format.name)


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every identifier and wait for its threads before Python finalises.

    They are daemon threads, so that a page left streaming never keeps a server from exiting.
    But a daemon thread still inside TensorFlow when the interpreter finalises is ended by
    ``pthread_exit`` in the middle of C++ code, which aborts the process ("terminate called
    after throwing an instance of ... FATAL: exception not rethrown": seen when a test process
    exited while the Live page's warm-up ran). atexit functions run before that, while threads
    can still finish; an identification or a warm-up in progress ends first."""
    for identifier in list(_IDENTIFIERS):
        identifier.stop()
        identifier.join(EXIT_WAIT_S)
