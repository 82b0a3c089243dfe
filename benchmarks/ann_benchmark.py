"""Exact search against FAISS HNSW for galleries of 1 000 to 1 000 000 speakers.

Synthetic 192-d unit vectors in clusters (voices resemble each other by language, sex and
channel, which is what makes approximate search miss), queried with new clips of enrolled
speakers (their vector moved a little). For each size and method: build time, median time of
one query (top-5, one query at a time, as the gallery asks), and recall@1, the fraction of
queries whose best match is the exact search's best match.

    nice -n 15 .venv/bin/python benchmarks/ann_benchmark.py   # all sizes; the 1M HNSW build dominates
    .venv/bin/python benchmarks/ann_benchmark.py --sizes 1000 100000   # quicker
    .venv/bin/python benchmarks/ann_benchmark.py --smoke   # seconds: does the script still work?

Writes benchmarks/results/ann.json and ann.md (the table, the command and the machine), and
prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import HELP as SMOKE_HELP  # noqa: E402
from smoke import output  # noqa: E402

from speakerid import search  # noqa: E402
from speakerid.scoring import unit  # noqa: E402
from speakerid.search import SpeakerIndex  # noqa: E402

DIM = 192
SPEAKERS_PER_CLUSTER = 1000
# Cosine between two speakers of one cluster about 0.5, between clusters about 0, between a new
# clip and its speaker about 0.8: roughly what a trained speaker encoder gives.
CLUSTER_SPREAD = 1.0  # norm of a speaker's offset from their cluster's centre (centres are unit)
QUERY_NOISE = 0.75  # norm of a new clip's offset from its speaker's vector
TOP_K = 5
GROUND_TRUTH_BATCH = 100  # queries scored at once for exact top-1 (100 x 1M floats = 400 MB)
OUT = Path(__file__).resolve().parent / "results" / "ann.json"


def clustered_embeddings(count: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """``count`` unit vectors around ``count / SPEAKERS_PER_CLUSTER`` centres, made in chunks so
    that a million of them never needs more than the float32 result."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((max(1, count // SPEAKERS_PER_CLUSTER), DIM)))
    out = np.empty((count, DIM), np.float32)
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        offsets = rng.standard_normal((size, DIM), dtype=np.float32) * (CLUSTER_SPREAD / np.sqrt(DIM))
        out[start:start + size] = unit(centres[rng.integers(0, len(centres), size)] + offsets)
    return out


def new_clips(vectors: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Queries: the vectors of ``count`` random enrolled speakers, moved by QUERY_NOISE."""
    rng = np.random.default_rng(seed)
    chosen = vectors[rng.choice(len(vectors), size=min(count, len(vectors)), replace=False)]
    noise = rng.standard_normal(chosen.shape, dtype=np.float32) * (QUERY_NOISE / np.sqrt(DIM))
    return unit(chosen + noise).astype(np.float32)


def build(vectors: np.ndarray, metric: str, approximate: bool) -> tuple[SpeakerIndex, float]:
    start = time.perf_counter()
    index = SpeakerIndex(vectors, metric, exact_below=0 if approximate else len(vectors) + 1)
    return index, time.perf_counter() - start


def query_times_ms(index: SpeakerIndex, queries: np.ndarray, budget_s: float) -> list[float]:
    """One query at a time, as the gallery asks; stops after ``budget_s`` (at least 5 queries)."""
    times: list[float] = []
    started = time.perf_counter()
    for query in queries:
        start = time.perf_counter()
        index.search(query, TOP_K)
        times.append((time.perf_counter() - start) * 1000)
        if len(times) >= 5 and time.perf_counter() - started > budget_s:
            break
    return times


def best_matches(index: SpeakerIndex, queries: np.ndarray) -> np.ndarray:
    """Top-1 row of every query, in batches (batches bound exact search's score matrix)."""
    return np.concatenate([index.search(queries[i:i + GROUND_TRUTH_BATCH], 1).indices[:, 0]
                           for i in range(0, len(queries), GROUND_TRUTH_BATCH)])


def measure(count: int, args: argparse.Namespace) -> list[dict]:
    """Exact first (its answers are the ground truth), then HNSW; one index in memory at a time."""
    vectors = clustered_embeddings(count, args.seed)
    queries = new_clips(vectors, args.queries, args.seed + 1)
    rows, truth = [], None
    for approximate in (False, True):
        index, build_s = build(vectors, args.metric, approximate)
        times = query_times_ms(index, queries, args.time_budget)
        found = best_matches(index, queries)
        truth = found if truth is None else truth
        rows.append({"speakers": count, "method": "hnsw" if approximate else "exact",
                     "build_s": round(build_s, 3),
                     "median_query_ms": round(statistics.median(times), 3),
                     "p95_query_ms": round(float(np.percentile(times, 95)), 3),
                     "timed_queries": len(times),
                     "recall_at_1": round(float(np.mean(found == truth)), 4),
                     "recall_queries": len(queries)})
        del index
        print(_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def settings(args: argparse.Namespace) -> dict:
    return {"dim": DIM, "metric": args.metric, "top_k": TOP_K, "speakers_per_cluster": SPEAKERS_PER_CLUSTER,
            "cluster_spread": CLUSTER_SPREAD, "exact_below": search.EXACT_BELOW,
            "query_noise": QUERY_NOISE, "seed": args.seed,
            "hnsw": {"M": search.HNSW_NEIGHBOURS, "efConstruction": search.HNSW_EF_CONSTRUCTION,
                     "efSearch": search.HNSW_EF_SEARCH},
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                        "load_average": os.getloadavg()[0], "faiss": _faiss_version()}}


def _faiss_version() -> str:
    import faiss

    return faiss.__version__


HEADER = ("| speakers | method | build (s) | query p50 (ms) | query p95 (ms) | timed queries | recall@1 |\n"
          "|---:|---|---:|---:|---:|---:|---:|")


def _row(row: dict) -> str:
    return (f"| {row['speakers']:,} | {row['method']} | {row['build_s']:.2f} | "
            f"{row['median_query_ms']:.3f} | {row['p95_query_ms']:.3f} | {row['timed_queries']} | "
            f"{row['recall_at_1']:.4f} |")


def markdown(result: dict, command: str) -> str:
    """ann.md: the table with what it was measured on and how to measure it again."""
    s, machine = result["settings"], result["settings"]["machine"]
    hnsw = s["hnsw"]
    return "\n".join([
        "# Exact search vs FAISS HNSW (benchmarks/ann_benchmark.py)", "",
        f"Synthetic {s['dim']}-d unit vectors in clusters of {s['speakers_per_cluster']} speakers "
        f"(cluster spread {s['cluster_spread']}, query noise {s['query_noise']}), {s['metric']} scoring, "
        f"top-{s['top_k']} per query, one query at a time. HNSW: M={hnsw['M']}, "
        f"efConstruction={hnsw['efConstruction']}, efSearch={hnsw['efSearch']} (speakerid/search.py). "
        "recall@1: share of queries whose best match is exact search's best match "
        f"({result['results'][0]['recall_queries']} queries). The gallery switches to HNSW at "
        f"{s['exact_below']:,} speakers.", "",
        HEADER, *map(_row, result["results"]), "",
        f"Command: `{command}`", "",
        f"Machine: {machine['cpus']} CPU cores ({machine['processor']}), faiss-cpu {machine['faiss']}, "
        f"load average {machine['load_average']:.1f} at the end. {NOTE}", ""])


NOTE = ("A model training run (reniced -15) and other jobs shared the 2 cores during the measurement, "
        "so build and query times are slower and noisier than on an idle machine; recall does not depend "
        "on the load.")


# --smoke: two clusters of speakers, both methods, a fraction of a second of queries each.
SMOKE = {"sizes": [2_000], "queries": 50, "time_budget": 0.2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--metric", choices=search.METRICS, default="cosine")
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall@1")
    parser.add_argument("--time-budget", type=float, default=30.0, metavar="S",
                        help="seconds of one-at-a-time queries per index for the median")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP + "; sets every size")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)

    _faiss_version()  # imports FAISS now, so that the first HNSW build time does not include the import
    rows = [row for count in args.sizes for row in measure(count, args)]
    result = {"settings": settings(args), "results": rows}
    command = "nice -n 15 .venv/bin/python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    with output(args.out, args.smoke) as out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(result, command))
    print("\n".join([HEADER, *map(_row, rows)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
