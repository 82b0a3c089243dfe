"""Would batching the network's inputs across sessions serve four waiting pages sooner?

Issue 21's target is four pages identifying at once within 2.5x one page alone. One page already
keeps both cores busy, so four equal clips arriving together are served one after another and
their median waits 2.5 clips' time. Only doing less work per clip when several wait could beat
that: one network call over every waiting clip's windows instead of one call each. This script
measures what that saves: a 15 s clip's timeline windows (3 s each) for ``--clips`` clips, sent as
one call a clip and as one call for all, alternating, ``--rounds`` times.

    python benchmarks/batch_efficiency.py [--weights weights] [--clips 4] [--rounds 5] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from smoke import HELP, ROOT, synthetic_corpus, tiny_model

WINDOW_S = 3.0
CLIP_S = 15.0


def timeline_windows(model, clip_path: Path) -> np.ndarray:
    """A clip's features cut into the timeline's windows (3 s, half overlapping), as the app cuts them."""
    from speakerid.audio import load_audio

    features = model.features(model.prepare(load_audio(clip_path)))
    frames_per_s = features.shape[0] / CLIP_S
    width, hop = int(WINDOW_S * frames_per_s), int(WINDOW_S * frames_per_s / 2)
    starts = range(0, max(1, features.shape[0] - width + 1), hop)
    return np.stack([features[start:start + width] for start in starts]).astype(np.float32)


def seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(model, windows: np.ndarray, clips: int, rounds: int) -> tuple[float, float]:
    """Median wall seconds for ``clips`` calls of ``windows`` and for one call of them all."""
    together = np.concatenate([windows] * clips)
    model.embed_windows(windows), model.embed_windows(together)  # warm-up: graphs built
    apart, batched = [], []
    for _ in range(rounds):
        apart.append(seconds(lambda: [model.embed_windows(windows) for _ in range(clips)]))
        batched.append(seconds(lambda: model.embed_windows(together)))
    return float(np.median(apart)), float(np.median(batched))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help=HELP)
    args = parser.parse_args()
    from speakerid import load_model

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        clip = synthetic_corpus(folder / "voices", ["a"], 1, CLIP_S) / "a" / "00.wav"
        weights = tiny_model(folder / "model") if args.smoke else Path(args.weights)
        rounds = 1 if args.smoke else args.rounds
        model = load_model(weights)
        windows = timeline_windows(model, clip)
        apart, batched = measure(model, windows, args.clips, rounds)
    print(f"model: {weights if not args.smoke else 'tiny untrained (smoke)'}; {os.cpu_count()} CPUs; "
          f"{len(windows)} windows of {WINDOW_S:g} s per {CLIP_S:g} s clip; median of {rounds} rounds")
    print(f"| clips | one call a clip (s) | one call for all (s) | batched / apart |\n|---:|---:|---:|---:|\n"
          f"| {args.clips} | {apart:.2f} | {batched:.2f} | {batched / apart:.2f} |")


if __name__ == "__main__":
    main()
