"""Print the benchmark table (Markdown) from the JSON results of benchmark.py.

    python benchmarks/report.py benchmarks/results/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONDITIONS = ["hyke/full", "hyke/3s", "librispeech/full", "librispeech/3s"]


def accuracy_table(results: list[dict]) -> str:
    header = ["system"] + [f"{c} EER % / minDCF / top-1 %" for c in CONDITIONS]
    rows = []
    for result in results:
        cells = [result["system"]]
        for condition in CONDITIONS:
            a = result["accuracy"][condition]
            top1 = "n/a" if a["top1"] is None else f"{100 * a['top1']:.1f}"
            cells.append(f"{100 * a['eer']:.2f} / {a['min_dcf']:.3f} / {top1}")
        rows.append(cells)
    return _markdown(header, rows)


def likelihood_ratio_table(results: list[dict]) -> str:
    """Cllr of each system's calibrated likelihood ratios against minCllr, the best any monotonic
    calibration of its scores could reach (results from before they were measured are left out)."""
    header = ["system"] + [f"{c} Cllr / minCllr" for c in CONDITIONS]
    rows = []
    for result in results:
        costs = [result["accuracy"][c] for c in CONDITIONS]
        if all("min_cllr" in a for a in costs):
            rows.append([result["system"]] + [f"{_cost(a.get('cllr'))} / {a['min_cllr']:.3f}" for a in costs])
    return _markdown(header, rows)


def _cost(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def open_set_table(results: list[dict]) -> str:
    """Open-set identification with each system's own calibrated threshold (systems without one
    are left out)."""
    header = ["system"] + [f"{c} right % / outsiders named %" for c in CONDITIONS]
    rows = []
    for result in results:
        sets = [result["accuracy"][c].get("open_set") for c in CONDITIONS]
        if all(sets):
            rows.append([result["system"]] + [f"{100 * o['accuracy']:.1f} / {100 * o['outsiders_named']:.1f}"
                                              for o in sets])
    return _markdown(header, rows)


def speed_table(results: list[dict]) -> str:
    header = ["system", "embed 30 s clip (s, median)", "model load, fresh process (s)",
              "of which importing libraries (s)", "peak memory (MB)", "search 100 speakers (ms)",
              "search 10 000 speakers (ms)"]
    rows = [[r["system"], f"{r['embed_30s_s']:.3f}", f"{r['load_s']:.2f}", _seconds(r.get("import_s")),
             f"{r['peak_memory_mb']:.0f}",
             f"{1000 * r['search_s']['100']:.2f}", f"{1000 * r['search_s']['10000']:.2f}"] for r in results]
    return _markdown(header, rows)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    results = [json.loads(Path(p).read_text()) for p in sys.argv[1:]]
    first = results[0]["accuracy"]
    trials = ", ".join(f"{c}: {first[c]['speakers']} speakers, {first[c]['items']} items, "
                       f"{first[c]['same_trials']} same / {first[c]['different_trials']} different trials"
                       for c in CONDITIONS)
    print("Accuracy on held-out speakers (never seen in training)\n")
    print(accuracy_table(results))
    print(f"\nTrials: {trials}.\n")
    print("Likelihood ratios (Cllr, in bits: 0 perfect, 1 uninformative; of the system's own calibration for "
          "the probe's length, n/a without one; minCllr: the best a calibration of its scores could reach)\n")
    print(likelihood_ratio_table(results))
    print()
    print("Open-set identification (every other held-out speaker enrolled from one recording; probes: "
          "their other recordings and every recording of the others; the model's own threshold for "
          "the probe's length and the gallery's size)\n")
    print(open_set_table(results))
    print("\nSpeed (2-core CPU, model already loaded)\n")
    print(speed_table(results))


if __name__ == "__main__":
    main()
