#!/usr/bin/env bash
# The whole benchmark: every system on the same held-out speakers, then one table.
# Resemblyzer and SpeechBrain (PyTorch) live in their own environment, .bench-venv, never in the app's.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
bash benchmarks/bench_venv.sh
export TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/python benchmarks/benchmark.py --system shipped --weights weights --out "$out/shipped.json" >/dev/null
.venv/bin/python benchmarks/benchmark.py --system ecapa --weights weights/ecapa --out "$out/ecapa.json" >/dev/null
.venv/bin/python benchmarks/benchmark.py --system fast --weights weights/fast --out "$out/fast.json" >/dev/null
.bench-venv/bin/python benchmarks/benchmark.py --system speechbrain --out "$out/speechbrain.json" >/dev/null
if [ -f runs/reference/model/config.json ]; then
  .venv/bin/python benchmarks/benchmark.py --system reference --weights runs/reference/model --out "$out/reference.json" >/dev/null
fi
.venv/bin/python benchmarks/benchmark.py --system mfcc --out "$out/mfcc.json" >/dev/null
.bench-venv/bin/python benchmarks/benchmark.py --system resemblyzer --out "$out/resemblyzer.json" >/dev/null
.venv/bin/python benchmarks/report.py "$out"/shipped.json "$out"/ecapa.json "$out"/fast.json \
  "$out"/speechbrain.json $(ls "$out"/reference.json 2>/dev/null) "$out"/mfcc.json "$out"/resemblyzer.json \
  | tee "$out/table.md"
