"""Enrolling a whole dataset folder, a speaker at a time (either layout of
:func:`speakerid.datasets.discover`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..datasets import discover
from ..errors import SpeakerIDError
from ..i18n import _
from ..results import Progress, SpeakerInfo

Enrol = Callable[[str, list[Path], str | None], SpeakerInfo]
"""``enrol(name, files, gender)``: one speaker's enrolment, one transaction."""


def import_folder(enrol: Enrol, folder: str | Path, progress: Progress | None = None,
                  on_error: Callable[[str, SpeakerIDError], None] | None = None) -> list[SpeakerInfo]:
    """Enrol every speaker of ``folder`` with ``enrol``. A speaker whose audio is refused stops the
    import (speakers before it stay enrolled), unless ``on_error(name, error)`` is given: then it
    is reported there and skipped."""
    sources = discover(folder)
    enrolled: list[SpeakerInfo] = []
    for done, source in enumerate(sources, start=1):
        try:
            enrolled.append(enrol(source.name, source.files, source.gender))
        except SpeakerIDError as exc:
            if on_error is None:
                raise SpeakerIDError(_("{name}: {exc} ({enrolled} speaker(s) before "
                                       "it were enrolled)").format(
                                           name=source.name, exc=exc, enrolled=len(enrolled))) from None
            on_error(source.name, exc)
        if progress:
            progress(done, len(sources))
    return enrolled
