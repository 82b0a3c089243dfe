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


@cache
def single_threaded_blas() -> None:
    """Limit the BLAS libraries loaded in this process to one thread (once; later calls are free)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


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
