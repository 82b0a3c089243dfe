"""Find speakers and their audio in a dataset folder, in either of the two layouts we accept.

* one folder per speaker, audio files inside (``Alice/1.wav``, ``Alice/2.flac``, ...);
* one long recording per speaker (``Alice.mp3``) with an optional CSV of name and gender,
  as in the reference system.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .audio import SUPPORTED_EXTENSIONS
from .errors import SpeakerIDError
from .i18n import _


@dataclass(frozen=True)
class SpeakerSource:
    name: str
    files: tuple[Path, ...]
    gender: str | None = None


def is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def discover(folder: str | Path) -> list[SpeakerSource]:
    """All speakers in ``folder``, sorted by name; raises when it holds no usable layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SpeakerIDError(_("{folder}: not a folder").format(folder=folder))
    genders = _read_genders(folder)
    speakers: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            files = sorted(p for p in entry.rglob("*") if is_audio(p))
            if files:
                speakers.setdefault(entry.name, []).extend(files)
        elif is_audio(entry):
            speakers.setdefault(entry.stem, []).append(entry)
    if not speakers:
        raise SpeakerIDError(
            _("{folder}: no speakers found; expected one folder per speaker with audio files, "
              "or one audio file per speaker named after them").format(folder=folder))
    return [SpeakerSource(name, tuple(files), genders.get(name.casefold()))
            for name, files in sorted(speakers.items())]


def _read_genders(folder: Path) -> dict[str, str]:
    """Optional CSV (any ``*.csv`` in the folder) with a name column and a gender column."""
    genders: dict[str, str] = {}
    for table in sorted(folder.glob("*.csv")):
        with table.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            continue
        header = [cell.strip().casefold() for cell in rows[0]]
        has_header = "name" in header
        name_col = header.index("name") if has_header else 0
        gender_col = header.index("gender") if has_header and "gender" in header else 1
        for row in rows[1 if has_header else 0:]:
            if len(row) > max(name_col, gender_col) and row[name_col].strip():
                genders[Path(row[name_col].strip()).stem.casefold()] = row[gender_col].strip()
    return genders
