"""Weights stored as 8-bit integers with one scale per output channel, for large shipped models.

The ported ECAPA-TDNN has 20.8 M weights: 83 MB as float32, too much for a repository and a
download. Each kernel is stored as int8 with a float32 scale for every group of
:data:`GROUP` consecutive inputs of each output channel (symmetric, ``max |w| / 127``); biases and
batch-norm statistics stay float32. Loading restores float32 weights, so inference runs the same
network. One scale per whole output channel was not enough: on the fixture clips the embeddings'
cosine with the float32 model fell to 0.9945 (the first convolution, whose 80 mel bands differ in
scale, lost most); with groups of 32 it is at least 0.9998, for 12 % more bytes.
The file is a NumPy ``.npz`` read with ``allow_pickle=False``: nothing in it can execute.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

QUANTISED_WEIGHTS_FILE = "encoder.weights.int8.npz"
SCALE_SUFFIX = "::scale"
GROUP = 32


def save_quantised(network: keras.Model, path: Path) -> None:
    """Write ``network``'s weights, kernels as int8 per output channel, atomically."""
    arrays: dict[str, np.ndarray] = {}
    for variable in network.weights:
        value = np.asarray(variable.numpy(), dtype=np.float32)
        if value.ndim >= 2:
            groups = _grouped(value)
            scale = np.abs(groups).max(axis=1, keepdims=True) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            arrays[variable.path] = np.round(groups / scale).astype(np.int8)
            arrays[variable.path + SCALE_SUFFIX] = scale
        else:
            arrays[variable.path] = value
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_quantised(network: keras.Model, path: Path) -> None:
    """Fill ``network`` from :func:`save_quantised`'s file; ValueError if they do not match."""
    with np.load(path, allow_pickle=False) as stored:
        names = {name for name in stored.files if not name.endswith(SCALE_SUFFIX)}
        expected = {variable.path for variable in network.weights}
        if names != expected:
            raise ValueError(f"stored weights do not fit the network: {len(names ^ expected)} names differ, "
                             f"e.g. {sorted(names ^ expected)[:3]}")
        for variable in network.weights:
            value = stored[variable.path]
            if value.dtype == np.int8:
                value = _ungrouped(value.astype(np.float32) * stored[variable.path + SCALE_SUFFIX],
                                   tuple(variable.shape))
            if value.shape != tuple(variable.shape):
                raise ValueError(f"{variable.path}: stored shape {value.shape}, "
                                 f"network {tuple(variable.shape)}")
            variable.assign(value.astype(np.float32))


def _grouped(kernel: np.ndarray) -> np.ndarray:
    """(..., outputs) -> (groups, GROUP, outputs): the inputs of each output, zero-padded to groups."""
    rows = kernel.reshape(-1, kernel.shape[-1])
    rows = np.pad(rows, ((0, -len(rows) % GROUP), (0, 0)))
    return rows.reshape(-1, GROUP, kernel.shape[-1])


def _ungrouped(groups: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_grouped`; ValueError when the stored groups do not make ``shape``."""
    rows = int(np.prod(shape[:-1]))
    if groups.ndim != 3 or groups.shape[1:] != (GROUP, shape[-1]) or groups.shape[0] != -(-rows // GROUP):
        raise ValueError(f"stored groups {groups.shape} do not make a kernel of shape {shape}")
    return groups.reshape(-1, shape[-1])[:rows].reshape(shape)
