"""Which model a folder holds, and which model the library uses.

:func:`load_model` loads any model folder as the class its ``config.json`` names: one network
(:class:`~speakerid.models.encoder.Encoder`) or several fused
(:class:`~speakerid.models.fusion.FusedEncoder`), both :class:`~speakerid.models.base.SpeakerModel`.
:func:`install_model` copies a trained model into the user's models folder and :func:`make_active`
makes it the default that :func:`load_model` (and so the app and the CLI) loads without a path.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from .. import paths
from ..config import read_config
from .base import SpeakerModel, atomic_write_text
from .encoder import Encoder
from .fusion import FusedEncoder


def load_model(path: str | Path | None = None) -> SpeakerModel:
    """Load a model folder, whichever kind it is.

    Args:
        path: a model folder (``config.json``, weights, ``calibration.json``); None loads the
            default: ``$SPEAKERID_WEIGHTS``, else the model made active (:func:`make_active`),
            else the shipped ``weights/`` (:func:`speakerid.paths.default_model_dir`).

    Returns:
        An :class:`~speakerid.models.encoder.Encoder`, or a
        :class:`~speakerid.models.fusion.FusedEncoder` when the config has a ``fusion`` entry.

    Raises:
        SpeakerIDError: the folder has no readable config, no weights, weights that do not fit
            its network, or a damaged calibration or cohort.

    Imports TensorFlow. The one place that picks the class: :meth:`Encoder.load
    <speakerid.models.encoder.Encoder.load>` loads one network only (and the fused model's members).
    """
    path = Path(path) if path else paths.default_model_dir()
    meta, pipeline, model_config = read_config(path)
    if "fusion" in meta:
        return FusedEncoder.load(path, meta, pipeline, model_config)
    return Encoder.load(path)


def install_model(model_dir: str | Path) -> Path:
    """Copy a trained model into the user's models folder (so the run can be deleted); refuses one
    that does not load. Not active yet: see :func:`make_active`. The copy is renamed into place
    whole, so a half-copied model is never installed."""
    source = Path(model_dir)
    load_model(source)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(4).hex()}"
    partial = paths.models_dir() / f".{name}.partial"
    shutil.copytree(source, partial)
    os.replace(partial, partial.with_name(name))
    return partial.with_name(name)


def make_active(installed: Path) -> Path:
    """Make an installed model the default for the app and CLI, in one atomic replace of the file
    that names it; the model it replaces is deleted only then."""
    previous = paths.active_model_dir()
    atomic_write_text(paths.home() / paths.ACTIVE_MODEL_FILE, json.dumps({"model": installed.name}))
    if previous != installed:
        shutil.rmtree(previous, ignore_errors=True)
    return installed
