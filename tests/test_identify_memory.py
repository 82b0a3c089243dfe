"""Identification keeps nothing per request: a long-running app must not grow with its traffic.

The fast version of benchmarks/load_test.py's memory check. tracemalloc counts what Python and
NumPy still hold after the calls, so a leak of a few hundred bytes a call shows after 200 calls,
where the process's RSS would drown it in allocator noise.
"""

from __future__ import annotations

import gc
import tracemalloc

from synthetic import synth_voice

from speakerid.audio import from_array
from speakerid.gallery import Gallery

RATE = 16000
CALLS = 200
ALLOWED_GROWTH_BYTES = 32_000  # well under 200 calls x the ~1 kB an Identification holds


def test_identify_embedding_does_not_grow_memory(tmp_path, untrained_encoder):
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        for speaker in range(3):
            gallery.enroll(f"speaker {speaker}", from_array(synth_voice(speaker, 8.0, RATE), RATE))
        probe = untrained_encoder.embed(synth_voice(1, 4.0, RATE, seed=1), RATE)
        for _ in range(20):  # fills the caches that are meant to stay (centroids, SQL statements)
            gallery.identify_embedding(probe)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(CALLS):
                result = gallery.identify_embedding(probe, top_k=3)
            del result
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert grown < ALLOWED_GROWTH_BYTES, f"{grown} bytes kept after {CALLS} identifications"
