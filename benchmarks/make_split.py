"""Choose the held-out evaluation speakers (by speaker, never by clip) and write split.json.

15 Hyke speakers (balanced by sex) and 40 LibriSpeech speakers, seed 0. Training excludes them;
the benchmark evaluates only on them. Run: python benchmarks/make_split.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "split.json"


def choose(names: list[str], count: int, rng: np.random.Generator) -> list[str]:
    return sorted(rng.choice(sorted(names), size=count, replace=False).tolist())


def main() -> None:
    rng = np.random.default_rng(0)
    hyke = [p.name for p in (DATA / "hyke-phone-india").iterdir() if p.is_dir()]
    libri = [p.name for p in (DATA / "librispeech-clean-251").iterdir() if p.is_dir()]
    females = [n for n in hyke if n.startswith("F_")]
    males = [n for n in hyke if n.startswith("M_")]
    split = {"hyke-phone-india": choose(females, 7, rng) + choose(males, 8, rng),
             "librispeech-clean-251": choose(libri, 40, rng)}
    OUT.write_text(json.dumps(split, indent=2) + "\n")
    print(f"wrote {OUT}: {sum(map(len, split.values()))} held-out speakers")


if __name__ == "__main__":
    main()
