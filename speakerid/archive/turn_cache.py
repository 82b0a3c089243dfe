"""The turns of one model as .npy files beside the archive, written once per archive generation.

Reading 10 000 hours of turns row by row from SQLite takes seconds; a search process instead maps
these files (the float16 embeddings are memory-mapped, so the pages are shared between processes
and read from the page cache). They are derived data: named by the model, their format and the
archive's generation (which every added recording raises, in its own transaction), so a stale copy
is never read; written under a temporary name and renamed whole; and when they cannot be written (a
read-only folder, a full disk) the answer comes from SQLite as before.

For a cosine model the embeddings are kept unit-normalised (still float16): a cosine score does not
depend on a vector's length, and relabelling 10 000 hours after an enrolment is then one pass of
float16 -> float32 conversion and one matrix product per block, without normalising 1.8 M rows each
time (:mod:`.labels`). The SQLite rows keep the embeddings as the model gave them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import numpy as np

from .. import scoring
from .store import ArchiveStore, TurnTable

COLUMNS = ("ids", "recording_ids", "voice_ids", "starts", "ends", "speech", "embeddings")
FORMAT = "u1"  # in the folder's name: files of another format are never read (and get replaced)
UNIT_BLOCK = 65_536  # rows normalised at once


def load_turns(store: ArchiveStore, folder: Path, model_id: str, unit: bool) -> TurnTable:
    """Every turn of ``model_id``: from the files of the current generation, else from SQLite
    (and then written for the next reader). ``unit`` (a cosine model): embeddings unit-normalised."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)
    kind = f"{slug}-{FORMAT}" if unit else slug
    current = folder / f"{kind}-{store.generation()}"
    if current.is_dir():
        try:
            return _read(current, unit)
        except (OSError, ValueError):
            pass  # damaged: read from SQLite and write it again
    table = store.turns(model_id)
    if unit:
        table = unit_rows(table)
    try:
        _write(table, folder / f"{kind}-{table.generation}")
    except OSError:
        pass
    for stale in folder.glob(f"{slug}-*"):
        if stale.name != f"{kind}-{table.generation}":
            shutil.rmtree(stale, ignore_errors=True)
    return table


def unit_rows(table: TurnTable) -> TurnTable:
    """``table`` with its float16 embeddings unit-normalised in place, a block at a time (a copy
    in float32 of 10 000 hours' embeddings would not fit the memory a search may use)."""
    embeddings = table.embeddings
    for first in range(0, len(embeddings), UNIT_BLOCK):
        block = embeddings[first:first + UNIT_BLOCK]
        block[:] = scoring.unit(block.astype(np.float32))
    return dataclasses.replace(table, unit=True)


def _read(path: Path, unit: bool) -> TurnTable:
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r" if name == "embeddings" else None)
              for name in COLUMNS}
    cohort = (np.load(path / "cohort_mean.npy"), np.load(path / "cohort_std.npy")) \
        if (path / "cohort_mean.npy").is_file() else None
    return TurnTable(**arrays, cohort=cohort, generation=int(path.name.rpartition("-")[2]), unit=unit)


def _write(table: TurnTable, path: Path) -> None:
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir()
        for name in COLUMNS:
            np.save(tmp / f"{name}.npy", getattr(table, name))
        if table.cohort is not None:
            np.save(tmp / "cohort_mean.npy", table.cohort[0])
            np.save(tmp / "cohort_std.npy", table.cohort[1])
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
