"""The model work of ``archive add`` on Ray: a pool of model actors, each loading the model once.

Why actors and not Ray Data's ``map_batches``: the unit of work is a whole recording (up to hours,
streamed in bounded memory by :mod:`speakerid.longform`), not a row of a table; there are few of
them and they differ in length by orders of magnitude. An actor per CPU, each holding one loaded
model, takes the next recording as soon as it is free, and every recording's outcome comes back on
its own, so one that fails is one sentence and the others go on. Ray Data would add a table
layer (and pyarrow blocks) around what is one call per file. We schedule the actors ourselves
with ``ray.wait`` rather than through ``ray.util.ActorPool``, because the pool neither tells which
item a failed call was for nor keeps a dead actor out of rotation.

Fault tolerance: actors are created with ``max_restarts`` and ``max_task_retries``, so a worker
that dies mid-recording (killed, out of memory, its node lost) is restarted, loading the model
again, and the recording is retried once; if it fails again it is reported as that recording's
failure. Workers need no shared file system: the model's files and each recording's bytes travel
through Ray's object store, and results (turns and embeddings, a few hundred kB an hour) come back
to the driver, the only process that writes the archive. Recordings are handed out a few at a time
(one per actor), so the driver never reads more files than there are workers.

Without ``RAY_ADDRESS`` a local Ray is started for this process (``num_cpus`` of this machine's);
with it, the cluster it names is joined (``ray start --head`` on one node, ``ray start
--address=HEAD:6379`` on the others, or KubeRay on Kubernetes; every node needs speakerid and its
requirements installed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import paths
from ..errors import SpeakerIDError
from ..i18n import _
from .engines import Job, Outcome, failure

if TYPE_CHECKING:
    from ..longform import StageProgress

INSTALL_HINT = "pip install -r requirements-cluster.txt"
ACTOR_RESTARTS = 2  # a worker that dies is started again this many times
TASK_RETRIES = 1  # and the recording it held is tried again this many times
MODEL_FILES = ("config.json", "calibration.json", "cohort.npy", "encoder.weights")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SpeakerIDError(_("--engine ray needs Ray, which is not installed; install it with: "
                               "{install_hint}").format(install_hint=INSTALL_HINT)) from None
    return ray


class RayEngine:
    """``workers`` model actors (default: one per CPU Ray offers) on a local Ray or a cluster."""

    model = None  # the model lives in the actors

    def __init__(self, weights: str | Path | None = None, workers: int | None = None,
                 num_cpus: int | None = None) -> None:
        ray = _ray()
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            address = os.environ.get("RAY_ADDRESS") or None
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        try:
            self.model_dir = Path(weights) if weights is not None else paths.default_model_dir()
            files = self._files = ray.put(model_files(self.model_dir))  # kept: restarts read it
            count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            actor = ray.remote(num_cpus=1, max_restarts=ACTOR_RESTARTS,
                               max_task_retries=TASK_RETRIES)(ModelActor)
            self._actors = [actor.remote(files) for _ in range(count)]
            self.model_id: str = ray.get(self._actors[0].model_id.remote())
        except BaseException:
            self.close()
            raise

    @property
    def actors(self) -> list:
        return list(self._actors)

    def run(self, jobs: Sequence[Job], stage_progress: StageProgress | None = None
            ) -> Iterator[tuple[Job, Outcome]]:
        """Outcomes in the order of ``jobs`` (the driver links voices in that order, so the archive
        is the same whichever worker finished first); ``stage_progress`` is not reported from Ray."""
        ray = self._ray
        waiting = list(enumerate(jobs))[::-1]
        running: dict[Any, tuple[int, Job, Any]] = {}
        done: dict[int, tuple[Job, Outcome]] = {}
        free = list(self._actors)
        next_out = 0
        while waiting or running:
            while waiting and free:
                index, job = waiting.pop()
                actor = free.pop()
                running[self._submit(actor, job)] = (index, job, actor)
            ready, _pending = ray.wait(list(running), num_returns=1)
            index, job, actor = running.pop(ready[0])
            done[index] = (job, self._outcome(ready[0], job))
            free.append(actor)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1

    def _submit(self, actor: Any, job: Job) -> Any:
        try:
            data = job.media.read_bytes()
        except OSError as exc:
            return self._ray.put(SpeakerIDError(_("{name}: {problem}").format(
                name=job.name, problem=exc.strerror or exc)))
        return actor.index.remote(self._ray.put(data), job.name)

    def _outcome(self, reference: Any, job: Job) -> Outcome:
        try:
            return self._ray.get(reference)
        except self._ray.exceptions.RayActorError:
            return SpeakerIDError(_("{name}: the Ray worker indexing it died {tries} "
                                    "times; nothing of it was written (add it again)").format(
                                        name=job.name, tries=TASK_RETRIES + 1))
        except Exception as exc:
            return failure(job, exc)

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            self._ray.kill(actor)
        self._actors = []
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


class ModelActor:
    """One model, loaded once from files sent through the object store; indexes recordings."""

    def __init__(self, files: dict[str, bytes]) -> None:
        from ..models.loader import load_model

        self._folder = tempfile.TemporaryDirectory(prefix="speakerid-model-")
        for name, data in files.items():
            path = Path(self._folder.name) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.model = load_model(self._folder.name)

    def model_id(self) -> str:
        return self.model.encoder_id

    def index(self, data: bytes, name: str) -> Outcome:
        from .indexer import index_recording

        try:
            return index_recording(data, self.model, name)
        except Exception as exc:  # the recording's failure, sent back as one sentence
            return failure(Job(Path(name), name), exc)


def model_files(model_dir: Path) -> dict[str, bytes]:
    """The files a model folder loads from (members' folders of a fused model too), by relative path."""
    found = {str(path.relative_to(model_dir)): path.read_bytes() for path in sorted(model_dir.rglob("*"))
             if path.is_file() and path.name.startswith(MODEL_FILES)}
    if paths.CONFIG_FILE not in found:
        raise SpeakerIDError(_("no trained encoder in {model_dir}: expected {config_file}").format(
            model_dir=model_dir, config_file=paths.CONFIG_FILE))
    return found
