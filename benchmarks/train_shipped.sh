#!/usr/bin/env bash
# Reproduce the shipped encoder (weights/) and the reference-recipe model from the real speech in
# ../shared/data, with the held-out speakers of benchmarks/split.json kept out of training.
# Wall times on the 2-core machine are in weights/MODEL_CARD.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=(../shared/data/hyke-phone-india ../shared/data/librispeech-clean-251)
export TF_CPP_MIN_LOG_LEVEL=3
case "${1:-shipped}" in
  shipped)
    .venv/bin/python -m speakerid train "${DATA[@]}" --exclude-file benchmarks/split.json \
      --recipe aam --epochs 8 --steps-per-epoch 150 --train-fraction 0.9 --out runs/shipped
    .venv/bin/python -m speakerid calibrate runs/shipped/model "${DATA[@]}"
    ;;
  reference)
    .venv/bin/python -m speakerid train "${DATA[@]}" --exclude-file benchmarks/split.json \
      --recipe reference --epochs 1 --max-pairs-per-epoch 640 --out runs/reference
    ;;
esac
