"""The app's shared work queue (speakerid.app.work_queue): first in, first out, never more jobs at
once than its workers, each waiting job knows how many are ahead of it, a failure reaches the job's
own page as it was raised, and a cancelled job gives its place or its worker back. Nothing is timed:
jobs wait on events, and the waits below only guard against a hang."""

from __future__ import annotations

import threading

import pytest

from speakerid import SpeakerIDError
from speakerid.app import work_queue
from speakerid.app.work_queue import Cancelled, Job, WorkQueue, pool_size
from speakerid.i18n import current_language, set_language

HANG_S = 30  # only against a hang: every wait below ends as soon as the event it waits for happens


def blocker(release: threading.Event, started: threading.Event | None = None):
    """A job that runs until ``release`` is set (and says when it has started)."""
    def work(job: Job) -> str:
        if started is not None:
            started.set()
        assert release.wait(HANG_S)
        return job.label
    return work


def test_waiting_jobs_know_how_many_are_ahead_and_run_first_in_first_out():
    queue, release, started = WorkQueue(1), threading.Event(), threading.Event()
    order: list[str] = []
    first = queue.submit(blocker(release, started), "first")
    assert started.wait(HANG_S)
    waiting = [queue.submit(lambda job: order.append(job.label), f"clip {n}") for n in range(3)]
    assert first.ahead() == 0 and [job.ahead() for job in waiting] == [1, 2, 3]
    assert queue.counts() == (1, 3)
    release.set()
    assert all(job.wait(HANG_S) for job in waiting)
    assert order == ["clip 0", "clip 1", "clip 2"] and first.result() == "first"
    assert [job.ahead() for job in waiting] == [0, 0, 0] and queue.counts() == (0, 0)


def test_no_more_jobs_run_at_once_than_the_queue_has_workers():
    queue, lock, release = WorkQueue(2), threading.Lock(), threading.Event()
    running, most = [0], [0]
    two_running = threading.Event()

    def work(job: Job) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == 2:
                two_running.set()
        assert release.wait(HANG_S)
        with lock:
            running[0] -= 1

    jobs = [queue.submit(work, str(n)) for n in range(6)]
    assert two_running.wait(HANG_S)
    assert queue.counts() == (2, 4) and [job.ahead() for job in jobs[2:]] == [2, 3, 4, 5]
    release.set()
    assert all(job.wait(HANG_S) for job in jobs)
    assert most[0] == 2 and all(job.state == "done" for job in jobs)


def test_a_failing_job_raises_its_own_error_to_its_page_and_the_worker_goes_on():
    queue = WorkQueue(1)

    def fails(job: Job) -> None:
        raise SpeakerIDError("no speech found: the clip is silent or only noise")

    failed = queue.submit(fails, "silence.wav")
    with pytest.raises(SpeakerIDError) as raised:
        failed.result(HANG_S)
    assert str(raised.value) == "no speech found: the clip is silent or only noise"  # one sentence, as raised
    assert failed.state == "failed"
    assert queue.submit(lambda job: 42, "next").result(HANG_S) == 42


def test_a_cancelled_waiting_job_gives_its_place_to_the_next():
    queue, release, started = WorkQueue(1), threading.Event(), threading.Event()
    queue.submit(blocker(release, started), "running")
    assert started.wait(HANG_S)
    left, stays = queue.submit(lambda job: "never", "left"), queue.submit(lambda job: "ran", "stays")
    assert stays.ahead() == 2
    left.cancel()
    assert left.state == "cancelled" and stays.ahead() == 1 and queue.counts() == (1, 1)
    with pytest.raises(Cancelled):
        left.result(HANG_S)
    release.set()
    assert stays.result(HANG_S) == "ran"


def test_a_cancelled_running_job_frees_its_worker_at_its_next_step():
    queue, started, steps = WorkQueue(1), threading.Event(), threading.Event()

    def endless(job: Job) -> None:
        started.set()
        while True:
            job.checkpoint("embedding")
            steps.wait(0.01)

    running = queue.submit(endless, "left mid-way")
    after = queue.submit(lambda job: "ran", "after")
    assert started.wait(HANG_S) and after.ahead() == 1
    running.cancel()
    assert after.result(HANG_S) == "ran"  # the only worker was given back
    assert running.state == "cancelled" and running.step == "embedding"


def test_a_job_speaks_the_language_of_the_page_that_queued_it():
    queue = WorkQueue(1)
    set_language("ne")
    try:
        job = queue.submit(lambda job: current_language(), "clip")
    finally:
        set_language("en")
    assert job.result(HANG_S) == "ne"


def test_the_pool_fits_the_cores_and_can_be_set(monkeypatch):
    monkeypatch.delenv(work_queue.WORKERS_VARIABLE, raising=False)
    monkeypatch.delenv(work_queue.INTRA_OP_VARIABLE, raising=False)
    for cores in (1, 2, 4, 16):
        size = pool_size(cores)
        assert size.workers >= 1 and size.workers * size.intra_op_threads <= cores
    monkeypatch.setenv(work_queue.WORKERS_VARIABLE, "3")
    assert pool_size(6) == work_queue.PoolSize(3, 2)
    with pytest.raises(ValueError, match="at least one worker"):
        WorkQueue(0)


def test_one_queue_per_process():
    assert work_queue.shared_queue() is work_queue.shared_queue()


def test_an_idle_worker_keeps_nothing_of_the_last_job():
    import gc
    import weakref

    class Analysis:  # stands for an analysis with its audio
        pass

    queue = WorkQueue(1)
    job = queue.submit(lambda job: Analysis(), "clip")
    gone = weakref.ref(job.result(HANG_S))
    del job
    for _ in range(HANG_S * 100):  # the worker puts the job down right after saying it is done
        gc.collect()
        if gone() is None:
            break
        threading.Event().wait(0.01)
    assert gone() is None
