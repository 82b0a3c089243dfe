"""The live rolling buffer: any frame format in, the encoder's rate out, identification when due."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic import synth_voice

from speakerid import SpeakerIDError, load_model
from speakerid.app import live as live_module
from speakerid.app.live import LiveIdentifier, to_float_mono
from speakerid.audio import from_array
from speakerid.gallery import Gallery
from speakerid.i18n import in_language

RATE = 16000
REPO = Path(__file__).resolve().parents[1]
# argv: model dir, gallery. Starts the warm-up and the workers, then exits at once.
EXIT_WHILE_WARMING_UP = """
import sys
from speakerid import load_model
from speakerid.app.live import LiveIdentifier
from speakerid.gallery import Gallery
live = LiveIdentifier(load_model(sys.argv[1]), Gallery(sys.argv[2]))
live.warm_up()
live.start()
print("exiting", flush=True)
"""


@pytest.fixture
def gallery(tmp_path, untrained_encoder):
    with Gallery(tmp_path / "g.sqlite", untrained_encoder) as opened:
        yield opened


def frames(signal: np.ndarray, rate: int, frame_s: float = 0.02):
    size = int(rate * frame_s)
    for start in range(0, len(signal), size):
        yield signal[start:start + size]


def as_int16(signal: np.ndarray) -> np.ndarray:
    return np.round(np.clip(signal, -1, 1) * 32767).astype(np.int16)


def test_any_sample_format_becomes_float_mono():
    stereo = np.array([[0.5, -0.5], [0.25, 0.25]], np.float32)
    assert to_float_mono(stereo) == pytest.approx([0.0, 0.25])
    assert to_float_mono(stereo.T.copy(), layout="planar") == pytest.approx([0.0, 0.25])
    interleaved = np.array([16384, -16384, 8192, 8192], np.int16)
    assert to_float_mono(interleaved, channels=2) == pytest.approx([0.0, 0.25])
    assert to_float_mono(np.array([128, 255, 0], np.uint8)) == pytest.approx([0.0, 0.99, -1.0], abs=0.01)
    assert to_float_mono(np.array([2**30], np.int32)) == pytest.approx([0.5])
    assert to_float_mono(np.array([np.nan, 2.0])) == pytest.approx([0.0, 1.0])
    assert to_float_mono(np.zeros(0, np.int16)).shape == (0,)
    with pytest.raises(SpeakerIDError):
        to_float_mono(np.array(["a", "b"]))
    with pytest.raises(SpeakerIDError):
        to_float_mono(np.zeros((2, 2, 2)))


def test_frames_at_48k_are_resampled_and_only_the_last_seconds_kept(untrained_encoder, gallery):
    live = LiveIdentifier(untrained_encoder, gallery, buffer_s=2.0)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 48000) / 48000)).astype(np.float32)
    for block in frames(as_int16(tone), 48000):
        live.push(block, 48000)
    assert live.received_s == pytest.approx(3.0, abs=0.05)  # the resampler keeps a few ms back
    assert live.buffered_s == pytest.approx(2.0)
    buffered = live.buffer()
    assert len(buffered) == 2 * RATE
    # still a 440 Hz tone at the encoder's rate
    spectrum = np.abs(np.fft.rfft(buffered[:RATE]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)
    assert live.level_db() == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.5)


def test_a_rate_change_mid_stream_is_followed(untrained_encoder, gallery):
    live = LiveIdentifier(untrained_encoder, gallery)
    live.push(np.zeros(44100, np.float32), 44100)
    live.push(np.zeros((16000, 2), np.float64), 16000)
    assert live.received_s == pytest.approx(2.0, abs=0.05)
    with pytest.raises(SpeakerIDError):
        live.push(np.zeros(10), 0)


def test_identifies_every_hop_when_there_is_speech(untrained_encoder, gallery):
    voice = synth_voice(3, 6.0, RATE, seed=1)
    gallery.enroll("Maya", from_array(voice, RATE, "maya.wav"))
    live = LiveIdentifier(untrained_encoder, gallery, buffer_s=6.0, hop_s=1.5)
    assert live.update() is None  # nothing heard yet
    results = []
    for block in frames(voice, RATE):
        live.push(block, RATE)
        result = live.update()
        if result is not None:
            results.append(result)
    assert len(results) == 4  # at 1.5, 3.0, 4.5 and 6.0 s
    assert [r.at_s for r in results] == pytest.approx([1.5, 3.0, 4.5, 6.0], abs=0.03)
    last = results[-1]
    assert last.identification is not None and last.speaker == "Maya"  # the very audio enrolled
    assert last.identification.best.score == pytest.approx(1.0, abs=1e-4)
    assert "Maya" in last.message and live.latest is last and list(live.history) == results
    assert live.update() is None  # not due again yet
    assert live.update(force=True) is not None
    with in_language("ne"):  # the score and the probability in Devanagari digits, never a false 100 %
        message = live.update(force=True).message
        assert re.fullmatch(r"Maya \(अङ्क [०-९]\.[०-९]{2}, (९९% भन्दा बढी|[०-९]{1,2}%)\)", message)


def test_silence_is_reported_as_listening(untrained_encoder, gallery):
    gallery.enroll("Maya", from_array(synth_voice(3, 6.0, RATE, pauses=False), RATE, "maya.wav"))
    live = LiveIdentifier(untrained_encoder, gallery)
    live.push(np.zeros(2 * RATE, np.float32), RATE)
    result = live.update()
    assert result is not None and result.identification is None and result.speaker is None
    assert "listening" in result.message
    live.reset()
    assert live.received_s == 0 and live.latest is None and live.update(force=True) is None


def wait_for(condition, timeout_s: float = 60.0) -> None:
    """Until ``condition()`` holds (the live worker runs on its own thread); fails after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def av_frames(signal: np.ndarray, rate: int) -> list:
    """``signal`` as the 20 ms int16 mono frames WebRTC delivers."""
    av = pytest.importorskip("av")
    out = []
    for block in frames(as_int16(signal), rate):
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        out.append(frame)
    return out


def test_av_frames_packed_and_planar_are_queued_then_taken_in_batches(untrained_encoder, gallery):
    av = pytest.importorskip("av")
    live = LiveIdentifier(untrained_encoder, gallery)
    samples = as_int16(0.2 * np.ones(960 * 2))
    packed = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
    packed.sample_rate = 48000
    live.push_frame(packed)
    planar = av.AudioFrame.from_ndarray(np.full((2, 960), 0.2, np.float32), format="fltp",
                                        layout="stereo")
    planar.sample_rate = 48000
    for _ in range(49):
        live.push_frame(planar)
    assert live.received_s == 0  # the media thread only queues
    assert live.ingest() == 50 and live.ingest() == 0
    assert live.received_s == pytest.approx(1.0, abs=0.05)
    assert np.median(live.buffer()[-RATE // 2:]) == pytest.approx(0.2, abs=0.01)


def test_pushing_from_another_thread_while_identifying(untrained_encoder, gallery):
    gallery.enroll("Maya", from_array(synth_voice(3, 6.0, RATE, pauses=False), RATE, "maya.wav"))
    live = LiveIdentifier(untrained_encoder, gallery, hop_s=0.5)
    voice = as_int16(synth_voice(3, 4.0, 48000, seed=2, pauses=False))
    feeder = threading.Thread(target=lambda: [live.push(b, 48000) for b in frames(voice, 48000)])
    feeder.start()
    results = []
    while feeder.is_alive():
        result = live.update()
        if result is not None:
            results.append(result)
    feeder.join()
    results.append(live.update(force=True))
    assert live.received_s == pytest.approx(4.0, abs=0.05)
    assert results[-1].identification is not None


def test_the_worker_keeps_up_with_frames_and_names_the_speaker(untrained_encoder, gallery):
    voice = synth_voice(3, 6.0, 48000, seed=1, pauses=False)
    gallery.enroll("Maya", from_array(voice, 48000, "maya.wav"))
    live = LiveIdentifier(untrained_encoder, gallery, hop_s=1.5)
    live.warm_up().join()
    live.start()
    live.start()  # already running: nothing more
    for frame in av_frames(voice, 48000):
        live.push_frame(frame)
    wait_for(lambda: live.latest is not None and live.latest.at_s > 5.9)
    assert live.received_s == pytest.approx(6.0, abs=0.05)  # every frame, none dropped
    assert live.latest.speaker == "Maya" and live.problem is None
    # Shortened only now: on busy cores the last hop's identification may start later than this
    # after the last frame, and a browser that left needs no last verdict.
    live.idle_stop_s = 0.5
    wait_for(lambda: not live.running)  # no more frames: it ends by itself


def test_the_workers_speak_the_language_of_the_page_that_started_them(untrained_encoder, gallery):
    live = LiveIdentifier(untrained_encoder, gallery, hop_s=1.0)
    live.push(np.zeros(2 * RATE, np.float32), RATE)
    with in_language("ne"):
        live.start()
    wait_for(lambda: live.latest is not None)
    live.stop()
    live.join()
    assert live.latest.message == "सुन्दै: अहिलेसम्म बोली छैन"


def test_exit_stops_and_joins_the_warm_up_and_the_workers(untrained_encoder, gallery):
    """At interpreter exit every identifier's threads are stopped and waited for: a daemon thread
    still inside TensorFlow when Python finalises aborts the whole process."""
    live = LiveIdentifier(untrained_encoder, gallery)
    warm_up = live.warm_up()
    live.start()
    live_module._stop_all_at_exit()
    assert not warm_up.is_alive() and not live.running


def test_a_process_that_exits_during_the_warm_up_exits_cleanly(tmp_path, untrained_encoder):
    model = untrained_encoder.save(tmp_path / "model")
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_WARMING_UP, str(model), str(tmp_path / "g.sqlite")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (0, "exiting\n"), done.stderr[-2000:]
    assert "terminate called" not in done.stderr


@pytest.mark.parametrize("weights", ["weights", "weights/fast"])
def test_the_warm_up_runs_every_shipped_model_through_its_own_front_end(weights, tmp_path, caplog,
                                                                        monkeypatch):
    """The fused default sets two front ends side by side (80 + 64 bands); the warm-up once built
    one front end's features for it and failed on every visit of the Live page."""
    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    encoder = load_model(Path(__file__).resolve().parents[1] / weights)
    with Gallery(tmp_path / "g.sqlite", encoder) as opened:
        LiveIdentifier(encoder, opened).warm_up().join()
    assert failures == [] and not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    networks = getattr(encoder, "members", [encoder])
    assert all(network._forward.experimental_get_tracing_count() >= 1 for network in networks)
