"""One bounded pool of worker threads per server process, shared by every session, with a FIFO queue
that can say how many jobs are ahead of a given one.

The app's heavy work (decoding, analysis, the model, figures) runs here. Run from each session's
own script thread, four journalists uploading at once made four analyses share two cores with each
other, with Streamlit's own work and with the figures, all held up by the interpreter's lock; here
they take turns on as many workers as the cores fit, and each page can say where it waits
("2 clips ahead of yours"). A job's function gets its :class:`Job` and calls
:meth:`Job.checkpoint` between steps: that reports the step, and ends a cancelled job there, so a
page that is left frees its worker at the next step.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..i18n import current_language, set_language

T = TypeVar("T")

WORKERS_VARIABLE = "SPEAKERID_WORKERS"
INTRA_OP_VARIABLE = "SPEAKERID_INTRA_OP_THREADS"


class Cancelled(Exception):
    """Raised in a cancelled job's function at its next checkpoint, and by its result."""


class Job(Generic[T]):
    """One piece of work in a :class:`WorkQueue`: its state, the last step it reported, and its
    result or error once done."""

    def __init__(self, queue: WorkQueue, work: Callable[[Job[T]], T], label: str) -> None:
        self.label = label
        self.step = ""  # the last step the work reported (:meth:`checkpoint`)
        self._queue = queue
        self._work = work
        self._language = current_language()  # the page's: messages made by the work are in it
        self._state = "queued"  # queued -> running -> done | failed | cancelled
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None

    @property
    def state(self) -> str:
        return self._state

    def ahead(self) -> int:
        """How many jobs are before this one: those running and those queued earlier (0 once it runs)."""
        return self._queue.ahead(self)

    def checkpoint(self, step: str = "") -> None:
        """Called by the work between steps: records ``step``; raises :class:`Cancelled` once cancelled."""
        if self._cancel.is_set():
            raise Cancelled(self.label)
        if step:
            self.step = step

    def cancel(self) -> None:
        """Leave the queue at once, or stop at the running work's next checkpoint; a finished job is kept."""
        self._cancel.set()
        self._queue.withdraw(self)

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Whether the job finished within ``timeout_s``."""
        return self._finished.wait(timeout_s)

    def result(self, timeout_s: float | None = None) -> T:
        """What the work returned; its exception is raised here as it was raised there
        (:class:`Cancelled` for a cancelled job). TimeoutError when it is not done in time."""
        if not self._finished.wait(timeout_s):
            raise TimeoutError(f"{self.label} is not done")
        if self._error is not None:
            raise self._error
        return self._result

    def _run(self) -> None:
        set_language(self._language)
        try:
            self.checkpoint()
            self._result = self._work(self)
            self._state = "done"
        except Cancelled as exc:
            self._state, self._error = "cancelled", exc
        except BaseException as exc:  # noqa: BLE001 (any failure belongs to the job's page, not the worker)
            self._state, self._error = "failed", exc
        finally:
            self._work = None  # what the work held (a clip, the gallery) is not kept with the job

    def _drop(self) -> None:
        """Taken off the queue before it ran."""
        self._state, self._error, self._work = "cancelled", Cancelled(self.label), None
        self._finished.set()


class WorkQueue:
    """``workers`` threads taking jobs first in, first out. Threads start with the first job."""

    def __init__(self, workers: int, name: str = "speakerid-work") -> None:
        if workers < 1:
            raise ValueError(f"a work queue needs at least one worker, not {workers}")
        self.workers = workers
        self._name = name
        self._waiting: deque[Job] = deque()
        self._running: set[Job] = set()
        self._threads: list[threading.Thread] = []
        self._changed = threading.Condition()

    def submit(self, work: Callable[[Job[T]], T], label: str = "job") -> Job[T]:
        """Queue ``work`` (called with its :class:`Job`) behind every job queued before it."""
        job = Job(self, work, label)
        with self._changed:
            self._waiting.append(job)
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._serve, name=f"{self._name}-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            self._changed.notify()
        return job

    def ahead(self, job: Job) -> int:
        with self._changed:
            if job in self._running or job.done():
                return 0
            try:
                return len(self._running) + self._waiting.index(job)
            except ValueError:  # being handed to a worker right now
                return 0

    def withdraw(self, job: Job) -> None:
        """Take ``job`` off the queue if it has not started (its place goes to the next one)."""
        with self._changed:
            try:
                self._waiting.remove(job)
            except ValueError:
                return
        job._drop()

    def counts(self) -> tuple[int, int]:
        """(jobs running, jobs waiting)."""
        with self._changed:
            return len(self._running), len(self._waiting)

    def _serve(self) -> None:
        while True:
            with self._changed:
                while not self._waiting:
                    self._changed.wait()
                job = self._waiting.popleft()
                self._running.add(job)
            job._run()
            with self._changed:
                self._running.discard(job)  # before the job says it is done: its slot is free by then
            job._finished.set()
            del job  # its result belongs to its page: an idle worker does not keep the last one alive


@dataclass(frozen=True)
class PoolSize:
    """How many jobs run at once, and how many threads each of TensorFlow's operations may use."""

    workers: int
    intra_op_threads: int


def pool_size(cores: int | None = None) -> PoolSize:
    """The size that gave four pages at once their best median time to a verdict (README, Load):
    ``SPEAKERID_WORKERS`` and ``SPEAKERID_INTRA_OP_THREADS`` change it. Workers times threads
    stays within the cores, so that workers do not take cores from each other."""
    cores = cores or os.cpu_count() or 1
    workers = int(os.environ.get(WORKERS_VARIABLE) or max(1, cores // 2))
    threads = int(os.environ.get(INTRA_OP_VARIABLE) or max(1, cores // workers))
    return PoolSize(workers, threads)


_shared: WorkQueue | None = None
_shared_lock = threading.Lock()


def shared_queue() -> WorkQueue:
    """The process's one queue, sized by :func:`pool_size`."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkQueue(pool_size().workers)
        return _shared
