"""What the benchmarks' ``--smoke`` runs share (a library, not a script).

A smoke run is a tiny run of a benchmark, in seconds, on synthetic voices (tests/synthetic.py) and a
tiny untrained model: it checks that the script still works end to end, so that the test suite can
run every benchmark (tests/test_benchmarks_smoke.py) and a benchmark that breaks fails the tests.
Its figures mean nothing, and it writes nothing into the repository: results go to a temporary
folder, removed afterwards.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

HELP = ("a tiny run in seconds on synthetic voices (checks that the script works; the figures mean "
        "nothing and the results go to a temporary folder)")


def tiny_model(folder: Path) -> Path:
    """An untrained encoder of the size the unit tests use, saved to ``folder``: it loads and embeds
    in moments, and every code path of a trained one runs."""
    from speakerid import Encoder
    from speakerid.models.networks import ModelConfig

    config = ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64)
    return Encoder.create(config).save(folder)


def synthetic_corpus(folder: Path, speakers: list[str], clips: int, seconds: float) -> Path:
    """``folder`` with one sub-folder per speaker of ``clips`` WAV files of a synthetic voice, the
    layout of the corpora in ../shared/data."""
    from synthetic import synth_voice, write_wav

    for index, speaker in enumerate(speakers):
        (folder / speaker).mkdir(parents=True, exist_ok=True)
        for clip in range(clips):
            write_wav(folder / speaker / f"{clip:02d}.wav", synth_voice(index, seconds, seed=clip))
    return folder


@contextmanager
def output(path: Path, smoke: bool) -> Iterator[Path]:
    """``path``, or for a smoke run a file of the same name in a temporary folder."""
    if not smoke:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="speakerid-smoke-") as folder:
        yield Path(folder) / path.name
