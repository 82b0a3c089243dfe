"""Accuracy and speed of one system on the held-out speakers of split.json; writes a JSON result.

    python benchmarks/benchmark.py --system shipped --out benchmarks/results/shipped.json

Accuracy: EER and minDCF(0.01) over all pairs of held-out items, and closed-set top-1
identification (each speaker enrolled from one item, the rest identified), on full files and on
3 s crops of speech, separately for the Hyke (telephone) and LibriSpeech (studio) speakers.
Speed: embedding a 30 s clip (median of 15 after 3 warm-up runs, model loaded), model load
time in a fresh process (and how much of it is importing the system's libraries: TensorFlow,
PyTorch), peak memory, and the time that searching galleries of 100 and 10 000 speakers adds
to an identification.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speakerid.audio import load_audio  # noqa: E402
from speakerid.datasets import discover  # noqa: E402
from speakerid.evaluate import embed_speakers, evaluate_items  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = {"hyke": "hyke-phone-india", "librispeech": "librispeech-clean-251"}


# The libraries each system needs; importing them is most of a fresh process's load time.
LIBRARIES = {"shipped": "speakerid.encoder", "reference": "speakerid.encoder", "mfcc": "librosa",
             "resemblyzer": "resemblyzer"}


def load_system(name: str, weights: Path | None):
    """The system, and seconds to load it in a fresh process: in all, and importing its libraries."""
    started = time.perf_counter()
    importlib.import_module(LIBRARIES[name])
    imported = time.perf_counter()
    import systems

    if name == "mfcc":
        system = systems.MfccStatistics()
    elif name == "resemblyzer":
        system = systems.Resemblyzer()
    else:
        label = {"shipped": "speakerid shipped (thin ResNet, AAM, AS-norm)",
                 "reference": "reference recipe (DenseNet121 Siamese)"}[name]
        system = systems.speakerid_system(weights, label)
    return system, {"load_s": time.perf_counter() - started, "import_s": imported - started}


def accuracy(system, split: dict) -> dict:
    results = {}
    for short, corpus in CORPORA.items():
        held_out = set(split[corpus])
        speakers = [s for s in discover(DATA / corpus) if s.name in held_out]
        for crop in (None, 3.0):
            items = embed_speakers(system, speakers, crop_s=crop)
            report = evaluate_items(items, system)
            results[f"{short}/{'3s' if crop else 'full'}"] = {
                "eer": report.eer, "min_dcf": report.min_dcf, "top1": report.top1_identification,
                "items": report.items, "speakers": report.speakers,
                "same_trials": report.same_trials, "different_trials": report.different_trials}
    return results


def speed(system, repeats: int = 15, warm_up: int = 3) -> dict:
    clip = load_audio(next((DATA / CORPORA["hyke"]).rglob("*.wav")))
    signal = np.tile(clip.samples[:, 0], int(np.ceil(30 * clip.sample_rate / len(clip.samples))))
    signal = signal[:30 * clip.sample_rate]
    for _ in range(warm_up):  # graph tracing, kernel and allocator caches settle over the first calls
        system.embed(signal, clip.sample_rate)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        query = system.embed(signal, clip.sample_rate)
        times.append(time.perf_counter() - started)
    search = {}
    rng = np.random.default_rng(0)
    for size in (100, 10_000):
        gallery = rng.standard_normal((size, len(query))).astype(np.float32)
        enrolled = system.cohort_statistics(gallery)  # computed once, at enrolment
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            scores = system.score_matrix(query[None], gallery, enrolled)[0]
            np.argsort(-scores)[:5]
            runs.append(time.perf_counter() - started)
        search[str(size)] = statistics.median(runs)
    return {"embed_30s_s": statistics.median(times), "search_s": search,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", required=True, choices=["shipped", "reference", "mfcc", "resemblyzer"])
    parser.add_argument("--weights", type=Path, help="model directory (shipped/reference)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"the benchmark needs the real speech in {DATA}")
    split = json.loads((ROOT / "benchmarks" / "split.json").read_text())
    system, load = load_system(args.system, args.weights)
    result = {"system": system.name, **load, **speed(system), "accuracy": accuracy(system, split)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
