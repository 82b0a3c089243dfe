"""Identification keeps nothing per request: a long-running app must not grow with its traffic.

The fast version of benchmarks/load_test.py's memory check. tracemalloc counts what Python and
NumPy still hold after the calls, so a leak of a few hundred bytes a call shows after 200 calls,
where the process's RSS would drown it in allocator noise. Only memory allocated with the gallery's
code on the stack counts (identify_embedding and everything it calls): threads left by earlier
tests allocate meanwhile, in speakerid's code too (an app test's model warm-up once showed as
69 kB "kept" in models/base.py). The counted round follows a traced round of the same calls: in
the whole suite, free lists and caches filled before tracing began (NumPy's clip, SQLite's
statements) once showed as 33-37 kB "kept".
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from synthetic import synth_voice

import speakerid
from speakerid.audio import from_array
from speakerid.gallery import Gallery

RATE = 16000
CALLS = 200
ALLOWED_GROWTH_BYTES = 32_000  # well under 200 calls x the ~1 kB an Identification holds
OURS = [tracemalloc.Filter(True, f"{Path(speakerid.__file__).parent}/gallery/*", all_frames=True)]
STACK_FRAMES = 50  # deep enough to reach the gallery's frame under NumPy's and SQLite's


def test_identify_embedding_does_not_grow_memory(tmp_path, untrained_encoder):
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        for speaker in range(3):
            gallery.enroll(f"speaker {speaker}", from_array(synth_voice(speaker, 8.0, RATE), RATE))
        probe = untrained_encoder.embed(synth_voice(1, 4.0, RATE, seed=1), RATE)
        gc.collect()
        tracemalloc.start(STACK_FRAMES)
        try:
            # The same calls first, traced: what is meant to stay (centroids, SQLite's statement
            # cache, NumPy's and Python's free lists of small objects) is filled by memory tracemalloc
            # sees, so that reusing it afterwards does not count as kept; a leak grows in both rounds.
            for _ in range(CALLS):
                gallery.identify_embedding(probe, top_k=3)
            gc.collect()
            before = tracemalloc.take_snapshot().filter_traces(OURS)
            for _ in range(CALLS):
                result = gallery.identify_embedding(probe, top_k=3)
            del result
            gc.collect()
            after = tracemalloc.take_snapshot().filter_traces(OURS)
        finally:
            tracemalloc.stop()
    growth = after.compare_to(before, "traceback")
    grown = sum(stat.size_diff for stat in growth)
    where = "\n".join(f"{stat.size_diff} B in {stat.count_diff} blocks:\n"
                      + "\n".join(stat.traceback.format()[-12:]) for stat in growth[:3])
    assert grown < ALLOWED_GROWTH_BYTES, f"{grown} bytes kept after {CALLS} identifications, at:\n{where}"
