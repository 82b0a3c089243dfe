"""Every benchmark still runs: each script in benchmarks/ is run with ``--smoke`` (a tiny size on
synthetic voices, seconds), must exit 0, print its table or fields, and leave the repository's
files as they were. Nothing is timed.

The rule that finds the scripts: every ``benchmarks/*.py`` with an ``if __name__ == "__main__":``
block is a benchmark script and must accept ``--smoke``; the others (systems.py, smoke.py) are
libraries. A new script is run without being listed here; what its output must show can be added
to EXPECTED.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
CHROMIUM = Path(os.environ.get("SPEAKERID_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_S = 600  # against a hung run only (the app part starts a server and a browser)

SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if '__name__ == "__main__"' in p.read_text())
RUNS = [(name, ()) for name in SCRIPTS] + [("load_test.py", ("--app",)),
                                           ("load_test.py", ("--app", "--soak"))]


def shows(*patterns: str):
    """A check that the output has each of ``patterns`` (regular expressions)."""
    def check(stdout: str) -> None:
        for pattern in patterns:
            assert re.search(pattern, stdout), f"{pattern!r} not in the output:\n{stdout[-3000:]}"
    return check


def measures_every_condition(stdout: str) -> None:
    """benchmark.py's JSON result: speed, and accuracy with open-set figures for each condition
    (its smoke size: speakerid's system, a tiny untrained model, 3 synthetic speakers a corpus)."""
    result = json.loads(stdout)
    conditions = {"hyke/full", "hyke/3s", "librispeech/full", "librispeech/3s"}
    assert set(result["accuracy"]) == conditions
    for figures in result["accuracy"].values():
        assert figures["speakers"] == 3 and figures["items"] == 6 and 0 <= figures["eer"] <= 1
        assert figures["open_set"]["enrolled_speakers"] == 2
    assert result["embed_30s_s"] > 0 and set(result["search_s"]) == {"100", "10000"}


# What each known script's smoke output must show.
EXPECTED = {
    ("archive_benchmark.py", ()): shows(r'"hours": 2', r'"cached_find_ms"'),
    ("batch_efficiency.py", ()): shows(r"\| 4 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|"),
    ("ann_benchmark.py", ()): shows(r"\| 2,000 \| exact \|", r"\| 2,000 \| hnsw \|"),
    ("benchmark.py", ()): measures_every_condition,
    # the three systems through the same cross-validation, and the gallery refits (two in the smoke size)
    ("conditions.py", ()): shows(r"\| ECAPA port alone \| [0-9.]+ \[",
                                 r"\| condition-aware fusion \| [0-9.]+ \[",
                                 r"Gallery calibration: \d+ of 2 random enrolment orders"),
    ("load_test.py", ()): shows(r"\| 1 \| 6 \|.* \| 0 \|\n", r"\| 2 \| 6 \|.* \| 0 \|\n"),
    # two pages, two verdicts each, no errors: the Identify page's verdict was found every time
    ("load_test.py", ("--app",)): shows(r"\| 2 \| 4 \|.* \| 0 \|\n"),
    # sessions opened and closed for seconds: every verdict found, the server's log without a traceback
    ("load_test.py", ("--app", "--soak")): shows(r" 0 errors\.",
                                                 r"Tracebacks in the server's log: \*\*0\*\*"),
    ("long_audio.py", ()): shows(r"\| 0\.5 min \| [0-9.]+ \| [0-9.]+ \|"),
    ("make_split.py", ()): shows(r"55 held-out speakers"),
    ("report.py", ()): shows(r"Accuracy on held-out speakers", r"\| speakerid default: ECAPA port"),
}


def test_the_rule_finds_the_benchmark_scripts_and_leaves_the_libraries():
    assert {"benchmark.py", "ann_benchmark.py", "load_test.py", "long_audio.py", "make_split.py",
            "report.py"} <= set(SCRIPTS)
    assert "systems.py" not in SCRIPTS and "smoke.py" not in SCRIPTS


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (caches aside) and a hash of its contents."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize(("script", "extra"), RUNS, ids=[" ".join([n, *e]) for n, e in RUNS])
def test_a_benchmark_runs_in_its_smoke_size(script: str, extra: tuple[str, ...]):
    if "--app" in extra and not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    before = snapshot(BENCHMARKS)
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *extra, "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, (
        f"benchmarks/{script} {' '.join(extra)} --smoke failed (every benchmark script needs a "
        f"--smoke size, see this test's docstring):\n{done.stderr[-3000:]}")
    assert done.stdout.strip(), f"benchmarks/{script} --smoke printed nothing"
    if check := EXPECTED.get((script, extra)):
        check(done.stdout)
    assert snapshot(BENCHMARKS) == before, "a smoke run changed files in benchmarks/"

