"""End to end in a real browser: headless Chromium (Debian's) driven by Playwright against `streamlit run`.

Draws the first page of a fresh server, which then names the model, opens every page by its
link as a fresh server's first request, enrols two voices from uploads, identifies a clip and reads
the verdict on the page (nothing clipped, names at body size), identifies a clip from a web link
(served by tests/media_server.py), reads the table of a batch of uploads (a corrupt file's row says
why), finds the voices nobody enrolled in a conversation's timeline, adds two conversations to the
archive, finds a person there, plays a hit and names a voice heard in both, records through
Chromium's fake microphone with ``st.audio_input``, follows the speaker live over WebRTC from the
same fake microphone, and reads the Train report. Nothing here is timed (``make bench-app`` times
the first page and the Live page's pace).
With ``SPEAKERID_SCREENSHOTS=1`` (``make screenshots``) it also saves the README's screenshots in
``docs/screenshots/``; otherwise it leaves the working tree alone. Skipped only when Chromium or
Playwright is missing, and the found-voices and archive tests also without espeak-ng or ``weights/fast``.

Voices come from espeak-ng when it is installed (two of its voices), else from the synthetic voices
of the other tests. A small untrained model stands in for the shipped weights; its threshold is
calibrated here so that only the very audio enrolled is a sure match. It cannot tell two voices it
was never given apart (a conversation's two unenrolled voices become one "Voice A"), so the
found-voices and archive tests run servers of their own on the shipped fast model (``weights/fast``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import urllib.request
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from media_server import serve
from streamlit_browser import (
    CHROMIUM,
    IDLE,
    RAM,
    ROOT,
    app_env,
    heard_s,
    launch_chromium,
    mic_file,
    small_model,
    streamlit_server,
    voice_file,
)

SCREENSHOTS = ROOT / "docs" / "screenshots"
TAKE_SCREENSHOTS = os.environ.get("SPEAKERID_SCREENSHOTS") == "1"
LIVE_KEEPS_COUNTING_S = 3.0  # more seconds heard that show the Live page still receives audio
STEP_TIMEOUT_MS = 180_000
# the conversation's turns by voices nobody enrolled (espeak-ng voices the fast model tells apart)
NEW_VOICES = (("en+klatt", "Farmers in the south say the rain came late and the harvest was poor, "
                           "so the price of rice will rise before the winter."),
              ("en+steph", "The minister promised that schools in the valley would reopen before "
                           "the festival season, with new teachers in every district."))
FAST_MODEL = ROOT / "weights" / "fast"
SHIPPED_MODEL = ROOT / "weights"
SITA = ("Thank you. We welcome the plan for rural health posts, but the people of the mountain "
        "districts need clean water and electricity first, and we will keep pressing for that.")

if not CHROMIUM.is_file():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402 (after the skips above)
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402


# --- audio and model ------------------------------------------------------------------------------
def conversation_file(path: Path, enrolled: Path) -> Path:
    """The enrolled voice's clip, then a turn by each voice of NEW_VOICES, 0.6 s apart: over 20 s."""
    import soundfile as sf

    from speakerid.preprocess import resample

    samples, rate = sf.read(enrolled, dtype="float32")
    parts = [samples]
    for index, (voice, text) in enumerate(NEW_VOICES):
        turn, turn_rate = sf.read(voice_file(path.with_name(f"turn{index}.wav"), text, voice, 2 + index),
                                  dtype="float32")
        parts += [np.zeros(int(0.6 * rate), np.float32), resample(turn, turn_rate, rate)]
    sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
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
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("voices")
    ram = voice_file(folder / "ram.wav", RAM, "en+m3", 0)
    sita = voice_file(folder / "sita.wav", SITA, "en+f3", 1)
    corrupt = folder / "corrupt.mp3"
    corrupt.write_bytes(b"ID3 this is not audio" * 50)
    return {"ram": ram, "sita": sita, "mic": mic_file(ram, folder / "mic.wav"), "corrupt": corrupt,
            "conversation": conversation_file(folder / "conversation.wav", ram)}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return small_model(tmp_path_factory.mktemp("model") / "weights")


@pytest.fixture(scope="module")
def server(tmp_path_factory, weights):
    root = tmp_path_factory.mktemp("app")
    home = root / "home"
    training_run(home, weights)
    with streamlit_server("app.py", app_env(home, weights), root / "streamlit.log") as url:
        yield {"url": url, "home": home, "log": root / "streamlit.log"}


@contextmanager
def fast_app(root: Path, ram: Path) -> Iterator[dict]:
    """A server on the shipped fast model with Ram Thapa enrolled (through the library, as the
    Gallery page does), its home in ``root``: for the tests of voices nobody enrolled."""
    from speakerid import load_model
    from speakerid.audio import load_audio
    from speakerid.gallery import Gallery

    if not (FAST_MODEL / "config.json").is_file():
        pytest.skip(f"the shipped fast model is not in this checkout ({FAST_MODEL})")
    if shutil.which("espeak-ng") is None:  # the synthetic stand-ins' new voices merge into one
        pytest.skip("espeak-ng is not installed: the fast model tells its voices apart, not the "
                    "synthetic stand-ins (apt-get install -y espeak-ng)")
    home = root / "home"
    home.mkdir()
    with Gallery(home / "gallery.sqlite", load_model(FAST_MODEL)) as gallery:
        gallery.enroll("Ram Thapa", load_audio(ram), party="Nepali Congress")
    with streamlit_server("app.py", app_env(home, FAST_MODEL), root / "streamlit.log") as url:
        yield {"url": url, "home": home, "log": root / "streamlit.log"}


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory, files):
    """The found-voices test's server."""
    with fast_app(tmp_path_factory.mktemp("fast-app"), files["ram"]) as running:
        yield running


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory, files):
    """The Archive test's server: a gallery of its own, which naming a voice changes."""
    with fast_app(tmp_path_factory.mktemp("archive-app"), files["ram"]) as running:
        yield running


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A fresh server on the shipped model (what a new user runs) with an empty gallery."""
    if not (SHIPPED_MODEL / "config.json").is_file():
        pytest.skip(f"the shipped model is not in this checkout ({SHIPPED_MODEL})")
    root = tmp_path_factory.mktemp("demo-app")
    home = root / "home"
    home.mkdir()
    with streamlit_server("app.py", app_env(home, SHIPPED_MODEL), root / "streamlit.log") as url:
        yield {"url": url, "home": home, "log": root / "streamlit.log"}


@pytest.fixture(scope="module")
def media(files):
    """The voices' files on a local web server, for the link tests."""
    with serve(files["ram"].parent) as running:
        yield running


@pytest.fixture(scope="module")
def browser(files):
    with playwright_api.sync_playwright() as playwright:
        launched = launch_chromium(playwright, files["mic"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    context.grant_permissions(["microphone"], origin=server["url"])
    opened = watched_page(context)
    yield opened
    # the page as the test left it, next to the server's log: what a failure looked like
    opened.screenshot(path=str(server["log"].with_name(f"{request.node.name}.png")), full_page=True)
    context.close()


# Text in these containers that overflows its box, and match names smaller than the body text.
LAYOUT_PROBLEMS = """(containers) => {
    const body = parseFloat(getComputedStyle(document.documentElement).fontSize);
    const problems = [];
    for (const selector of containers) {
        const root = document.querySelector(selector);
        if (!root) { problems.push(`${selector} is missing`); continue; }
        for (const el of root.querySelectorAll('h1, h2, h3, h4, h5, p, li')) {
            if (el.offsetParent && el.innerText.trim() && el.scrollWidth > el.clientWidth + 1)
                problems.push(`clipped: ${el.innerText}`);
        }
    }
    for (const name of document.querySelectorAll('.st-key-matches [data-testid="stMarkdownContainer"] p')) {
        if (parseFloat(getComputedStyle(name).fontSize) < body) problems.push(`small: ${name.innerText}`);
    }
    return problems;
}"""


class ScriptRuns:
    """Whether a script run the browser asked for is still to come, read from the app's websocket.

    A field left with Tab sends its rerun request at once, but the page shows the run only once
    the server has started it, later still on a busy machine: a test that waits for "not running"
    can act before the run it caused, and a file set in an uploader that run redraws is lost.
    """

    DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)

    def __init__(self, page) -> None:
        self.frames = 0
        self.last_request = self.last_finish = -1
        page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        socket.on("framesent", self._sent)
        socket.on("framereceived", self._received)

    def _sent(self, payload: bytes | str) -> None:
        self.frames += 1
        if isinstance(payload, bytes):
            message = BackMsg.FromString(payload)
            if message.WhichOneof("type") == "rerun_script" and not message.rerun_script.fragment_id:
                self.last_request = self.frames

    def _received(self, payload: bytes | str) -> None:
        self.frames += 1
        if isinstance(payload, bytes):
            message = ForwardMsg.FromString(payload)
            if message.WhichOneof("type") == "script_finished" and message.script_finished in self.DONE:
                self.last_finish = self.frames

    @property
    def requested_run_done(self) -> bool:
        """The last page run the browser asked for has finished (requests made while a run goes on
        are merged into one run, which finishes after them all)."""
        return self.last_finish > self.last_request


SCRIPT_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def watched_page(context):
    """A new page in ``context`` whose script runs :func:`wait_idle` follows, with the step timeout."""
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    SCRIPT_RUNS[page] = ScriptRuns(page)
    return page


def wait_idle(page) -> None:
    """Until Streamlit has finished the runs asked for (its own reruns included) and stays idle."""
    runs = SCRIPT_RUNS.get(page)
    settled = 0
    while settled < 2:  # idle twice, 300 ms apart: a rerun the app starts itself shows in between
        page.wait_for_function(IDLE)
        settled = settled + 1 if runs is None or runs.requested_run_done else 0
        page.wait_for_timeout(300 if settled else 100)


def upload(page, label: str, path: Path) -> None:
    """Set the uploader's file once the page is idle (a file set while the page reruns is lost with
    the old uploader) and wait until the uploader lists it."""
    wait_idle(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    uploader.locator('input[type="file"]').set_input_files(str(path))
    uploader.get_by_text(path.name).first.wait_for()


def screenshot(page, name: str) -> None:
    """The README's screenshot ``name``, only when asked for (SPEAKERID_SCREENSHOTS=1)."""
    if not TAKE_SCREENSHOTS:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait_idle(page)
    page.wait_for_timeout(800)  # figures fade in
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def upload_many(page, label: str, paths: list[Path]) -> None:
    """Several files set at once in a multi-file uploader, as a user picks them together."""
    wait_idle(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    uploader.locator('input[type="file"]').set_input_files([str(p) for p in paths])
    for path in paths:
        uploader.get_by_text(path.name).first.wait_for()


def ensure_enrolled(page, server, files) -> None:
    """Ram Thapa in the module server's gallery, also when a test runs without the enrolment test."""
    page.goto(f"{server['url']}/gallery")
    enrolled = page.get_by_text(re.compile(r"\d+ speakers? enrolled")).first
    enrolled.wait_for()
    if enrolled.inner_text().startswith("0 "):
        enrol(page, "Ram Thapa", files["ram"], "Nepali Congress")


def enrol(page, name: str, clip: Path, party: str) -> None:
    page.get_by_label("Name", exact=True).first.fill(name)
    page.get_by_label("Party or organisation (optional)").first.fill(party)
    page.get_by_label("Party or organisation (optional)").first.press("Tab")
    upload(page, "Audio files", clip)
    page.get_by_text("of speech in").first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name=f"Enrol {name}").click()
    page.get_by_text(f"{name} now has 1 clip(s)").wait_for()
    wait_idle(page)


# --- the tests ------------------------------------------------------------------------------------
def test_a_fresh_server_draws_the_first_page_then_names_the_model(browser, weights, tmp_path):
    """The first request to a fresh server gets the Identify page, and the sidebar names the model
    once it has loaded, without a reload. (That the page is drawn before the model has loaded is
    tests/test_app.py's; how fast, against a one-line app: ``make bench-app``.)"""
    with streamlit_server("app.py", app_env(tmp_path / "home", weights), tmp_path / "app.log") as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.goto(url)
            page.locator('[data-testid="stFileUploader"]').first.wait_for()
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text(re.compile(r"Decision: \w")).first.wait_for()  # in words, once loaded
            assert "loading the speaker model" not in sidebar.inner_text()
            assert "Traceback" not in page.locator("body").inner_text()
        finally:
            context.close()


PAGE_TITLES = {"live": "Live", "gallery": "Gallery", "archive": "Archive", "train": "Train a model",
               "": "Who is speaking?"}


def test_every_page_opens_from_its_link_on_a_fresh_server(browser, weights, tmp_path):
    """Deep links. Only the first request to a fresh server can meet Streamlit's legacy mode for a
    ``pages/`` folder (see speakerid_ui.frame.ensure_app_frame), and /live is the page that crashed the
    server then, so that one is the first request; the others follow in new browsing sessions."""
    log = tmp_path / "streamlit.log"
    with streamlit_server("app.py", app_env(tmp_path / "home", weights), log) as url:
        for path, title in PAGE_TITLES.items():
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            try:
                page = context.new_page()
                page.set_default_timeout(STEP_TIMEOUT_MS)
                page.goto(f"{url}/{path}")
                page.locator("h1").filter(has_text=title).first.wait_for()
                wait_idle(page)
                nav = page.locator('[data-testid="stSidebarNav"]')  # app.py's navigation and sidebar
                for label in ("Identify", "Gallery", "Archive", "Live", "Train"):
                    assert nav.get_by_text(label, exact=True).count(), (path, label)
                assert page.get_by_text("Who is speaking in this clip?").count(), path
                assert "Traceback" not in page.locator("body").inner_text(), path
            finally:
                context.close()
    assert "Traceback" not in log.read_text()


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
    verdict = page.locator(".st-key-verdict h3").filter(has_text="Ram Thapa")
    verdict.wait_for()
    wait_idle(page)
    assert re.fullmatch(r"\S+ Ram Thapa: (almost certain|very likely|likely|possible)", verdict.inner_text())
    body = page.locator("body").inner_text()
    assert "Nepali Congress" in body and "probability that this is Ram Thapa's voice" in body
    assert "Unknown speaker" not in body
    screenshot(page, "identify.png")
    page.get_by_text("How this was decided").click()
    page.get_by_text("names Ram Thapa").wait_for()
    assert page.evaluate(LAYOUT_PROBLEMS, [".st-key-verdict", ".st-key-matches"]) == []



def test_the_evidence_report_downloads_opens_and_prints(page, server, files, tmp_path):
    """One click on the Identify page gives the evidence report; Chromium opens it and prints it."""
    ensure_enrolled(page, server, files)
    page.goto(server["url"])
    upload(page, "Audio or video file", files["ram"])
    page.locator(".st-key-verdict h3").filter(has_text="Ram Thapa").wait_for()
    wait_idle(page)
    with page.expect_download(timeout=STEP_TIMEOUT_MS) as download:
        page.get_by_role("button", name="Evidence report").click()
    report = tmp_path / download.value.suggested_filename
    download.value.save_as(report)
    text = report.read_text()
    assert report.name == "speakerid-evidence.html" and "Ram Thapa" in text
    assert hashlib.sha256(files["ram"].read_bytes()).hexdigest() in text
    page.goto(report.as_uri())
    assert page.locator("img").count() >= 2
    assert page.pdf(format="A4").startswith(b"%PDF")

def test_identify_from_a_link(page, server, files, media):
    """A link to the enrolled clip itself: fetched, shown as it was prepared, and named."""
    ensure_enrolled(page, server, files)
    page.goto(server["url"])
    page.get_by_text("Who is speaking?").first.wait_for()
    wait_idle(page)
    page.get_by_text("Paste a link", exact=True).click()
    link = page.get_by_role("textbox", name="Link to a video or audio page")
    link.wait_for()
    link.fill(media.url(files["ram"].name))
    link.press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Fetch the audio").click()
    verdict = page.locator(".st-key-verdict h3").filter(has_text="Ram Thapa")
    verdict.wait_for()
    page.get_by_text("Analysed in").first.wait_for()
    wait_idle(page)
    assert f"/{files['ram'].name}" in media.requested
    assert page.get_by_role("link", name=files["ram"].stem).count()  # the fetched page's title
    body = page.locator("body").inner_text()
    for stage in ("1 · Preparing the audio", "2 · What the encoder sees", "Top matches"):
        assert stage in body, stage
    assert "Unknown speaker" not in body and "Traceback" not in body
    screenshot(page, "link.png")


def test_a_batch_of_uploads_gives_a_table(page, server, files):
    """Three clips at once: one row each, the corrupt one with its reason; both downloads offered."""
    ensure_enrolled(page, server, files)
    page.goto(server["url"])
    page.get_by_text("Who is speaking?").first.wait_for()
    clips = [files["ram"], files["sita"], files["corrupt"]]
    upload_many(page, "Audio or video files", clips)
    page.get_by_text("3 clips · 1 could not be identified").wait_for()
    wait_idle(page)
    # the grid draws on a canvas; its accessible table holds the cells' text, filled after the grid
    # appears (on busy cores, later than the caption above)
    cells = page.locator('[data-testid="stDataFrame"] table tr')
    cells.nth(len(clips)).wait_for(state="attached")
    rows = cells.all_text_contents()
    assert len(rows) == 1 + len(clips), rows  # the header, then one row per clip
    by_clip = {clip.name: next(row for row in rows if row.startswith(clip.name)) for clip in clips}
    assert "Ram Thapa" in by_clip["ram.wav"]
    assert "not a readable audio file" in by_clip["corrupt.mp3"], by_clip
    for label in ("Download the table (CSV)", "Download with segments (JSON)"):
        assert page.get_by_role("button", name=label).is_visible()
    screenshot(page, "batch.png")


def test_a_timeline_finds_the_voices_nobody_enrolled(browser, fast_server, files):
    """A conversation over 20 s: Ram Thapa (enrolled), then two voices nobody enrolled, which the
    timeline tells apart as Voice A and Voice B, each with a form to enrol it; the verdict says
    several voices speak, each with its turns, and not one name. The screenshot is of the timeline
    and the forms, in a taller window so that both fit."""
    context = browser.new_context(viewport={"width": 1440, "height": 1300}, device_scale_factor=1)
    try:
        page = watched_page(context)
        page.goto(fast_server["url"])
        page.get_by_text("Who is speaking?").first.wait_for()
        upload(page, "Audio or video files", files["conversation"])
        page.get_by_text("Voices nobody enrolled").wait_for()
        wait_idle(page)
        body = page.locator("body").inner_text()
        timeline = body.split("Who speaks when", 1)[1]
        assert "Ram Thapa" in timeline
        assert "Voice A" in timeline and "Voice B" in timeline and "Voice C" not in timeline
        assert page.get_by_role("button", name="Enrol this voice").count() == 2
        headline = page.locator(".st-key-verdict h3").inner_text()
        turn = r"\(\d:\d\d-\d:\d\d\)"
        assert re.fullmatch(rf"\S+ Several voices: Ram Thapa {turn}, Voice A {turn}, Voice B {turn}",
                            headline), headline
        verdict = page.locator(".st-key-verdict").inner_text()
        assert "Voice A: " in verdict and "that its turns are one voice" in verdict
        assert "Traceback" not in body
        page.get_by_text("Who speaks when").evaluate("heading => heading.scrollIntoView()")
        screenshot(page, "timeline-voices.png")
    finally:
        context.close()


def test_a_first_visit_reaches_a_demo_verdict_in_two_clicks(browser, demo_server):
    """A new user on the shipped model: "Try the demo voices", then an example clip; the verdict
    names its reader, and the unknown reader's clip says unknown. Nothing in the server's log."""
    from speakerid.demo import demo_examples

    first, *_, unknown = demo_examples()
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    try:
        page = watched_page(context)
        page.goto(demo_server["url"])
        page.get_by_text("Getting started").first.wait_for()
        wait_idle(page)
        visit = time.monotonic()
        page.get_by_role("button", name="Try the demo voices").click()  # click 1
        example = page.get_by_role("button", name=first.label)
        example.wait_for()
        wait_idle(page)
        clicked = time.monotonic()
        example.click()  # click 2
        verdict = page.locator(".st-key-verdict h3").filter(has_text=first.speaker)
        verdict.wait_for()
        print(f"demo: verdict {time.monotonic() - visit:.1f} s after the first click, "
              f"{time.monotonic() - clicked:.1f} s after the example's")
        wait_idle(page)
        assert page.get_by_role("tab", name=re.compile("Read by ECAPA-TDNN")).count() == 1
        page.get_by_role("button", name=unknown.label).click()
        page.locator(".st-key-verdict h3").filter(has_text="Unknown speaker").wait_for()
        wait_idle(page)
        assert "Traceback" not in page.locator("body").inner_text()
    finally:
        context.close()
    log = demo_server["log"].read_text()
    assert "Traceback" not in log and "missing from font" not in log, log[-3000:]
    # the bundled Devanagari font, served to browsers that have none (see .streamlit/config.toml)
    font = urllib.request.urlopen(f"{demo_server['url']}/app/static/NotoSansDevanagari-Regular.ttf")
    assert font.read() == (ROOT / "assets" / "fonts" / "NotoSansDevanagari-Regular.ttf").read_bytes()


def test_record_with_the_microphone(page, server, files):
    ensure_enrolled(page, server, files)
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


def test_live_names_the_speaker_and_keeps_counting(page, server, files):
    """Chromium's fake microphone plays Ram Thapa over WebRTC: the page names him and keeps counting
    the seconds it hears, and the server's log has no traceback at any point: not from the encoder's
    warm-up when the page opens, nor while streaming, nor after the browser left. (How soon he is
    named and how much of the stream is heard: ``make bench-app``.)"""
    ensure_enrolled(page, server, files)
    page.goto(f"{server['url']}/live")
    page.get_by_text("Waiting for audio").first.wait_for()
    wait_idle(page)
    start = page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="Start listening")
    start.click()
    now = page.locator(".st-key-live_now")
    now.locator("h3").filter(has_text="Ram Thapa").first.wait_for()  # named
    assert "Traceback" not in server["log"].read_text()  # the warm-up and the first updates
    counted = heard_s(page) + LIVE_KEEPS_COUNTING_S
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000  # only a guard against a stalled stream
    while heard_s(page) < counted:
        assert time.monotonic() < deadline, "the Live page stopped counting the seconds it hears"
        page.wait_for_timeout(500)
    assert "Traceback" not in page.locator("body").inner_text()
    page.goto("about:blank")  # the browser leaves while streaming
    page.wait_for_timeout(3000)
    assert "Traceback" not in server["log"].read_text()


def test_train_page_shows_the_report(page, server):
    page.goto(f"{server['url']}/train")
    page.get_by_text("Evaluation on held-out speakers").wait_for()
    eer = page.locator('[data-testid="stMetric"]').filter(has_text="Equal error rate").first
    eer.wait_for()  # the metrics render after the heading
    wait_idle(page)
    assert "%" in eer.text_content()
    assert "Finished" in page.locator("body").inner_text()
    screenshot(page, "train.png")


def choose(page, label: str, option: str | re.Pattern) -> None:
    """Pick ``option`` in the select box labelled ``label`` on the tab shown."""
    wait_idle(page)
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def shown_table(page) -> list[str]:
    """The rows (header first) of the table on the tab shown, as text."""
    table = page.locator('[data-testid="stDataFrame"]').filter(visible=True).first
    return table.locator("table tr").all_text_contents()


PLAY = """async (audio) => {
    if (audio.readyState < 1)
        await new Promise(done => audio.addEventListener('loadedmetadata', done, {once: true}));
    await audio.play();
    await new Promise(done => setTimeout(done, 700));
    return {src: audio.currentSrc, duration: audio.duration, played: audio.currentTime};
}"""


def test_the_archive_finds_a_person_and_names_a_voice_across_recordings(browser, archive_server, tmp_path):
    """Two conversations added at once (tests/conversations.py: Ram Thapa's espeak-ng voice and
    voices nobody enrolled, some in both): Ram Thapa is found in both and a hit plays exactly its
    turn; the voice heard in both recordings is named, and that name is then found in both."""
    from conversations import write_two_recordings

    recordings = write_two_recordings(tmp_path / "recordings")
    context = browser.new_context(viewport={"width": 1440, "height": 1300}, device_scale_factor=1)
    try:
        page = watched_page(context)
        page.goto(f"{archive_server['url']}/archive")
        page.get_by_text("The archive is empty").wait_for()
        upload_many(page, "Recordings", list(recordings))
        page.get_by_role("button", name="Add 2 recording(s)").click()
        page.get_by_text("2 recording(s) added.").wait_for()
        wait_idle(page)

        page.get_by_role("tab", name="Find a person").click()
        choose(page, "Person", "Ram Thapa")
        page.get_by_text(re.compile(r"Ram Thapa speaks in \d+ turn\(s\) of 2 recording\(s\)")).wait_for()
        rows = shown_table(page)
        assert rows[0].startswith("recording") and len(rows) > 2, rows
        assert {name for name in ("first.wav", "second.wav") if any(name in row for row in rows[1:])} == {
            "first.wav", "second.wav"}, rows
        chosen = page.get_by_role("combobox", name="Play a turn").input_value()
        span = re.search(r"(\d+):([\d.]+)–(\d+):([\d.]+)", chosen)
        assert span, chosen
        start_m, start_s, end_m, end_s = span.groups()
        turn_s = (int(end_m) * 60 + float(end_s)) - (int(start_m) * 60 + float(start_s))
        audio = page.locator('[data-testid="stAudio"]').filter(visible=True).first
        played = audio.evaluate(PLAY)
        print(f"archive: played {played} for a turn of {turn_s:.1f} s ({chosen!r})")
        assert played["src"] and played["played"] > 0, played
        assert abs(played["duration"] - turn_s) < 0.15, (played, chosen)  # exactly that turn
        screenshot(page, "archive.png")

        page.get_by_role("tab", name="Voices nobody named").click()
        choose(page, "Voice", re.compile(r"· 2 recording\(s\) ·"))
        voice = re.match(r"Voice \d+", page.get_by_role("combobox", name="Voice").input_value()).group(0)
        screenshot(page, "archive-voices.png")
        page.get_by_label("Name", exact=True).fill("Maya Gurung")
        page.get_by_role("button", name="Name this voice").click()
        page.get_by_text(f"{voice} is now Maya Gurung").wait_for()
        wait_idle(page)

        page.get_by_role("tab", name="Find a person").click()
        choose(page, "Person", "Maya Gurung")
        page.get_by_text(re.compile(r"Maya Gurung speaks in \d+ turn\(s\) of 2 recording\(s\)")).wait_for()
        rows = shown_table(page)
        assert any("first.wav" in row for row in rows[1:]) and any("second.wav" in row for row in rows[1:])
        assert "Traceback" not in page.locator("body").inner_text()
    finally:
        context.close()
    assert "Traceback" not in archive_server["log"].read_text()
