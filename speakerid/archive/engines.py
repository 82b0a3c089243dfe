"""Where the model work of ``archive add`` runs: in this process (:class:`LocalEngine`) or on Ray
(:mod:`speakerid.archive.ray_engine`). An engine only turns recordings into
:class:`~.indexer.IndexedRecording`; the driver links voices and writes the archive, so the archive
has one writer whichever engine runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import SpeakerIDError
from .indexer import IndexedRecording, index_recording

if TYPE_CHECKING:
    from ..longform import StageProgress
    from ..models.encoder import SpeakerModel

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One recording to index: the file its audio is read from, and its name for messages."""

    media: Path
    name: str


Outcome = IndexedRecording | SpeakerIDError


class Engine(Protocol):
    """Indexes recordings; yields each job with its outcome as soon as it is done (any order)."""

    @property
    def model(self) -> SpeakerModel | None:
        """The model object in this process, or None when it lives elsewhere (Ray)."""

    @property
    def model_id(self) -> str: ...

    @property
    def model_dir(self) -> Path | None: ...

    def run(self, jobs: Sequence[Job], stage_progress: StageProgress | None = None
            ) -> Iterator[tuple[Job, Outcome]]: ...

    def close(self) -> None: ...


def failure(job: Job, exc: BaseException) -> SpeakerIDError:
    """One sentence for a recording that failed: a refusal in its own words, else named."""
    if isinstance(exc, SpeakerIDError):
        return exc
    text = " ".join(str(exc).split())[:300]
    return SpeakerIDError(f"{job.name}: {type(exc).__name__}" + (f": {text}" if text else ""))


class LocalEngine:
    """The model in this process, one recording after another (a recording's own work is already
    spread over the cores by TensorFlow)."""

    def __init__(self, model: SpeakerModel) -> None:
        self.model = model

    @property
    def model_id(self) -> str:
        return self.model.encoder_id

    @property
    def model_dir(self) -> Path | None:
        return self.model.path

    def run(self, jobs: Sequence[Job], stage_progress: StageProgress | None = None
            ) -> Iterator[tuple[Job, Outcome]]:
        for job in jobs:
            try:
                outcome: Outcome = index_recording(job.media, self.model, job.name, stage_progress)
            except Exception as exc:  # one recording's failure, whatever it is, stops only it
                outcome = failure(job, exc)
            yield job, outcome

    def close(self) -> None:
        pass
