"""Decode and clean each training file once; keep the speech waveforms on disk for the next run.

Training reads the same audio every epoch: decoding, resampling and voice-activity detection
per sample would cost more than the network. The cache is keyed by the file (path, size, mtime)
and the preprocessing settings, so changing either prepares the audio again.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import paths
from ..audio import load_audio
from ..config import PreprocessConfig
from ..datasets import SpeakerSource
from ..errors import SpeakerIDError
from ..i18n import _, pgettext
from ..preprocess import prepare


@dataclass(frozen=True)
class SpeakerAudio:
    """One speaker's speech: the cleaned signal of each usable file, in file order."""

    name: str
    signals: tuple[np.ndarray, ...]

    def joined(self) -> np.ndarray:
        return np.concatenate(self.signals)


def load_speakers(speakers: list[SpeakerSource], config: PreprocessConfig, progress: bool = True,
                  workers: int = 2) -> list[SpeakerAudio]:
    """Prepared speech of every speaker (cached); speakers left with no usable file are dropped."""
    from tqdm import tqdm

    jobs = [(str(path), config) for speaker in speakers for path in speaker.files]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        results = list(tqdm(pool.map(_cached_prepare, jobs, chunksize=4), total=len(jobs),
                            desc=_("preparing audio"), disable=not progress,
                            unit=pgettext("progress unit", "file")))
    signals = iter(results)
    loaded = []
    for speaker in speakers:
        kept = tuple(s for s in (next(signals) for _ in speaker.files) if s is not None)
        if kept:
            loaded.append(SpeakerAudio(speaker.name, kept))
    if len(loaded) < 2:
        raise SpeakerIDError(_("fewer than 2 speakers have usable speech in the dataset"))
    return loaded


def _cached_prepare(job: tuple[str, PreprocessConfig]) -> np.ndarray | None:
    path, config = job
    target = _cache_file(Path(path), config)
    if target.is_file():
        return np.load(target, allow_pickle=False).astype(np.float32)
    try:
        signal = prepare(load_audio(path), config, trim_ends=True).signal  # the method's rule
    except SpeakerIDError:
        return None  # silent or unreadable: the speaker keeps its other files
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp.npy")  # per process: workers may share a cache
    np.save(tmp, signal.astype(np.float16))
    tmp.replace(target)
    return signal


def _cache_file(path: Path, config: PreprocessConfig) -> Path:
    stat = path.stat()
    key = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, config.__dict__], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()
    folder = paths.home() / "cache" / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.npy"
