"""Fuse trained models into one (speakerid.models.fusion): choose the weights, calibrate, save.

    .venv/bin/python tools/fuse_models.py weights --member ecapa --member fast \
        ../shared/data/hyke-phone-india ../shared/data/librispeech-clean-251

The members are model folders inside the output folder. The weight of the first member is chosen
on a grid (0, 0.05, ..., 1) by the mean equal-error rate of the fused, AS-normalised score on two
kinds of held-out trials: whole recordings against each other, and 3 s probes against whole
recordings. The held-out speakers and the cohort are those of the last member (its config.json's
``calibrated_on`` and ``trained_on``): speakers none of the members was trained on, and none of the
benchmark's. Then the fused model is calibrated (with duration bands) on them and saved.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speakerid.models.encoder import Encoder  # noqa: E402
from speakerid.models.fusion import FusedEncoder  # noqa: E402
from speakerid.scoring import ScoreNormaliser, unit  # noqa: E402
from speakerid.training.evaluate import TestItem, embed_speakers, fit_scoring, probe_trials  # noqa: E402
from speakerid.training.metrics import equal_error_rate, pair_scores  # noqa: E402
from speakerid.training.train import collect_speakers  # noqa: E402

GRID = np.round(np.arange(0, 1.0001, 0.05), 2)


def fused_items(per_member: list[list[TestItem]], weights: list[float]) -> list[TestItem]:
    """What FusedEncoder would embed, from each member's embeddings of the same items."""
    return [TestItem(parts[0].speaker, parts[0].name,
                     np.concatenate([np.sqrt(w) * unit(p.embedding) for w, p in zip(weights, parts)]))
            for parts in zip(*per_member)]


def mean_eer(fusion: FusedEncoder, cohort: list[np.ndarray], whole: list[TestItem],
             probes: list[TestItem]) -> tuple[float, float]:
    """EER of whole-against-whole and of 3 s probe-against-whole trials, AS-normalised."""
    fusion.normaliser = ScoreNormaliser(np.stack(cohort), "cosine")
    vectors = np.stack([item.embedding for item in whole])
    scores, same = pair_scores(fusion.score_matrix(vectors, vectors), np.array([i.speaker for i in whole]))
    probe_scores, probe_same, _ = probe_trials(fusion, probes, whole)
    return equal_error_rate(scores, same)[0], equal_error_rate(probe_scores, probe_same)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the fused model's folder (members inside it)")
    parser.add_argument("--member", action="append", required=True, help="member folder name inside OUT")
    parser.add_argument("data", nargs="+", type=Path, help="dataset folders holding the named speakers")
    args = parser.parse_args()
    if len(args.member) != 2:
        sys.exit("the weight search fuses exactly two members")

    members = [Encoder.load(args.out / name) for name in args.member]
    donor = json.loads((args.out / args.member[-1] / "config.json").read_text())
    by_name = {s.name: s for s in collect_speakers(args.data)}
    held_out = [by_name[n] for n in donor["calibrated_on"]]
    pool = [by_name[n] for n in donor.get("cohort_speakers", donor["trained_on"])]
    pool = [pool[i] for i in sorted(np.random.default_rng(0).choice(len(pool), 150, replace=False))]
    first_files = [dataclasses.replace(s, files=s.files[:1]) for s in pool]
    whole = [embed_speakers(m, held_out) for m in members]
    probes = [embed_speakers(m, held_out, crop_s=3.0) for m in members]
    cohort = [[i.embedding for i in embed_speakers(m, first_files)] for m in members]

    fusion = FusedEncoder(members, [0.5, 0.5], args.member)
    results = []
    for w in GRID:
        weights = [float(w), float(1 - w)]
        items = fused_items(whole, weights)
        cohort_vectors = [i.embedding for i in fused_items(
            [[TestItem("c", str(k), v) for k, v in enumerate(c)] for c in cohort], weights)]
        eers = mean_eer(fusion, cohort_vectors, items, fused_items(probes, weights))
        results.append((float(np.mean(eers)), -w, weights, eers))
        print(f"weight of {args.member[0]} {w:.2f}: EER whole {eers[0]:.2%}, 3 s probes {eers[1]:.2%}")
    _, _, weights, eers = min(results)
    print(f"chosen: {dict(zip(args.member, weights))}")
    fusion = FusedEncoder(members, weights, args.member)
    fit_scoring(fusion, pool, held_out)
    fusion.save(args.out, {
        "recipe": "fusion",
        "fusion_weight_search": {"grid": GRID.tolist(), "criterion": "mean EER of whole and 3 s probes",
                                 "eer_whole": eers[0], "eer_3s_probes": eers[1]},
        "cohort_speakers": [s.name for s in pool], "calibrated_on": [s.name for s in held_out]})
    print(fusion.calibration.method)
    for band in fusion.calibration.bands:
        print(f"up to {band.up_to_s:g} s: {band.calibration.method}")


if __name__ == "__main__":
    main()
