"""A Streamlit server of the app and headless Chromium with a fake microphone, shared by the browser
test (``tests/test_browser.py``) and the app benchmark (``benchmarks/app_benchmark.py``): the voices
(espeak-ng, else synthetic), the small stand-in model, the server, the browser, and what the pages say.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("SPEAKERID_CHROMIUM", "/usr/bin/chromium"))
START_TIMEOUT_S = 180
RAM = ("Good evening. Today the government announced a new budget for roads, schools and hospitals "
       "across all seven provinces, and the opposition has already asked how it will be paid for.")
IDLE = ("() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState !== 'running'"
        " && (!document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running'))")


# --- audio and model ------------------------------------------------------------------------------
def voice_file(path: Path, text: str, voice: str, index: int) -> Path:
    """A WAV of ``text`` spoken by espeak-ng's ``voice``, or a synthetic voice without espeak-ng."""
    import soundfile as sf

    espeak = shutil.which("espeak-ng")
    if espeak:
        raw = path.with_suffix(".raw.wav")
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(raw), text], check=True,
                       capture_output=True)
        samples, rate = sf.read(raw, dtype="float32")
    else:
        from synthetic import synth_voice

        samples, rate = synth_voice(index, 12.0, 16000, pauses=False), 16000
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def mic_file(source: Path, target: Path) -> Path:
    """The fake microphone's input: the clip at 48 kHz mono, 16-bit, with a second of silence around."""
    import soundfile as sf

    from speakerid.preprocess import resample

    samples, rate = sf.read(source, dtype="float32")
    padded = np.concatenate([np.zeros(rate, np.float32), samples, np.zeros(rate, np.float32)])
    sf.write(target, resample(padded, rate, 48000), 48000, subtype="PCM_16")
    return target


def small_model(path: Path) -> Path:
    """A small untrained model whose threshold makes only the very audio enrolled a sure match."""
    import keras

    from speakerid import Encoder
    from speakerid.models.networks import ModelConfig
    from speakerid.scoring import Calibration

    keras.utils.set_random_seed(0)
    encoder = Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))
    encoder.calibration = Calibration(
        0.99, slope=300.0, offset=-297.0,
        method="test model, untrained: threshold set so that only identical audio is a sure match")
    encoder.save(path)
    return path


# --- the app server and the browser ---------------------------------------------------------------
def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(script: str, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``streamlit run script`` on a free port, as the app is run; yields its URL once it answers."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             # not the developer's .streamlit/secrets.toml: a password set there would gate every page
             "--secrets.files", str(log_path.with_name("no-secrets.toml"))],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.1)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def app_env(home: Path, weights: Path) -> dict[str, str]:
    """The app's environment: its own user-data folder and model."""
    return {**os.environ, "SPEAKERID_HOME": str(home), "SPEAKERID_WEIGHTS": str(weights),
            "PYTHONFAULTHANDLER": "1",  # a crash of the server leaves its stack in its log
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def launch_chromium(playwright, microphone: Path):
    """Headless Chromium whose fake microphone plays ``microphone`` (a WAV, see :func:`mic_file`)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={microphone}"])


# --- what the pages say ---------------------------------------------------------------------------
def heard_s(page) -> float:
    """The Live page's "Heard" seconds (12.3 s, or 1 min 05 s)."""
    value = page.locator('[data-testid="stMetric"]').filter(has_text="Heard").locator(
        '[data-testid="stMetricValue"]').inner_text()
    minutes = re.search(r"(\d+) min", value)
    seconds = re.search(r"([\d.]+) s", value)
    return (int(minutes.group(1)) * 60 if minutes else 0) + (float(seconds.group(1)) if seconds else 0)
