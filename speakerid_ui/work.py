"""A page's heavy work run in the process's shared pool (speakerid.app.work_queue), the page saying
where it waits meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from speakerid.app.work_queue import Job, shared_queue
from speakerid.i18n import _, ngettext

T = TypeVar("T")

POLL_S = 0.25  # how often a waiting page looks at its place in the queue
RESHOW_S = 1.0  # how often it says it again unchanged: that is when a left page's job is cancelled


def run_queued(work: Callable[[Job[T]], T], label: str, show: Callable[[str], object]) -> T:
    """``work`` run in the shared pool; meanwhile ``show`` gets where it waits or the step it is at,
    when that changes and every second. Its result, or its exception raised here.

    Every ``show`` sends the browser an update, and that is where Streamlit stops a script whose
    page was left, rerun or closed: the job is then cancelled, and its place or worker freed."""
    job = shared_queue().submit(work, label)
    shown, shown_at = "", 0.0
    try:
        while not job.wait(POLL_S):
            text = waiting_text(job)
            if text != shown or time.monotonic() - shown_at >= RESHOW_S:
                show(text)
                shown, shown_at = text, time.monotonic()
        return job.result()
    finally:
        job.cancel()  # nothing for a finished job


def waiting_text(job: Job) -> str:
    """Where ``job`` is: how many clips are before it, or the step it is at."""
    ahead = job.ahead()
    if ahead:
        return ngettext("{n} clip ahead of yours", "{n} clips ahead of yours", ahead).format(n=ahead)
    return job.step or _("Working on your clip…")
