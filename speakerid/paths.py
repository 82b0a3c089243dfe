"""Where user data lives (``$SPEAKERID_HOME`` when set, else the platform's per-user data folder),
and which model folder the library loads: both known without importing TensorFlow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

ACTIVE_MODEL_FILE = "active_model.json"  # names the active folder of models_dir()
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
CONFIG_FILE = "config.json"  # a model folder's pipeline and network (see speakerid.encoder)
WEIGHTS_FILE = "encoder.weights.h5"


def home() -> Path:
    root = os.environ.get("SPEAKERID_HOME")
    path = Path(root) if root else Path(platformdirs.user_data_dir("speakerid", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def gallery_path() -> Path:
    return home() / "gallery.sqlite"


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Installed models, one folder each, never changed once in place (``encoder.install_model``)."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def active_model_dir() -> Path:
    """The model the user made active from the Train page (absent until they do): the installed
    folder that active_model.json names, a file replaced whole, so a switch happens in one step;
    without it, the folder earlier versions activated into."""
    try:
        name = json.loads((home() / ACTIVE_MODEL_FILE).read_text())["model"]
    except (OSError, ValueError, KeyError, TypeError):
        name = None
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
        return home() / "active_model"
    return home() / "models" / name


def default_model_dir() -> Path:
    """``$SPEAKERID_WEIGHTS``, else the model the user made active, else the shipped ``weights/``."""
    if os.environ.get("SPEAKERID_WEIGHTS"):
        return Path(os.environ["SPEAKERID_WEIGHTS"])
    active = active_model_dir()
    return active if (active / CONFIG_FILE).is_file() else SHIPPED_WEIGHTS
