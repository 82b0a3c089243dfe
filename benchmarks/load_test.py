"""Load test: concurrent identify requests against the library and the running app.

Library (the default): ``--threads`` clients share one Gallery, each identifying one audio file
after another (a closed loop, like users waiting for their answer) until ``--requests`` are done
or ``--max-seconds`` have passed. Every request runs the whole path: decode, silence removal,
features, encoder, gallery search. Resident memory (RSS) is read after 100 requests and after the
last, to show whether identification keeps memory it should give back.

App (``--app``): the real Streamlit app (``streamlit run app.py`` on 127.0.0.1, a free port) on a
temporary SPEAKERID_HOME whose gallery is enrolled with the library beforehand, driven by ``--pages``
concurrent headless Chromium pages (Debian's /usr/bin/chromium through Playwright; nothing is
downloaded, nothing leaves loopback). Each page uploads ``--requests-per-page`` clips, one after
another, on the Identify page; a request is timed from handing the file to the uploader until the
verdict is on the page (upload, rerun, decoding, analysis and verdict sent to the browser; the
page draws its figures after the verdict, and before it in runs before 2026-12-07). The uploader
and the verdict are found by the page's element keys (``identify_upload``, ``verdict``), not by
its wording; a refusal by its error box. Between requests a page removes its
file (an untimed rerun), so that the next verdict is the new one and not the old one still on
screen. The server's RSS is read after start, after a warm-up request and after every request.
With ``--at-once`` the pages of a round upload each clip at the same moment (they wait for each
other between requests), as journalists do when one story breaks; without it each page sends its
next clip as soon as it has its verdict (a closed loop).

Soak (``--app --soak``): ``--sessions`` journalists for ``--soak-minutes``, each opening a new
browser session, identifying ``--per-session`` clips and closing it, again and again, so that
sessions keep starting and ending. The server's RSS is sampled all along: what it is after the first
``--soak-warm-up`` seconds against the end shows memory that ended sessions keep; the server's log
is searched for tracebacks.

The gallery holds ``--speakers`` synthetic voices (tests/synthetic.py) enrolled with a copy of the
model in ``--weights`` (default: the shipped weights/), or with an untrained encoder saved to a
temporary folder when that folder holds no model (speed and memory do not depend on training;
accuracy is not measured here).

    nice -n 15 .venv/bin/python benchmarks/load_test.py          # library: 1 and 4 clients x 1000
    nice -n 15 .venv/bin/python benchmarks/load_test.py --app    # app: 1, 2 and 4 pages x 10
    nice -n 15 .venv/bin/python benchmarks/load_test.py --app --pages 1 --requests-per-page 60 \
        --key app_soak                                           # app memory over a longer run
    nice -n 10 .venv/bin/python benchmarks/load_test.py --app --at-once --pages 1 4 \
        --requests-per-page 4 --speakers 4 --query-seconds 15 --queries 8 --key app_at_once
    nice -n 10 .venv/bin/python benchmarks/load_test.py --app --soak   # 10 sessions, 10 minutes
    .venv/bin/python benchmarks/load_test.py --threads 2 --requests 200
    .venv/bin/python benchmarks/load_test.py --smoke         # seconds: does the script still work?
    .venv/bin/python benchmarks/load_test.py --app --smoke
    .venv/bin/python benchmarks/load_test.py --app --soak --smoke

Each run updates its own entry of benchmarks/results/load.json (``--key``), then load.md is
rewritten from all entries (``--smoke``: a tiny model and a few requests, written to a temporary
folder instead). Linux only (RSS from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from smoke import HELP as SMOKE_HELP  # noqa: E402
from smoke import output, tiny_model  # noqa: E402
from streamlit_browser import IDLE  # noqa: E402
from synthetic import synth_voice, write_wav  # noqa: E402

from speakerid import SpeakerIDError  # noqa: E402

RATE = 16_000
ENROL_S = 8.0
QUERY_S = 4.0
DISTINCT_QUERIES = 40  # files cycled through by the requests (the app part gives each request its own)
RSS_CHECKPOINT = 100
OUT = ROOT / "benchmarks" / "results" / "load.json"
CHROMIUM = Path(os.environ.get("SPEAKERID_CHROMIUM", "/usr/bin/chromium"))
START_TIMEOUT_S = 300
STEP_TIMEOUT_S = 300  # for one step of a page (the first loads TensorFlow and the model)
UPLOADER = ".st-key-identify_upload"  # the Identify page's st.file_uploader(key="identify_upload")
# The Identify page's markers, by element rather than wording: its verdict container (drawn on
# every run that has a verdict, also when the page redraws a cached one) and st.error's box (a clip
# that cannot be identified).
VERDICT = ".st-key-verdict"
REFUSAL = '[data-testid="stAlertContentError"]'
# The status label with the server's own analysis time; only on screen while the run that analysed
# the clip is the last one (a later rerun draws the cached verdict without it).
ANALYSED = re.compile(r"Analysed in ([0-9.]+) s")
TIMED_UNTIL = "the verdict is on the page"
EARLIER_END = 'the status label "Analysed in" is on the page'  # what runs before the verdict key timed


# --- shared ---------------------------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    """Resident memory now (not the peak: the peak cannot show memory being given back)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status (this load test needs Linux)")


def load_encoder(weights: Path, workdir: Path, smoke: bool = False):
    """(encoder, description, model folder): a copy of the model in ``weights`` (so that a model
    replaced during the run cannot change it), an untrained one when that folder holds no model,
    or the tiny model of a smoke run."""
    from speakerid import Encoder, load_model

    if smoke:
        folder = tiny_model(workdir / "tiny")
        return load_model(folder), "tiny untrained (--smoke)", folder
    if (weights / "config.json").is_file():  # a model that fails to load stops the run: no silent swap
        copy = workdir / "model"
        shutil.copytree(weights, copy)
        described = f"trained ({weights.name}/, sha256 of its files {folder_digest(copy)})"
        return load_model(copy), described, copy
    from speakerid.models.networks import ModelConfig

    saved = Encoder.create(ModelConfig()).save(workdir / "untrained")
    return load_model(saved), "untrained (default ModelConfig)", saved


def folder_digest(folder: Path) -> str:
    """Of every file in ``folder`` (names and contents): a fused model keeps its networks in
    sub-folders, so no single weights file names it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def enrol_gallery(path: Path, encoder, speakers: int) -> float:
    """Enrol ``speakers`` synthetic voices, one clip each; returns the seconds it took."""
    from speakerid import Gallery
    from speakerid.audio import from_array

    started = time.perf_counter()
    with Gallery(path, encoder) as gallery:
        for index in range(speakers):
            voice = from_array(synth_voice(index, ENROL_S, RATE, seed=0), RATE, f"speaker{index}.wav")
            gallery.enroll(f"speaker {index:03d}", voice)
    return time.perf_counter() - started


def query_files(folder: Path, speakers: int, count: int = DISTINCT_QUERIES,
                seconds: float = QUERY_S) -> list[Path]:
    """New clips (another seed) of enrolled speakers, as files: requests decode them like uploads."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"query{number:02d}.wav"
        write_wav(path, synth_voice(number % speakers, seconds, RATE, seed=1 + number), RATE)
        paths.append(path)
    return paths


def usable_queries(gallery, files: list[Path]) -> tuple[list[Path], dict[str, str]]:
    """The files the gallery identifies, and why each other one is refused. Some synthetic clips
    have no speech for the voice-activity detector; refusing them is correct, but a refusal is a
    different, much cheaper request, so they are left out of the timed runs (and reported).
    Identifying every file once also warms the encoder up (TensorFlow traces it on first use)."""
    kept, dropped = [], {}
    for path in files:
        try:
            gallery.identify(path)
            kept.append(path)
        except SpeakerIDError as exc:
            dropped[path.name] = str(exc)
    if not kept:
        raise SystemExit(f"the gallery refused every query file: {dropped}")
    return kept, dropped


def summary(latencies_ms: list[float], wall_s: float) -> dict:
    return {"requests": len(latencies_ms), "wall_s": round(wall_s, 2),
            "throughput_per_s": round(len(latencies_ms) / wall_s, 3) if wall_s > 0 else None,
            "p50_ms": _round(_percentile(latencies_ms, 50)), "p95_ms": _round(_percentile(latencies_ms, 95))}


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def machine(load_at_start: float | None = None) -> dict:
    """The cores, and the load average (1 min) at the start when given and at the end: on a shared
    machine it shapes every figure."""
    start = {} if load_at_start is None else {"load_average_1min_at_start": round(load_at_start, 2)}
    return {"cpus": os.cpu_count(), **start, "load_average_1min_at_end": round(os.getloadavg()[0], 2)}


# --- library --------------------------------------------------------------------------------------
class Run:
    """Shared state of one load run: who takes the next request, latencies, RSS checkpoints."""

    def __init__(self, requests: int, deadline: float) -> None:
        self.requests = requests
        self.deadline = deadline
        self.tickets = itertools.count()
        self.lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.errors: list[str] = []
        self.rss_after_checkpoint: float | None = None

    def next_ticket(self) -> int | None:
        """The next request number, or None when the run is complete or out of time."""
        with self.lock:
            ticket = next(self.tickets)
        return ticket if ticket < self.requests and time.monotonic() < self.deadline else None

    def record(self, latency_ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies_ms.append(latency_ms)
            if error:
                self.errors.append(error)
            if len(self.latencies_ms) == RSS_CHECKPOINT:
                self.rss_after_checkpoint = rss_mb()


def client(gallery, files: list[Path], run: Run) -> None:
    while (ticket := run.next_ticket()) is not None:
        start = time.perf_counter()
        error = None
        try:
            gallery.identify(files[ticket % len(files)])
        except Exception as exc:  # a load test reports failures, it does not stop at the first
            error = f"{type(exc).__name__}: {exc}"
        run.record((time.perf_counter() - start) * 1000, error)


def load_run(gallery, files: list[Path], threads: int, requests: int, max_seconds: float) -> dict:
    run = Run(requests, time.monotonic() + max_seconds)
    rss_start = rss_mb()
    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(gallery, files, run), daemon=True)
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = summary(run.latencies_ms, time.perf_counter() - started)
    return {"threads": threads, **stats, "errors": len(run.errors),
            "first_error": run.errors[0] if run.errors else None,
            "rss_start_mb": round(rss_start, 1), "rss_after_100_mb": _round(run.rss_after_checkpoint),
            "rss_after_last_mb": round(rss_mb(), 1), "stopped_by_time": stats["requests"] < requests}


def library_part(args: argparse.Namespace) -> dict:
    from speakerid import Gallery

    with tempfile.TemporaryDirectory(prefix="speakerid-load-") as tmp:
        workdir = Path(tmp)
        encoder, encoder_kind, _ = load_encoder(args.weights, workdir, args.smoke)
        enrol_s = enrol_gallery(workdir / "gallery.sqlite", encoder, args.speakers)
        files = query_files(workdir / "queries", args.speakers, args.queries, args.query_seconds)
        with Gallery(workdir / "gallery.sqlite", encoder) as gallery:
            files, dropped = usable_queries(gallery, files)
            rss_after_warm_up = rss_mb()
            runs = []
            for threads in args.threads:
                runs.append(load_run(gallery, files, threads, args.requests, args.max_seconds))
                print(_library_row(runs[-1]), file=sys.stderr, flush=True)
    return {"settings": {"encoder": encoder_kind, "speakers": args.speakers, "enrol_s_each": ENROL_S,
                         "query_s": args.query_seconds, "distinct_query_files": len(files),
                         "query_files_refused": dropped, "requests_per_run": args.requests,
                         "max_seconds": args.max_seconds},
            "machine": machine(), "enrolment_s": round(enrol_s, 1),
            "rss_after_warm_up_mb": round(rss_after_warm_up, 1), "runs": runs}


# --- app ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run app.py`` on loopback in its own process group, stopped on exit."""

    def __init__(self, home: Path, model: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        env = {**os.environ, "SPEAKERID_HOME": str(home), "SPEAKERID_WEIGHTS": str(model),
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self) -> AppServer:
        """Once this server answers. The free port may have been taken by another program meanwhile
        (a shared machine runs other Streamlit servers): then this one stops, and its log says why,
        rather than the run driving someone else's app."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if (self.url in self.log_path.read_text()  # printed once this server has the port
                        and urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok"
                        and self.process.poll() is None):
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("streamlit did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.5)

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def rss_mb(self) -> float:
        return round(rss_mb(self.process.pid), 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


async def open_identify(context, url: str, timeout_s: float):
    page = await context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    await page.goto(url)
    # the first run has drawn the uploader and finished: a file given to an uploader that the run
    # still redraws can be lost
    await _uploader(page).wait_for()
    await wait_idle(page)
    return page


async def wait_idle(page) -> None:
    """Until Streamlit has finished running the script, as the browser tests wait (the app's own
    script state: the "Running..." indicator alone is not drawn on every run)."""
    await page.wait_for_function(IDLE)


def _uploader(page):
    return page.locator(UPLOADER)


def _outcome(page):
    """The verdict, or the error box of a clip that cannot be identified."""
    return page.locator(VERDICT).or_(page.locator(REFUSAL))


async def identify_once(page, path: Path, together: asyncio.Barrier | None = None
                        ) -> tuple[float, str | None, float, float | None]:
    """(milliseconds from upload to verdict, error or None, seconds spent clearing the previous
    file first, the server's own analysis seconds or None when its label was redrawn away). A step
    that times out stops the run, saying what the page showed."""
    from playwright.async_api import TimeoutError as StepTimeout

    try:
        return await _identify_once(page, path, together)
    except StepTimeout as exc:
        shown = (await page.inner_text("body"))[-2000:]
        raise RuntimeError(f"{path.name}: {exc.message.splitlines()[0]}\nThe page showed:\n{shown}") from exc


async def _identify_once(page, path: Path, together: asyncio.Barrier | None
                         ) -> tuple[float, str | None, float, float | None]:
    clear_s = 0.0
    delete = _uploader(page).locator('[data-testid="stFileChipDeleteBtn"]')
    if await delete.count():
        cleared = time.perf_counter()
        await delete.first.click()
        await _outcome(page).first.wait_for(state="detached")
        await wait_idle(page)
        clear_s = time.perf_counter() - cleared
    if together is not None:  # --at-once: every page of the round uploads now
        await together.wait()
    start = time.perf_counter()
    await _uploader(page).locator('input[type="file"]').set_input_files(str(path))
    await _outcome(page).first.wait_for()
    latency_ms = (time.perf_counter() - start) * 1000
    await wait_idle(page)
    if not await page.locator(VERDICT).count():
        return latency_ms, (await page.locator(REFUSAL).first.inner_text()).strip()[:200], clear_s, None
    # the texts as the page holds them now, in one step: counting the label and then reading it
    # waited the step timeout (180 s) when a redraw removed it in between
    texts = await page.get_by_text(ANALYSED).all_inner_texts()
    match = next(filter(None, (ANALYSED.search(text) for text in texts)), None)
    return latency_ms, None, clear_s, float(match.group(1)) if match else None


async def page_client(page, files: list[Path], server: AppServer, trace: list[float],
                      together: asyncio.Barrier | None = None
                      ) -> list[tuple[float, str | None, float, float | None]]:
    """One page's requests, one after another (with ``together``, each uploaded when every page of
    the round is ready); the server's RSS goes to ``trace`` after each."""
    outcomes = []
    for path in files:
        outcomes.append(await identify_once(page, path, together))
        trace.append(server.rss_mb())
    return outcomes


async def launch_browser(playwright):
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])


async def warm_up(browser, server: AppServer, path: Path, timeout_s: float) -> dict:
    """One request from a first session, which loads TensorFlow and the model."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    started = time.perf_counter()
    page = await open_identify(context, server.url, timeout_s)
    outcome = await identify_once(page, path)
    warm_up_s = time.perf_counter() - started
    await context.close()
    return {"warm_up_s": round(warm_up_s, 1), "warm_up_error": outcome[1],
            "rss_after_warm_up_mb": server.rss_mb()}


async def drive_app(server: AppServer, files: list[Path], pages: list[int], per_page: int,
                    timeout_s: float, at_once: bool = False) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch_browser(playwright)
        try:
            result = {**await warm_up(browser, server, files[-1], timeout_s), "rounds": []}
            for count in pages:
                contexts = [await browser.new_context(viewport={"width": 1440, "height": 1000})
                            for _ in range(count)]
                opened = await asyncio.gather(*(open_identify(c, server.url, timeout_s) for c in contexts))
                rss_before = server.rss_mb()
                started = time.perf_counter()
                trace: list[float] = []
                together = asyncio.Barrier(count) if at_once else None
                outcomes = await asyncio.gather(*(
                    page_client(p, [files[(i * per_page + n) % len(files)] for n in range(per_page)],
                                server, trace, together)
                    for i, p in enumerate(opened)))
                wall_s = time.perf_counter() - started
                flat = [o for per in outcomes for o in per]
                errors = [error for _, error, _, _ in flat if error]
                analysis_s = [s for _, _, _, s in flat if s is not None]
                result["rounds"].append({
                    "pages": count, **summary([ms for ms, _, _, _ in flat], wall_s),
                    "server_analysis_p50_s": _round(_percentile(analysis_s, 50), 2),
                    "clearing_s_mean": _round(_mean([s for _, _, s, _ in flat if s > 0]), 2),
                    "errors": len(errors),
                    "first_error": errors[0] if errors else None,
                    "server_rss_before_mb": rss_before, "server_rss_after_mb": server.rss_mb(),
                    "server_rss_trace_mb": trace})
                print(_app_row(result["rounds"][-1]), file=sys.stderr, flush=True)
                for context in contexts:
                    await context.close()
            return result
        finally:
            await browser.close()


async def drive_soak(server: AppServer, files: list[Path], args: argparse.Namespace) -> dict:
    """``args.sessions`` journalists, each opening a session, identifying ``args.per_session``
    clips and closing it, until ``args.soak_minutes`` have passed; the server's RSS and the load
    average sampled every ``SOAK_SAMPLE_S`` seconds."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch_browser(playwright)
        try:
            result = await warm_up(browser, server, files[-1], args.step_timeout)
            started = time.monotonic()
            deadline = started + args.soak_minutes * 60
            samples: list[tuple[float, float, float]] = []  # (seconds in, server RSS MB, load average)
            outcomes: list[tuple[float, str | None, float, float | None]] = []
            sessions = [0]

            def sample() -> None:
                samples.append((round(time.monotonic() - started, 1), server.rss_mb(),
                                round(os.getloadavg()[0], 2)))

            async def sampler() -> None:
                while time.monotonic() < deadline:
                    sample()
                    await asyncio.sleep(args.soak_sample_s)

            async def journalist(number: int) -> None:
                request = number
                while time.monotonic() < deadline:
                    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
                    sessions[0] += 1
                    try:
                        page = await open_identify(context, server.url, args.step_timeout)
                        for _ in range(args.per_session):
                            outcomes.append(await identify_once(page, files[request % len(files)]))
                            request += args.sessions
                            if time.monotonic() >= deadline:
                                break
                    finally:
                        await context.close()

            await asyncio.gather(sampler(), *(journalist(n) for n in range(args.sessions)))
            sample()
        finally:
            await browser.close()
    after_warm_up = next((rss for at, rss, _ in samples if at >= args.soak_warm_up), samples[-1][1])
    errors = [error for _, error, _, _ in outcomes if error]
    return {**result, "sessions_at_once": args.sessions, "sessions_opened": sessions[0],
            **summary([ms for ms, _, _, _ in outcomes], time.monotonic() - started),
            "errors": len(errors), "first_error": errors[0] if errors else None,
            "server_rss_after_soak_warm_up_mb": after_warm_up, "server_rss_soak_end_mb": samples[-1][1],
            "server_rss_growth_pct": round(100 * (samples[-1][1] / after_warm_up - 1), 1),
            "load_average_min_max": [min(x for _, _, x in samples), max(x for _, _, x in samples)],
            "samples": samples}


def app_part(args: argparse.Namespace) -> dict:
    if not CHROMIUM.is_file():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        raise SystemExit("Playwright is not installed (pip install -r requirements-dev.txt)") from None
    with tempfile.TemporaryDirectory(prefix="speakerid-load-app-") as tmp:
        workdir = Path(tmp)
        home = workdir / "home"
        home.mkdir()
        encoder, encoder_kind, model = load_encoder(args.weights, workdir, args.smoke)
        # home/gallery.sqlite is where the app looks (speakerid.paths.gallery_path)
        enrol_s = enrol_gallery(home / "gallery.sqlite", encoder, args.speakers)
        from speakerid import Gallery

        with Gallery(home / "gallery.sqlite", encoder) as gallery:
            files, dropped = usable_queries(
                gallery, query_files(workdir / "queries", args.speakers, args.queries, args.query_seconds))
        del encoder, gallery
        load_at_start = os.getloadavg()[0]
        started = time.perf_counter()
        with AppServer(home, model, workdir / "streamlit.log") as server:
            start_s = time.perf_counter() - started
            rss_started = server.rss_mb()
            drive = (drive_soak(server, files, args) if args.soak else
                     drive_app(server, files, args.pages, args.requests_per_page, args.step_timeout,
                               args.at_once))
            try:
                driven = asyncio.run(drive)
            except Exception:
                print("The server's log ends:\n" + server.log_path.read_text()[-3000:], file=sys.stderr)
                raise
            rss_end = server.rss_mb()
            tracebacks = server.log_path.read_text().count("Traceback")
    return {"settings": {"encoder": encoder_kind, "speakers": args.speakers, "enrol_s_each": ENROL_S,
                         "query_s": args.query_seconds, "distinct_query_files": len(files),
                         "query_files_refused": dropped, "requests_per_page": args.requests_per_page,
                         "at_once": args.at_once, "soak_minutes": args.soak_minutes if args.soak else None,
                         "soak_warm_up_s": args.soak_warm_up, "per_session": args.per_session,
                         "browser": f"{CHROMIUM} (headless, Playwright)", "timed_until": TIMED_UNTIL},
            "machine": machine(load_at_start), "enrolment_s": round(enrol_s, 1),
            "server_start_s": round(start_s, 1), "server_rss_after_start_mb": rss_started, **driven,
            "server_rss_at_end_mb": rss_end, "server_log_tracebacks": tracebacks}


# --- report ---------------------------------------------------------------------------------------
LIBRARY_HEADER = ("| clients | requests | throughput (req/s) | p50 (ms) | p95 (ms) | RSS start (MB) "
                  "| RSS after 100 (MB) | RSS after last (MB) | errors |\n"
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
APP_HEADER = ("| pages | requests | wall (s) | throughput (req/s) | p50 (ms) | p95 (ms) "
              "| \"Analysed in\" p50 (s) | server RSS before (MB) | server RSS after (MB) | errors |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def _library_row(r: dict) -> str:
    return (f"| {r['threads']} | {r['requests']} | {r['throughput_per_s']:.2f} | {_num(r['p50_ms'])} | "
            f"{_num(r['p95_ms'])} | {_num(r['rss_start_mb'])} | {_num(r['rss_after_100_mb'])} | "
            f"{_num(r['rss_after_last_mb'])} | {r['errors']} |")


def _app_row(r: dict) -> str:
    return (f"| {r['pages']} | {r['requests']} | {r['wall_s']:.1f} | {r['throughput_per_s']:.3f} | "
            f"{_num(r['p50_ms'])} | {_num(r['p95_ms'])} | {_or_na(r['server_analysis_p50_s'])} | "
            f"{_num(r['server_rss_before_mb'])} | "
            f"{_num(r['server_rss_after_mb'])} | {r['errors']} |")


def _or_na(value: float | None) -> str:
    return "n/a" if value is None else str(value)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _refused(settings: dict) -> str:
    refused = settings.get("query_files_refused") or {}
    return "".join(f" Left out of the requests: {reason} (the library refuses it; see usable_queries)."
                   for reason in refused.values())


def _slowdown(rounds: list[dict]) -> str:
    """Median time to verdict with several pages against one page alone, in the same run."""
    alone = next((r["p50_ms"] for r in rounds if r["pages"] == 1 and r["p50_ms"]), None)
    if alone is None or len(rounds) < 2:
        return ""
    return (" Median time to verdict against one page alone: "
            + ", ".join(f"{r['pages']} pages {r['p50_ms'] / alone:.1f}x"
                        for r in rounds if r["pages"] > 1 and r["p50_ms"]) + ".")


def _traces(rounds: list[dict]) -> str:
    """Server RSS after every 10th request, for rounds long enough to show a trend."""
    return "".join(
        f" Server RSS after every 10th request with {r['pages']} page(s): "
        + ", ".join(f"{mb:.0f}" for mb in r["server_rss_trace_mb"][9::10]) + " MB."
        for r in rounds if len(r.get("server_rss_trace_mb", [])) >= 20)


def _num2(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def markdown(results: dict) -> str:
    """load.md from load.json: one section per part that has been run."""
    lines = ["# Load test (benchmarks/load_test.py)", ""]
    if library := results.get("library"):
        s = library["settings"]
        lines += ["## Library: concurrent `Gallery.identify` on one shared gallery", "",
                  f"{s['speakers']} enrolled synthetic speakers, {s['query_s']:g} s query clips (WAV "
                  f"files decoded on every request, {s['distinct_query_files']} distinct), encoder: "
                  f"{s['encoder']}. "
                  f"Closed loop: each client sends its next request when the last is answered. RSS of the "
                  f"load-test process after warm-up: {library['rss_after_warm_up_mb']:.0f} MB."
                  + _refused(s), "",
                  LIBRARY_HEADER, *map(_library_row, library["runs"]), "",
                  f"Command: `{library['command']}` ({library['runtime_s']:.0f} s in all)", ""]
    for key, app in results.items():
        if not key.startswith("app") or not isinstance(app, dict):
            continue
        s = app["settings"]
        pages = " then ".join(str(r["pages"]) for r in app["rounds"])
        together = ", uploading each clip at the same moment" if s.get("at_once") else ""
        lines += [f"## App ({key}): {pages} concurrent headless Chromium page(s) on the Identify page"
                  f"{together}", "",
                  f"`streamlit run app.py` on 127.0.0.1, gallery of {s['speakers']} synthetic speakers "
                  f"enrolled with the library, encoder: {s['encoder']}; {s['requests_per_page']} uploads "
                  f"of {s['query_s']:g} s WAV clips per page, one after another (cycling through "
                  f"{s.get('distinct_query_files', DISTINCT_QUERIES)} distinct files). A request is "
                  f"timed from the upload until {s.get('timed_until', EARLIER_END)} (upload, rerun, "
                  "decoding, analysis, verdict rendered; in runs before 2026-12-07 also the figures, which "
                  "the page then drew before the verdict). Each page removes its file between "
                  "requests, an untimed rerun that is counted in the wall time (so throughput understates "
                  "capacity; the mean time it took is below). Server RSS: "
                  f"{app['server_rss_after_start_mb']:.0f} MB after start (TensorFlow not loaded yet), "
                  f"{app['rss_after_warm_up_mb']:.0f} MB after the warm-up request, "
                  f"{app['server_rss_at_end_mb']:.0f} MB at the end. \"Analysed in\" is the "
                  "app's own figure: its analysis steps on the server (preparation, features, embedding, "
                  "search), without upload, decoding, figures and rendering (n/a when the page had "
                  "redrawn the verdict without it)." + _refused(s), "",
                  APP_HEADER, *map(_app_row, app["rounds"]), "",
                  "Removing a file between requests took "
                  + ", ".join(f"{_num2(r['clearing_s_mean'])} s with {r['pages']} page(s)"
                              for r in app["rounds"])
                  + " on average." + _slowdown(app["rounds"]) + _traces(app["rounds"]), "",
                  f"Command: `{app['command']}` ({app['runtime_s']:.0f} s in all)" + _conditions(app), ""]
    for key, soak in results.items():
        if key.startswith("soak") and isinstance(soak, dict):
            lines += soak_markdown(key, soak)
    lines += [f"Machine: {os.cpu_count()} CPU cores. {NOTE}", ""]
    if notes := results.get("notes"):  # written by hand into load.json after looking at a run
        lines += ["Notes on these runs:", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def _conditions(part: dict) -> str:
    """The load average around the run, and what the server's log held."""
    load = part.get("machine", {})
    start, end = load.get("load_average_1min_at_start"), load.get("load_average_1min_at_end")
    during = "" if start is None else f"{start:.1f} at the start, "
    tracebacks = part.get("server_log_tracebacks")
    return (("" if end is None else f"; load average (1 min) {during}{end:.1f} at the end")
            + ("" if tracebacks is None else f"; tracebacks in the server's log: {tracebacks}") + ".")


def soak_markdown(key: str, soak: dict) -> list[str]:
    """A soak run: sessions that start and end for minutes, and whether the server keeps memory."""
    s = soak["settings"]
    every = max(1, len(soak["samples"]) // 10)
    trace = ", ".join(f"{at / 60:.1f} min {rss:.0f}" for at, rss, _ in soak["samples"][::every])
    low, high = soak["load_average_min_max"]
    return [f"## Soak ({key}): {soak['sessions_at_once']} sessions at once for {s['soak_minutes']:g} min, "
            "each new session identifying a few clips then closing", "",
            f"`streamlit run app.py` on 127.0.0.1, gallery of {s['speakers']} synthetic speakers, encoder: "
            f"{s['encoder']}; {s['query_s']:g} s WAV clips, {s['per_session']} per session, "
            f"{soak['sessions_opened']} sessions opened and closed in all, {soak['requests']} verdicts "
            f"(p50 {_num(soak['p50_ms'])} ms, p95 {_num(soak['p95_ms'])} ms), {soak['errors']} errors. "
            f"Server RSS: {soak['rss_after_warm_up_mb']:.0f} MB after the warm-up request, "
            f"{soak['server_rss_after_soak_warm_up_mb']:.0f} MB after the first "
            f"{s.get('soak_warm_up_s', 0):g} s of the soak, {soak['server_rss_soak_end_mb']:.0f} MB at "
            f"its end: **{soak['server_rss_growth_pct']:+.1f} %**. Tracebacks in the server's log: "
            f"**{soak['server_log_tracebacks']}**. Load average (1 min) during the run: "
            f"{low:.1f}-{high:.1f}.",
            "", f"Server RSS (MB) along the run: {trace}.", "",
            f"Command: `{soak['command']}` ({soak['runtime_s']:.0f} s in all)", ""]


NOTE = ("A model training run (reniced -15) and other jobs shared the 2 cores during the measurement "
        "(load average in load.json), so throughput is lower and latency higher and noisier than on an "
        "idle machine of the same size; with 2 cores, more than 2 concurrent clients can only queue.")


# --smoke: a tiny model, a few requests; one round of two pages shows that concurrent pages work.
SMOKE = {"threads": [1, 2], "requests": 6, "pages": [2], "requests_per_page": 2, "speakers": 3, "queries": 4,
         "step_timeout": 180, "sessions": 2, "per_session": 2, "soak_minutes": 0.2, "soak_warm_up": 3.0,
         "soak_sample_s": 2.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", action="store_true", help="drive the Streamlit app in Chromium instead")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4],
                        help="library: concurrent clients, one run each")
    parser.add_argument("--requests", type=int, default=1000, help="library: requests per run")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="library: a run stops after this long")
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 2, 4],
                        help="app: concurrent browser pages, one round each")
    parser.add_argument("--requests-per-page", type=int, default=10, help="app: uploads per page per round")
    parser.add_argument("--at-once", action="store_true",
                        help="app: the pages of a round upload each clip at the same moment")
    parser.add_argument("--soak", action="store_true",
                        help="app: sessions that start and end for --soak-minutes (memory, errors)")
    parser.add_argument("--sessions", type=int, default=10, help="soak: journalists at once")
    parser.add_argument("--per-session", type=int, default=3, help="soak: clips a session identifies")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--soak-warm-up", type=float, default=120.0, metavar="S",
                        help="soak: RSS growth is measured from this many seconds in")
    parser.add_argument("--soak-sample-s", type=float, default=15.0, help=argparse.SUPPRESS)
    parser.add_argument("--step-timeout", type=float, default=STEP_TIMEOUT_S, metavar="S",
                        help="app: a page step (opening, a verdict) fails after this long")
    parser.add_argument("--speakers", type=int, default=50)
    parser.add_argument("--queries", type=int, default=DISTINCT_QUERIES,
                        help="distinct query files the requests cycle through")
    parser.add_argument("--query-seconds", type=float, default=QUERY_S,
                        help="length of the query clips (the app draws who speaks when from 20 s)")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--key", help="entry of the JSON file to write (default: library or app; "
                                      "app parts must start with app)")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP + "; sets every size")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    if args.soak:
        args.app = True

    started = time.perf_counter()
    part = app_part(args) if args.app else library_part(args)
    niceness = os.nice(0)  # it shapes the figures on a shared machine
    arguments = sys.argv[1:] if argv is None else argv
    part["command"] = (f"nice -n {niceness} " if niceness else "") + " ".join(
        [".venv/bin/python", f"benchmarks/{Path(sys.argv[0]).name}", *arguments])
    part["runtime_s"] = round(time.perf_counter() - started, 1)
    with output(args.out, args.smoke) as out:
        results = json.loads(out.read_text()) if out.is_file() else {}
        results[args.key or ("soak" if args.soak else "app" if args.app else "library")] = part
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
