#!/usr/bin/env bash
# The whole benchmark: every system on the same held-out speakers, then one table.
# Resemblyzer (PyTorch) lives in its own environment, .bench-venv, never in the app's.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
if [ ! -x .bench-venv/bin/python ]; then
  python3.11 -m venv .bench-venv
  .venv/bin/pip freeze | grep -iE "^(numpy|scipy|librosa|soundfile|soxr|numba|llvmlite|av|pydub|platformdirs)==" > "$out/constraints.txt"
  .bench-venv/bin/pip install -q torch==2.13.0 resemblyzer==0.1.4 webrtcvad-wheels==2.0.14.post1 \
    av pydub platformdirs -c "$out/constraints.txt"
fi
export TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/python benchmarks/benchmark.py --system shipped --weights weights --out "$out/shipped.json" >/dev/null
if [ -f runs/reference/model/config.json ]; then
  .venv/bin/python benchmarks/benchmark.py --system reference --weights runs/reference/model --out "$out/reference.json" >/dev/null
fi
.venv/bin/python benchmarks/benchmark.py --system mfcc --out "$out/mfcc.json" >/dev/null
.bench-venv/bin/python benchmarks/benchmark.py --system resemblyzer --out "$out/resemblyzer.json" >/dev/null
.venv/bin/python benchmarks/report.py "$out"/shipped.json $(ls "$out"/reference.json 2>/dev/null) "$out"/mfcc.json "$out"/resemblyzer.json | tee "$out/table.md"
