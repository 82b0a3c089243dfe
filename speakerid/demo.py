"""The bundled demo: a few LibriSpeech readers to enrol and clips to identify, so that a new user
can try the app before recording anyone (``assets/demo/``, CC BY 4.0, see its NOTICE).

``python -m speakerid gallery demo`` and the app's "Try the demo voices" button both call
:func:`enrol_demo`; the Identify page offers :func:`demo_examples`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .audio import load_audio
from .errors import SpeakerIDError
from .i18n import _
from .paths import ASSETS

if TYPE_CHECKING:
    from .gallery import Gallery

DEMO_DIR = ASSETS / "demo"
MANIFEST = "demo.json"
NOTES = "Demo voice bundled with speakerid: a LibriSpeech reader (CC BY 4.0, see assets/demo/NOTICE)."


@dataclass(frozen=True)
class DemoVoice:
    name: str
    path: Path  # the enrolment excerpt
    gender: str | None


@dataclass(frozen=True)
class DemoExample:
    label: str  # what the Identify page offers it as
    path: Path
    speaker: str | None  # the demo voice it is, None for the reader nobody enrolled


@dataclass(frozen=True)
class DemoEnrolment:
    enrolled: list[str]  # newly enrolled now
    present: list[str]  # enrolled before: left as they are


def demo_voices(folder: Path = DEMO_DIR) -> list[DemoVoice]:
    return [DemoVoice(entry["name"], folder / entry["file"], entry.get("gender"))
            for entry in _manifest(folder)["voices"]]


def demo_examples(folder: Path = DEMO_DIR) -> list[DemoExample]:
    return [DemoExample(entry["label"], folder / entry["file"], entry.get("speaker"))
            for entry in _manifest(folder)["examples"]]


def enrol_demo(gallery: Gallery, folder: Path = DEMO_DIR) -> DemoEnrolment:
    """Enrol every demo voice the gallery does not have yet (a second call changes nothing)."""
    enrolled, present = [], []
    for voice in demo_voices(folder):
        if voice.name in gallery:
            present.append(voice.name)
            continue
        gallery.enroll(voice.name, [load_audio(voice.path)], gender=voice.gender, notes=NOTES)
        enrolled.append(voice.name)
    return DemoEnrolment(enrolled, present)


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpeakerIDError(_("the demo voices are missing or damaged in {folder} ({exc})").format(
            folder=folder, exc=exc)) from None
