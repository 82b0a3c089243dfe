"""Process-wide thread settings so that TensorFlow gets the cores it is given.

OpenBLAS, behind NumPy's products, keeps its worker threads spinning for a while after each call.
On a small machine they then take cores from the TensorFlow forward pass that follows: with two
cores, one ``np.dot`` over a 30 s signal made the next forward pass 40 ms slower (30 s clip:
100 ms to embed instead of 65 ms). NumPy's products here are small (a query against a gallery,
loudness sums), so one BLAS thread costs them little.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_LIMITED_BLAS: set[str] = set()  # the BLAS libraries already limited, by file


def single_threaded_blas() -> None:
    """Limit the BLAS libraries loaded in this process to one thread, again whenever one was
    loaded since the last call (FAISS brings its own OpenBLAS, with a thread per core)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    loaded = {pool["filepath"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    if loaded - _LIMITED_BLAS:
        threadpool_limits(1, user_api="blas")
        _LIMITED_BLAS.update(loaded)


@cache
def bfloat16_is_fast() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX), so that large networks
    may run their products in it. Elsewhere oneDNN emulates bfloat16, slower than float32.
    ``SPEAKERID_BFLOAT16=0`` turns it off."""
    if os.environ.get("SPEAKERID_BFLOAT16", "1") == "0":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def tensorflow_threads(intra_op: int) -> None:
    """Let each TensorFlow operation use at most ``intra_op`` threads, so that the app's workers
    (speakerid.app.work_queue) do not take cores from each other. Only before TensorFlow has run its
    first operation in this process: later it keeps what it has."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    except RuntimeError:  # TensorFlow already started
        pass
