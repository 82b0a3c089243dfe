"""End to end in a real browser: headless Chromium (Debian's) driven by Playwright against `streamlit run`.

Enrols two voices from uploads, identifies a clip and reads the verdict on the page, records through
Chromium's fake microphone with ``st.audio_input``, and saves the screenshots in
``docs/screenshots/``. Skipped only when Chromium or Playwright is missing.

Voices come from espeak-ng when it is installed (two of its voices), else from the synthetic voices
of the other tests. A small untrained model stands in for the shipped weights; its threshold is
calibrated here so that only the very audio enrolled is a sure match.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("SPEAKERID_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "docs" / "screenshots"
START_TIMEOUT_S = 180
STEP_TIMEOUT_MS = 180_000
RAM = ("Good evening. Today the government announced a new budget for roads, schools and hospitals "
       "across all seven provinces, and the opposition has already asked how it will be paid for.")
SITA = ("Thank you. We welcome the plan for rural health posts, but the people of the mountain "
        "districts need clean water and electricity first, and we will keep pressing for that.")

if not CHROMIUM.is_file():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")


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
    import keras

    from speakerid import Encoder
    from speakerid.model import ModelConfig
    from speakerid.scoring import Calibration

    keras.utils.set_random_seed(0)
    encoder = Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64))
    encoder.calibration = Calibration(
        0.99, slope=300.0, offset=-297.0,
        method="test model, untrained: threshold set so that only identical audio is a sure match")
    encoder.save(path)
    return path


def training_run(home: Path, model: Path) -> Path:
    """A finished run for the Train page: the shipped model's own run when this checkout has it,
    else a run folder written to the training contract (status, history, evaluation, model)."""
    run_dir = home / "runs" / "newsroom-demo"
    shipped = ROOT / "runs" / "shipped"
    if (shipped / "evaluation.json").is_file() and (shipped / "model").is_dir():
        shutil.copytree(shipped, run_dir, ignore=shutil.ignore_patterns("checkpoint"))
        status = json.loads((run_dir / "status.json").read_text())
        status["pid"] = 0
        (run_dir / "status.json").write_text(json.dumps(status))
        return run_dir
    run_dir.mkdir(parents=True)
    epochs = 12
    (run_dir / "status.json").write_text(json.dumps({
        "state": "finished", "epoch": epochs, "epochs": epochs, "step": 200, "steps": 200,
        "message": "model saved", "pid": 0, "updated": "2026-01-01T00:00:00"}))
    rows = ["epoch,loss,same_distance,different_distance,eer,seconds"]
    rows += [f"{e},{11 * 0.8 ** e:.3f},{0.05 + 0.2 * (1 - 0.85 ** e):.3f},{0.3 + 0.5 * (1 - 0.8 ** e):.3f},"
             f"{0.2 * 0.8 ** e:.4f},210" for e in range(1, epochs + 1)]
    (run_dir / "history.csv").write_text("\n".join(rows) + "\n")
    rng = np.random.default_rng(0)
    same, different = rng.normal(0.75, 0.1, 200), rng.normal(0.25, 0.12, 2000)
    curve = [{"threshold": float(t), "precision": float((same >= t).sum() / max((same >= t).sum()
                                                                               + (different >= t).sum(), 1)),
              "recall": float((same >= t).mean())} for t in np.linspace(-0.1, 1.0, 60)]
    (run_dir / "evaluation.json").write_text(json.dumps({
        "eer": 0.041, "min_dcf": 0.29, "threshold": 0.52, "same_distance": 0.25,
        "different_distance": 0.76, "top1_identification": 0.91, "speakers": 26,
        "precision_recall": curve}))
    shutil.copytree(model, run_dir / "model")
    return run_dir


# --- the app server and the browser ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("voices")
    ram = voice_file(folder / "ram.wav", RAM, "en+m3", 0)
    sita = voice_file(folder / "sita.wav", SITA, "en+f3", 1)
    return {"ram": ram, "sita": sita, "mic": mic_file(ram, folder / "mic.wav")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    home, weights = root / "home", small_model(root / "weights")
    training_run(home, weights)
    port = free_port()
    env = {**os.environ, "SPEAKERID_HOME": str(home), "SPEAKERID_WEIGHTS": str(weights),
           "PYTHONFAULTHANDLER": "1",  # a crash of the server leaves its stack in streamlit.log
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = (root / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("streamlit did not start:\n" + (root / "streamlit.log").read_text()[-3000:])
        time.sleep(0.5)
    yield {"url": url, "home": home, "log": root / "streamlit.log"}
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def browser(files):
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={files['mic']}"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    context.grant_permissions(["microphone"], origin=server["url"])
    opened = context.new_page()
    opened.set_default_timeout(STEP_TIMEOUT_MS)
    yield opened
    # the page as the test left it, next to the server's log: what a failure looked like
    opened.screenshot(path=str(server["log"].with_name(f"{request.node.name}.png")), full_page=True)
    context.close()


def wait_idle(page) -> None:
    """Until Streamlit has finished running the script (no "Running..." indicator)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')")
    page.wait_for_timeout(300)


def upload(page, label: str, path: Path, fill=lambda: None, attempts: int = 3) -> None:
    """Fill the form with ``fill``, set the uploader's file and wait until the uploader lists it.

    Now and then a fresh session's upload sends nothing to the server, and neither does any later
    upload in that session; a reload (a new session) cures it, so each retry reloads the page and
    fills the form again.
    """
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    for attempt in range(attempts):
        if attempt:
            page.reload()
        fill()
        wait_idle(page)  # a file set while the page reruns is lost with the old uploader
        uploader.locator('input[type="file"]').set_input_files(str(path))
        try:
            uploader.get_by_text(path.name).first.wait_for(timeout=20_000)
            return
        except playwright_api.TimeoutError:
            continue
    pytest.fail(f"the {label!r} uploader never listed {path.name} in {attempts} sessions")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait_idle(page)
    page.wait_for_timeout(800)  # figures fade in
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def enrol(page, name: str, clip: Path, party: str) -> None:
    def fill() -> None:
        page.get_by_label("Name", exact=True).first.fill(name)
        page.get_by_label("Party or organisation (optional)").first.fill(party)
        page.get_by_label("Party or organisation (optional)").first.press("Tab")

    upload(page, "Audio files", clip, fill)
    page.get_by_text("of speech in").first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name=f"Enrol {name}").click()
    page.get_by_text(f"{name} now has 1 clip(s)").wait_for()
    wait_idle(page)


# --- the tests ------------------------------------------------------------------------------------
def test_enrol_two_voices_then_identify(page, server, files):
    page.goto(f"{server['url']}/gallery")
    page.get_by_text("Getting started").first.wait_for()
    enrol(page, "Ram Thapa", files["ram"], "Nepali Congress")
    enrol(page, "Sita Rai", files["sita"], "Independent")
    page.get_by_text("2 speakers enrolled").first.wait_for()
    screenshot(page, "gallery.png")

    page.goto(server["url"])
    page.get_by_text("Who is speaking?").first.wait_for()
    upload(page, "Audio or video file", files["ram"])
    verdict = page.locator("h3").filter(has_text="Ram Thapa")
    verdict.wait_for()
    assert "Nepali Congress" in page.locator("body").inner_text()
    assert "Unknown speaker" not in page.locator("body").inner_text()
    screenshot(page, "identify.png")


def test_record_with_the_microphone(page, server, files):
    page.goto(f"{server['url']}/gallery")
    enrolled = page.get_by_text(re.compile(r"\d+ speakers? enrolled")).first
    enrolled.wait_for()
    if enrolled.inner_text().startswith("0 "):  # run on its own, without the enrolment test
        enrol(page, "Ram Thapa", files["ram"], "Nepali Congress")
    page.goto(server["url"])
    page.get_by_text("Who is speaking?").first.wait_for()
    page.get_by_text("Record in the browser").click()
    recorder = page.locator('[data-testid="stAudioInput"]')
    recorder.wait_for()
    recorder.locator('[data-testid="stAudioInputActionButton"]').first.click()
    page.wait_for_timeout(7000)  # the fake microphone plays the clip
    recorder.get_by_role("button", name="Stop recording").click()
    page.get_by_text("Analysed in").first.wait_for()  # the verdict is drawn before this label
    wait_idle(page)
    text = page.locator("body").inner_text()
    assert ("Ram Thapa" in text.split("Verdict", 1)[1]) or ("Unknown speaker" in text)
    assert "Traceback" not in text


def test_train_page_shows_the_report(page, server):
    page.goto(f"{server['url']}/train")
    page.get_by_text("Evaluation on held-out speakers").wait_for()
    eer = page.locator('[data-testid="stMetric"]').filter(has_text="Equal error rate").first
    eer.wait_for()  # the metrics render after the heading
    wait_idle(page)
    assert "%" in eer.text_content()
    assert "Finished" in page.locator("body").inner_text()
    screenshot(page, "train.png")
