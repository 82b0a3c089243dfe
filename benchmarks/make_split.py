"""Choose the held-out evaluation speakers (by speaker, never by clip) and write split.json.

15 Hyke speakers (balanced by sex) and 40 LibriSpeech speakers, seed 0. Training excludes them;
the benchmark evaluates only on them. Run: python benchmarks/make_split.py
(``--smoke``: the same choice among made-up speaker folders, written to a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import HELP as SMOKE_HELP  # noqa: E402
from smoke import output  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "split.json"
HYKE, LIBRI = "hyke-phone-india", "librispeech-clean-251"


def choose(names: list[str], count: int, rng: np.random.Generator) -> list[str]:
    return sorted(rng.choice(sorted(names), size=count, replace=False).tolist())


def split(data: Path) -> dict[str, list[str]]:
    """The held-out speakers of the two corpora in ``data`` (one folder per speaker)."""
    rng = np.random.default_rng(0)
    hyke = [p.name for p in (data / HYKE).iterdir() if p.is_dir()]
    libri = [p.name for p in (data / LIBRI).iterdir() if p.is_dir()]
    females = [n for n in hyke if n.startswith("F_")]
    males = [n for n in hyke if n.startswith("M_")]
    return {HYKE: choose(females, 7, rng) + choose(males, 8, rng), LIBRI: choose(libri, 40, rng)}


def made_up_corpora(folder: Path) -> Path:
    """Empty speaker folders named as in the corpora: the choice only reads the folder names."""
    for name in [f"F_{i}" for i in range(10)] + [f"M_{i}" for i in range(10)]:
        (folder / HYKE / name).mkdir(parents=True)
    for number in range(50):
        (folder / LIBRI / str(1000 + number)).mkdir(parents=True)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="speakerid-smoke-") as scratch, output(OUT, args.smoke) as out:
        chosen = split(made_up_corpora(Path(scratch)) if args.smoke else DATA)
        out.write_text(json.dumps(chosen, indent=2) + "\n")
        print(f"wrote {out}: {sum(map(len, chosen.values()))} held-out speakers")


if __name__ == "__main__":
    main()
