"""The app's speed in a real browser (``make bench-app``): a fresh server's first page, and the Live
page's pace. Figures, not tests: the suite asserts what the pages do, never how fast, because
times flake on a busy machine.

- First paint: seconds from starting ``streamlit run`` to its first page drawn (the uploader on
  screen and the script run finished), for the app and for a one-line Streamlit app started the
  same way, alternately, the best of ``--starts`` each. The app imports TensorFlow in the
  background, so the two should be close.
- Demo: a first visit to a fresh server with an empty gallery, as a new user: seconds from the
  first page drawn, through "Try the demo voices" and an example clip, to the verdict on the page
  (two clicks; the page's own waits included, TensorFlow's loading too where it is not done yet).
- Live pace: Chromium's fake microphone plays a voice enrolled as "Ram Thapa" (espeak-ng, or a
  synthetic voice without it) into the Live page over WebRTC: how long after Start he is named,
  and how many seconds of audio the page heard in ``--live-s`` seconds of wall time (a server
  that keeps up hears nearly all of them).

Needs Chromium and Playwright, as tests/test_browser.py. Prints a Markdown table for the README::

    python benchmarks/app_benchmark.py [--weights DIR] [--starts 2] [--live-s 20] [--smoke]

Without ``--weights`` the small untrained model of the browser test stands in (as the README's
figures were measured); ``--weights weights`` runs the shipped model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from streamlit_browser import (  # noqa: E402
    CHROMIUM,
    IDLE,
    RAM,
    app_env,
    heard_s,
    launch_chromium,
    mic_file,
    small_model,
    streamlit_server,
    voice_file,
)

STEP_TIMEOUT_MS = 180_000
SPEAKER = "Ram Thapa"


def first_paint_s(browser, script: str, ready: str, env: dict[str, str], log_path: Path) -> float:
    """Seconds from starting a fresh server on ``script`` to its first page drawn: ``ready`` (a CSS
    selector) on screen and the script run finished."""
    started = time.monotonic()
    with streamlit_server(script, env, log_path) as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.goto(url)
            page.locator(ready).first.wait_for()
            page.wait_for_function(IDLE)
            return time.monotonic() - started
        finally:
            context.close()


def demo_verdict_s(browser, env: dict[str, str], log_path: Path) -> float:
    """Seconds from a first visit's page drawn to the verdict on the first demo example."""
    from speakerid.demo import demo_examples

    example = demo_examples()[0]
    with streamlit_server("app.py", env, log_path) as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.goto(url)
            demo = page.get_by_role("button", name="Try the demo voices")
            demo.wait_for()
            page.wait_for_function(IDLE)
            started = time.monotonic()
            demo.click()
            page.get_by_role("button", name=example.label).wait_for()
            page.wait_for_function(IDLE)  # a click while the page reruns can be lost
            page.get_by_role("button", name=example.label).click()
            page.locator(".st-key-verdict h3").first.wait_for()
            return time.monotonic() - started
        finally:
            context.close()


def live_pace(browser, env: dict[str, str], log_path: Path, live_s: float) -> tuple[float, float, float]:
    """(seconds from Start until the speaker is named, seconds heard, seconds of wall time)."""
    with streamlit_server("app.py", env, log_path) as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            context.grant_permissions(["microphone"], origin=url)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.goto(f"{url}/live")
            page.get_by_text("Waiting for audio").first.wait_for()
            page.wait_for_function(IDLE)
            page.frame_locator('iframe[title*="webrtc"]').get_by_role(
                "button", name="Start listening").click()
            started = time.monotonic()
            page.locator(".st-key-live_now h3").filter(has_text=SPEAKER).first.wait_for()
            named_after = time.monotonic() - started
            page.wait_for_timeout(max(0.0, live_s - (time.monotonic() - started)) * 1000)
            wall = time.monotonic() - started
            return named_after, heard_s(page), wall
        finally:
            context.close()


def enrolled_home(home: Path, weights: Path, clip: Path) -> Path:
    """A user-data folder whose gallery holds the speaker, enrolled through the library."""
    from speakerid import load_model
    from speakerid.audio import load_audio
    from speakerid.gallery import Gallery

    home.mkdir(parents=True)
    with Gallery(home / "gallery.sqlite", load_model(weights)) as gallery:
        gallery.enroll(SPEAKER, load_audio(clip))
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="model folder (default: the browser test's small model)")
    parser.add_argument("--starts", type=int, default=2, help="fresh server starts per app (best is kept)")
    parser.add_argument("--live-s", type=float, default=20.0, help="seconds the Live page listens")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest size (one start each, 3 s of Live): does it still run?")
    args = parser.parse_args()
    if args.smoke:
        args.starts, args.live_s = 1, 3.0
    load = os.getloadavg()[0]
    if not CHROMIUM.is_file():
        sys.exit(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="speakerid-bench-app-") as folder:
        work = Path(folder)
        ram = voice_file(work / "ram.wav", RAM, "en+m3", 0)
        weights = args.weights.resolve() if args.weights else small_model(work / "weights")
        minimal = work / "minimal.py"
        minimal.write_text('import streamlit as st\n\nst.title("Hello")\n')
        times: dict[str, list[float]] = {"app": [], "minimal": []}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, mic_file(ram, work / "mic.wav"))
            try:
                for start in range(args.starts):
                    times["minimal"].append(first_paint_s(browser, str(minimal), "h1", {**os.environ},
                                                          work / "minimal.log"))
                    times["app"].append(first_paint_s(
                        browser, "app.py", '[data-testid="stFileUploader"]',
                        app_env(work / f"first-paint-{start}", weights), work / "app.log"))
                (work / "demo").mkdir()
                demo = demo_verdict_s(browser, app_env(work / "demo", weights), work / "demo.log")
                home = enrolled_home(work / "live", weights, ram)
                named_after, heard, wall = live_pace(browser, app_env(home, weights), work / "live.log",
                                                     args.live_s)
            finally:
                browser.close()
    app, one_line = min(times["app"]), min(times["minimal"])
    model = args.weights or "small untrained test model"
    print(f"App benchmark, {date.today()}, model: {model}, {os.cpu_count()} cores, "
          f"load average at the start: {load:.1f}\n")
    print("| measure | value |\n|---|---|")
    print(f"| first paint, fresh server: app (best of {args.starts}) | {app:.1f} s |")
    print(f"| first paint, fresh server: one-line Streamlit app | {one_line:.1f} s |")
    print(f"| first paint, app against one-line app | {app / one_line:.2f}x |")
    print(f"| first visit to a demo verdict (2 clicks, fresh server) | {demo:.1f} s |")
    print(f"| Live: {SPEAKER} named after Start | {named_after:.1f} s |")
    print(f"| Live: audio heard in {wall:.1f} s of wall time | {heard:.1f} s ({heard / wall:.0%}) |")


if __name__ == "__main__":
    main()
