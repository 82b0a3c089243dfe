"""Recordings of espeak-ng voices taking turns, and the fixtures of the archive tests (import the
``*_fixture`` functions to use them): tests/test_voices.py's voices and sentences, synthetic voices
without espeak-ng."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import write_wav
from test_voices import ENROL_TEXT, ESPEAK_VOICES, TURNS, speak

RATE = 16000


def write_conversation(path: Path, order: tuple[int, ...], pause_s: float = 0.7, shift: int = 0
                       ) -> list[tuple[float, float, str]]:
    """A WAV of ``ESPEAK_VOICES[i]`` for each i of ``order`` saying one sentence after another
    (starting at sentence ``shift``); returns the script (start, end, voice)."""
    parts, script, position = [], [], 0.0
    for turn, speaker in enumerate(order):
        signal = resampled(*speak(ESPEAK_VOICES[speaker], TURNS[(turn + shift) % len(TURNS)]))
        parts += [np.zeros(int(pause_s * RATE), np.float32), signal]
        position += pause_s
        script.append((position, position + len(signal) / RATE, ESPEAK_VOICES[speaker]))
        position += len(signal) / RATE
    parts.append(np.zeros(RATE // 2, np.float32))
    write_wav(path, np.concatenate(parts), RATE)
    return script


def write_enrolment(path: Path, speaker: int) -> Path:
    write_wav(path, resampled(*speak(ESPEAK_VOICES[speaker], ENROL_TEXT)), RATE)
    return path


def resampled(signal: np.ndarray, rate: int) -> np.ndarray:
    from speakerid.preprocess import resample

    return signal.astype(np.float32) if rate == RATE else resample(signal.astype(np.float32), rate, RATE)


FAST_MODEL = Path(__file__).resolve().parents[1] / "weights" / "fast"
FIRST = (0, 2, 1, 3, 0, 2, 3, 1)  # who speaks each turn of the first recording
SECOND = (2, 1, 3, 2, 1, 3)  # the second: voices 1, 2 and 3 again, voice 0 not


def write_two_recordings(folder: Path) -> tuple[Path, Path]:
    """Two recordings with three voices in common (files first.wav and second.wav of ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_conversation(folder / "first.wav", FIRST)
    write_conversation(folder / "second.wav", SECOND, shift=1)
    return folder / "first.wav", folder / "second.wav"


@pytest.fixture(name="fast_encoder", scope="module")
def fast_encoder_fixture():
    from speakerid import load_model

    return load_model(FAST_MODEL)


@pytest.fixture(name="recordings", scope="module")
def recordings_fixture(tmp_path_factory) -> tuple[Path, Path]:
    return write_two_recordings(tmp_path_factory.mktemp("recordings"))


@pytest.fixture(name="archive")
def archive_fixture(tmp_path, fast_encoder, recordings):
    from speakerid.archive import Archive
    from speakerid.gallery import Gallery

    with Archive(tmp_path / "archive", Gallery(tmp_path / "gallery.sqlite", fast_encoder)) as opened:
        report = opened.add(list(recordings))
        assert report.added == [str(r) for r in recordings] and not report.failed
        yield opened
