"""Waveform preparation as named stages; each stage returns what it produced so the app can show it.

decode -> mono -> resample -> trim (long recordings, when asked) -> silence removal -> loudness.

The trim is the method's rule for web downloads used as training data: the first and last minute
of a recording over 5 minutes (intros, applause) go. The training recipe asks for it; a clip being
identified keeps every minute unless its user asks (``trim_ends``), since a speaker may well be
heard in them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import soxr

from .audio import AudioClip
from .config import PreprocessConfig
from .errors import SpeakerIDError
from .i18n import _
from .results import Span


@dataclass(frozen=True)
class Stage:
    """One step of preparation: its output signal and, for cutting stages, the spans it kept.

    ``kept`` holds (start_s, end_s) spans on the timeline of the stage's *input*.
    """

    name: str
    signal: np.ndarray
    sample_rate: int
    note: str
    kept: list[Span] | None = None

    @property
    def duration_s(self) -> float:
        return len(self.signal) / float(self.sample_rate)


@dataclass(frozen=True)
class Prepared:
    """The result of :func:`prepare`: the speech signal plus every intermediate stage."""

    stages: list[Stage] = field(default_factory=list)

    @property
    def signal(self) -> np.ndarray:
        return self.stages[-1].signal

    @property
    def sample_rate(self) -> int:
        return self.stages[-1].sample_rate

    @property
    def speech_s(self) -> float:
        return self.stages[-1].duration_s

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)


def prepare(clip: AudioClip, config: PreprocessConfig, require_speech: bool = True,
            trim_ends: bool = False) -> Prepared:
    """Run every stage on a decoded clip; raise SpeakerIDError when too little speech remains.

    ``trim_ends``: cut the head and tail of a long recording (see :func:`trim_span`)."""
    if require_speech:
        _require_length(clip, config.min_speech_s)
    stages = [Stage("decode", clip.samples, clip.sample_rate,
                    f"{clip.channels} channel(s), {clip.sample_rate} Hz, {clip.duration_s:.2f} s")]
    mono = to_mono(clip.samples)
    stages.append(Stage("mono", mono, clip.sample_rate,
                        "channel mean" if clip.channels > 1 else "already mono"))
    signal = resample(mono, clip.sample_rate, config.sample_rate)
    stages.append(Stage("resample", signal, config.sample_rate,
                        f"{clip.sample_rate} Hz -> {config.sample_rate} Hz"))
    signal, span = trim_long_recording(signal, config.sample_rate, config, trim_ends)
    stages.append(Stage("trim", signal, config.sample_rate,
                        "kept {:.1f}-{:.1f} s".format(*span) if span != (0.0, stages[-1].duration_s)
                        else "clip is short: nothing trimmed" if trim_ends
                        else "nothing trimmed (cutting a long recording's ends was not asked for)",
                        kept=[span]))
    signal, spans = remove_silence(signal, config.sample_rate, config)
    stages.append(Stage("silence", signal, config.sample_rate,
                        f"{config.silence_method}: kept {len(signal) / config.sample_rate:.2f} s "
                        f"of speech in {len(spans)} segment(s)", kept=spans))
    if require_speech:
        _require_speech(len(signal) / config.sample_rate, config.min_speech_s, clip.name)
    signal = normalise_loudness(signal, config.target_dbfs)
    stages.append(Stage("normalise", signal, config.sample_rate,
                        f"DC offset removed, RMS set to {config.target_dbfs:.0f} dBFS"))
    return Prepared(stages)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels (the reference's stereo-to-mono); one channel is returned as a view.

    No stage writes into its input, so the view is safe, and a long mono clip is not copied.
    """
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    if samples.shape[1] == 1:
        return samples[:, 0].astype(np.float32, copy=False)
    return samples.mean(axis=1, dtype=np.float32)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality polyphase resampling (soxr, as librosa uses)."""
    if rate_in == rate_out:
        return signal.astype(np.float32, copy=False)
    return soxr.resample(signal, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def trim_long_recording(signal: np.ndarray, sample_rate: int, config: PreprocessConfig,
                        trim_ends: bool) -> tuple[np.ndarray, Span]:
    """Cut the head and tail of long web recordings (intros, applause) when ``trim_ends``; leave
    short clips alone."""
    start, end = trim_span(len(signal) / sample_rate, config, trim_ends)
    if (start, end) == (0.0, len(signal) / sample_rate):
        return signal, (start, end)
    return signal[int(round(start * sample_rate)):int(round(end * sample_rate))], (start, end)


def trim_span(duration_s: float, config: PreprocessConfig, trim_ends: bool) -> Span:
    """The part of a clip of ``duration_s`` that :func:`trim_long_recording` keeps: all of it
    unless ``trim_ends`` and the clip is long."""
    if not trim_ends or duration_s < config.trim_min_duration_s:
        return 0.0, duration_s
    return config.trim_head_s, duration_s - config.trim_tail_s


def remove_silence(signal: np.ndarray, sample_rate: int,
                   config: PreprocessConfig) -> tuple[np.ndarray, list[Span]]:
    """Keep the speech spans found by the configured method; return them with the joined signal."""
    if config.silence_method == "pydub":
        return _pydub_split(signal, sample_rate, config)
    if config.silence_method == "none" or len(signal) == 0:
        spans = [(0.0, len(signal) / sample_rate)]
    elif config.silence_method == "energy":
        spans = energy_speech_spans(signal, sample_rate)
    elif config.silence_method == "webrtc":
        spans = webrtc_speech_spans(signal, sample_rate, config.vad_aggressiveness)
    else:
        raise ValueError(f"unknown silence_method {config.silence_method!r}")
    return join_spans(signal, sample_rate, spans), spans


def join_spans(signal: np.ndarray, sample_rate: int, spans: list[Span]) -> np.ndarray:
    pieces = [signal[int(round(a * sample_rate)):int(round(b * sample_rate))] for a, b in spans]
    return _concatenate(pieces)


def _concatenate(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)


def _pydub_split(signal: np.ndarray, sample_rate: int,
                 config: PreprocessConfig) -> tuple[np.ndarray, list[Span]]:
    """``split_on_silence`` chunks joined, cut with pydub's own arithmetic so they match sample for sample.

    pydub turns milliseconds into frames with ``int(ms * rate / 1000)`` (truncation, not rounding) and
    pads a chunk that ends past the data with up to 2 ms of silence; both matter at 22.05 kHz.
    """
    spans = pydub_speech_spans(signal, sample_rate, config)
    pieces = []
    for start_s, end_s in spans:
        start, end = (int(round(t * 1000) * (sample_rate / 1000.0)) for t in (start_s, end_s))
        piece = signal[start:end]
        pieces.append(np.pad(piece, (0, end - start - len(piece))))
    return _concatenate(pieces), spans


def pydub_speech_spans(signal: np.ndarray, sample_rate: int, config: PreprocessConfig) -> list[Span]:
    """The reference's ``split_on_silence`` spans (same detection and the same keep-silence padding)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pydub warns that ffmpeg is absent
        from pydub import AudioSegment
        from pydub.silence import detect_nonsilent

    segment = AudioSegment(_pcm16(signal).tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)
    keep = config.keep_silence_ms
    ranges = [[start - keep, end + keep] for start, end in detect_nonsilent(
        segment, config.min_silence_ms, config.silence_thresh_dbfs, 1)]
    for first, second in zip(ranges, ranges[1:]):
        if second[0] < first[1]:
            first[1] = (first[1] + second[0]) // 2
            second[0] = first[1]
    length = len(segment)
    return [(max(a, 0) / 1000.0, min(b, length) / 1000.0) for a, b in ranges]


def energy_speech_spans(signal: np.ndarray, sample_rate: int, frame_s: float = 0.03,
                        dynamic_range_db: float = 40.0, floor_margin_db: float = 12.0) -> list[Span]:
    """Adaptive energy gate: a frame is speech when it stands out of the clip's own noise floor."""
    frame = max(1, int(frame_s * sample_rate))
    count = len(signal) // frame
    if count == 0:
        return []
    return energy_spans(frame_levels_db(signal[:count * frame].reshape(count, frame)), frame_s,
                        dynamic_range_db, floor_margin_db)


def energy_spans(level: np.ndarray, frame_s: float = 0.03, dynamic_range_db: float = 40.0,
                 floor_margin_db: float = 12.0) -> list[Span]:
    """:func:`energy_speech_spans` from the frames' levels (all of the clip's: the gate is relative)."""
    floor = np.percentile(level, 10)
    threshold = max(floor + floor_margin_db, level.max() - dynamic_range_db, -70.0)
    return _smooth_decisions(level > threshold, frame_s)


VAD_BLOCK_FRAMES = 4096  # 2 minutes of 30 ms frames
VAD_RATE = 16000
VAD_FRAME_S = 0.03


def webrtc_speech_spans(signal: np.ndarray, sample_rate: int, aggressiveness: int = 2) -> list[Span]:
    """WebRTC's GMM voice-activity detector, gated by energy so that steady noise is not speech."""
    import webrtcvad

    pcm = resample(signal, sample_rate, VAD_RATE)
    frame = int(VAD_FRAME_S * VAD_RATE)
    count = len(pcm) // frame
    if count == 0:
        return []
    frames = pcm[:count * frame].reshape(count, frame)
    vad = webrtcvad.Vad(aggressiveness)
    # in blocks, so that no full-length int16 copy is made
    levels, voiced = zip(*(webrtc_frames(frames[start:start + VAD_BLOCK_FRAMES], vad)
                           for start in range(0, count, VAD_BLOCK_FRAMES)))
    return webrtc_spans(np.concatenate(levels), np.concatenate(voiced))


def webrtc_frames(frames: np.ndarray, vad) -> tuple[np.ndarray, np.ndarray]:
    """Level (dB) and WebRTC's speech decision of each 30 ms frame of a (count, 480) block at
    16 kHz. The detector keeps state from frame to frame: blocks must come in order."""
    step = frames.shape[1] * 2  # bytes of one 16-bit frame
    pcm = _pcm16(frames - frames.mean(axis=1, keepdims=True)).tobytes()  # without its DC offset
    voiced = np.array([vad.is_speech(pcm[i:i + step], VAD_RATE) for i in range(0, len(pcm), step)],
                      dtype=bool)
    return frame_levels_db(frames), voiced


def webrtc_spans(level: np.ndarray, voiced: np.ndarray) -> list[Span]:
    """Speech spans from every frame's level and decision: WebRTC's, gated by energy relative to
    the whole clip, so that steady noise is not speech."""
    loud_enough = level > max(np.percentile(level, 10) + 6.0, level.max() - 45.0, -70.0)
    return _smooth_decisions(voiced & loud_enough, VAD_FRAME_S)


def frame_levels_db(frames: np.ndarray, block: int = 4096) -> np.ndarray:
    """Power of each frame around its own mean, in dB.

    Around the mean, so that a DC offset (cheap sound cards) is not mistaken for sound; in blocks,
    so that an hour-long clip needs no full-length float64 copy.
    """
    power = np.empty(len(frames))
    for start in range(0, len(frames), block):
        power[start:start + block] = frames[start:start + block].astype(np.float64).var(axis=1)
    return 10 * np.log10(power + 1e-12)


def _pcm16(signal: np.ndarray) -> np.ndarray:
    """16-bit PCM exactly as a 16-bit file holds it: the inverse of the decoders' ``k / 32768``."""
    return np.clip(np.round(signal * 32768.0), -32768, 32767).astype("<i2")


def _smooth_decisions(voiced: np.ndarray, frame_s: float, pad_s: float = 0.1,
                      merge_gap_s: float = 0.3, min_span_s: float = 0.1) -> list[Span]:
    """Frame decisions to spans: pad each side, bridge short pauses, drop clicks."""
    spans: list[list[float]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
    total = len(voiced) * frame_s
    for start, end in zip(edges[::2], edges[1::2]):
        a, b = max(0.0, start * frame_s - pad_s), min(total, end * frame_s + pad_s)
        if spans and a - spans[-1][1] <= merge_gap_s:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans if b - a >= min_span_s]


def normalise_loudness(signal: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Remove the DC offset, then scale to a fixed RMS level, backing off so that no sample clips.

    The offset is removed first because it carries no voice yet would count as loudness.
    """
    if len(signal) == 0:
        return np.zeros(0, np.float32)
    centred = np.subtract(signal, signal.mean(dtype=np.float64), dtype=np.float32)
    centred *= loudness_gain(np.sqrt(_mean_square(centred)),
                             max(float(centred.max()), -float(centred.min())), target_dbfs)
    return centred


def loudness_gain(rms: float, peak: float, target_dbfs: float) -> float:
    """The factor that brings speech of ``rms`` to ``target_dbfs`` without clipping its ``peak``
    (1 for silence, which no gain can bring to a level)."""
    if rms < 1e-8:
        return 1.0
    return min(10 ** (target_dbfs / 20) / rms, 0.99 / peak)


def _mean_square(signal: np.ndarray, block: int = 1 << 20) -> float:
    """Mean of the squares, accumulated in float64 block by block (no full-length float64 copy)."""
    total = 0.0
    for start in range(0, len(signal), block):
        piece = signal[start:start + block].astype(np.float64)
        total += float(np.dot(piece, piece))
    return total / len(signal)


def _require_length(clip: AudioClip, min_speech_s: float) -> None:
    """Refuse a clip too short to hold enough speech before any work (and say so, not "silent")."""
    if clip.duration_s < min_speech_s:
        label = f"{clip.name}: " if clip.name else ""
        raise SpeakerIDError(label + _("the clip is only {seconds:.2f} s long; at least {needed:.1f} s of "
                                       "speech is needed").format(seconds=clip.duration_s,
                                                                  needed=min_speech_s))


def _require_speech(speech_s: float, min_speech_s: float, name: str) -> None:
    label = f"{name}: " if name else ""
    if speech_s == 0:
        raise SpeakerIDError(label + _("no speech found: the clip is silent or only noise"))
    if speech_s < min_speech_s:
        raise SpeakerIDError(label + _("only {seconds:.2f} s of speech found; at least {needed:.1f} s is "
                                       "needed").format(seconds=speech_s, needed=min_speech_s))
