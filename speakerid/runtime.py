"""Process-wide thread settings so that TensorFlow gets the cores it is given.

OpenBLAS, behind NumPy's products, keeps its worker threads spinning for a while after each call.
On a small machine they then take cores from the TensorFlow forward pass that follows: with two
cores, one ``np.dot`` over a 30 s signal made the next forward pass 40 ms slower (30 s clip:
100 ms to embed instead of 65 ms). NumPy's products here are small (a query against a gallery,
loudness sums), so one BLAS thread costs them little.
"""

from __future__ import annotations

from functools import cache


@cache
def single_threaded_blas() -> None:
    """Limit the BLAS libraries loaded in this process to one thread (once; later calls are free)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
