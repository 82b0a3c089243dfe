#!/bin/bash
# A 100-input batch through the CLI, for the README's figure: 98 Hyke telephone clips (10 of the
# first 30 speakers enrolled from their first file, probes are their other files; the other 20
# speakers never enrolled), one corrupt file and one missing path. Uses a throw-away gallery.
# Run from the repository root: bash tools/measure_batch.sh [PYTHON]
set -e
PYTHON=${1:-.venv/bin/python}
D=../shared/data/hyke-phone-india
[ -d "$D" ] || { echo "needs $D (the real-speech corpora beside the repository)"; exit 1; }
export SPEAKERID_HOME=$(mktemp -d)
IN=$(mktemp -d)
mapfile -t SPK < <(ls "$D" | head -30)
for s in "${SPK[@]:0:10}"; do
  "$PYTHON" -m speakerid enroll --name "$s" "$D/$s/$(ls "$D/$s" | head -1)" > /dev/null
done
inputs=()
for s in "${SPK[@]:0:10}"; do for f in $(ls "$D/$s" | tail -n +2); do inputs+=("$D/$s/$f"); done; done
for s in "${SPK[@]:10:20}"; do for f in $(ls "$D/$s"); do inputs+=("$D/$s/$f"); done; done
inputs=("${inputs[@]:0:98}")
head -c 5000 /dev/urandom > "$IN/corrupt.wav"
inputs+=("$IN/corrupt.wav" "$IN/missing.wav")
echo "inputs: ${#inputs[@]}"
/usr/bin/time -f "wall %e s, max RSS %M kB" "$PYTHON" -m speakerid identify "${inputs[@]}" \
  --report "$IN/report.csv" > /dev/null 2> "$IN/err.txt" || true
tail -1 "$IN/err.txt"
"$PYTHON" - "$IN/report.csv" "${SPK[@]:0:10}" <<'PY'
import csv, pathlib, sys
rows = list(csv.DictReader(open(sys.argv[1])))
enrolled = set(sys.argv[2:])
print("rows", len(rows), "failed", [(pathlib.Path(r["input"]).name, r["error"]) for r in rows if r["error"]])
ok = [r for r in rows if not r["error"]]
truth = {r["input"]: pathlib.Path(r["input"]).parent.name for r in ok}
probes = [r for r in ok if truth[r["input"]] in enrolled]
others = [r for r in ok if truth[r["input"]] not in enrolled]
print("enrolled probes named right", sum(r["verdict"] == truth[r["input"]] for r in probes), "/", len(probes))
print("never-enrolled called unknown", sum(r["verdict"] == "unknown speaker" for r in others), "/", len(others))
PY
