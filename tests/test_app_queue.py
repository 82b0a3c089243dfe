"""The Identify page waits its turn in the shared work queue (speakerid.app.work_queue) and says
where: with every worker busy, its status shows how many clips are ahead of the user's, then the
verdict once the workers are free. Nothing is timed."""

from __future__ import annotations

import threading

from test_app import app_env, enrol, open_app, rerun, texts, wav, weights  # noqa: F401 (fixtures)

from speakerid.app.work_queue import shared_queue
from speakerid_ui import work

HANG_S = 120  # only against a hang


def test_the_identify_page_says_how_many_clips_are_ahead_while_the_pool_is_busy(monkeypatch):
    enrol("Alice", wav(0, 6.0))
    at = open_app()
    queue, release = shared_queue(), threading.Event()
    busy = [queue.submit(lambda job: release.wait(HANG_S), "another journalist's clip")
            for _ in range(queue.workers + 1)]  # every worker, and one more waiting
    shown: list[str] = []
    told = work.waiting_text

    def waiting_text(job):
        text = told(job)
        shown.append(text)
        release.set()  # the page has said where it waits: let the others finish
        return text

    monkeypatch.setattr(work, "waiting_text", waiting_text)
    try:
        at.file_uploader(key="identify_upload").upload("clip.wav", wav(0, 6.0), "audio/wav")
        rerun(at)
    finally:
        release.set()
    assert shown[0] == f"{queue.workers + 1} clips ahead of yours"
    assert all(job.wait(HANG_S) for job in busy)
    assert "Alice" in texts(at) and not at.error
    assert at.get("status")[0].label.startswith("Analysed in")


def test_the_verdict_stands_when_its_figures_cannot_be_drawn(monkeypatch):
    """The figures are drawn after the verdict, in a job of their own: a failure there costs the
    figures only, said in a line, and the page keeps the verdict and raises no error."""
    from speakerid.app import plots

    def broken(*args, **kwargs):
        raise RuntimeError("no figures today")

    enrol("Alice", wav(0, 6.0))
    monkeypatch.setattr(plots, "pipeline_waveforms", broken)
    at = open_app()
    at.file_uploader(key="identify_upload").upload("clip.wav", wav(0, 6.0), "audio/wav")
    rerun(at)
    assert "Alice" in texts(at) and not at.error and not at.exception
    assert "The figures could not be drawn." in [caption.value for caption in at.caption]
    assert at.get("status")[0].label.startswith("Analysed in")


def test_a_clips_figures_are_drawn_once_and_kept_for_the_pages_next_runs(monkeypatch):
    from speakerid.app import plots

    drawn = []
    draw = plots.pipeline_waveforms

    def counted(*args, **kwargs):
        drawn.append(threading.current_thread().name)
        return draw(*args, **kwargs)

    enrol("Alice", wav(0, 6.0))
    monkeypatch.setattr(plots, "pipeline_waveforms", counted)
    at = open_app()
    at.file_uploader(key="identify_upload").upload("clip.wav", wav(0, 6.0), "audio/wav")
    rerun(at)
    rerun(at)
    assert len(drawn) == 1 and drawn[0] != threading.current_thread().name  # in the shared pool
    assert len(at.get("image")) == 2 and "Alice" in texts(at)  # the waveforms, a spectrogram
