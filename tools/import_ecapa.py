"""Build a speakerid model directory from the arrays tools/convert_ecapa.py wrote.

    .venv/bin/python tools/import_ecapa.py runs/ecapa/state.npz --out weights/ecapa \
        --fixture tests/fixtures/ecapa_speechbrain.npz --speakers-from weights/fast

Loads the checkpoint's arrays into speakerid's Keras ECAPA-TDNN, checks that it reproduces
SpeechBrain's embeddings of the fixture clips, and saves the model (int8 kernels) with its
provenance. ``--speakers-from`` copies another model's cohort and calibration speaker lists, so that
``python -m speakerid calibrate`` fits this model on speakers the benchmark never sees.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speakerid.config import ecapa_model, ecapa_pipeline  # noqa: E402
from speakerid.features import log_mel  # noqa: E402
from speakerid.models.ecapa import load_speechbrain_state  # noqa: E402
from speakerid.models.encoder import Encoder  # noqa: E402
from speakerid.scoring import unit  # noqa: E402

MIN_COSINE = 0.999


def fixture_cosines(encoder: Encoder, fixture: Path) -> list[float]:
    """Cosine between the port's embedding of each fixture clip and SpeechBrain's."""
    with np.load(fixture, allow_pickle=False) as data:
        expected = data["embeddings"]
        waveforms = [data[f"waveform_{i}"].astype(np.float32) / 32768.0 for i in range(len(expected))]
    rate = encoder.pipeline.preprocess.sample_rate
    features = [log_mel(w, rate, encoder.pipeline.features) for w in waveforms]
    got = np.stack([encoder.embed_windows(f[None])[0] for f in features])
    return (unit(got) * unit(expected)).sum(axis=1).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state", type=Path, help="state.npz from tools/convert_ecapa.py")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--fixture", type=Path, help="SpeechBrain's embeddings to check against")
    parser.add_argument("--speakers-from", type=Path, help="model whose cohort/calibration speakers to use")
    args = parser.parse_args()

    encoder = Encoder.create(ecapa_model(), ecapa_pipeline())
    with np.load(args.state, allow_pickle=False) as state:
        load_speechbrain_state(encoder.network, {key: state[key] for key in state.files})
    if args.fixture:
        cosines = fixture_cosines(encoder, args.fixture)
        print("cosine with SpeechBrain's embeddings:", ", ".join(f"{c:.6f}" for c in cosines))
        if min(cosines) < MIN_COSINE:
            sys.exit(f"the port does not reproduce SpeechBrain (cosine under {MIN_COSINE})")
    provenance = json.loads(args.state.with_name("provenance.json").read_text())
    provenance.pop("hyperparams.yaml", None)
    extra = {"recipe": "ported", "provenance": provenance}
    if args.speakers_from:
        donor = json.loads((args.speakers_from / "config.json").read_text())
        extra["cohort_speakers"] = donor.get("cohort_speakers", donor.get("trained_on", []))
        extra["calibrated_on"] = donor["calibrated_on"]
    encoder.save(args.out, extra, quantised=True)
    reloaded = Encoder.load(args.out)
    if args.fixture:
        cosines = fixture_cosines(reloaded, args.fixture)
        print("after int8 storage:", ", ".join(f"{c:.6f}" for c in cosines))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
