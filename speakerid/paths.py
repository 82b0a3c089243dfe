"""Where user data lives: ``$SPEAKERID_HOME`` when set, else the platform's per-user data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

ACTIVE_MODEL_FILE = "active_model.json"  # names the active folder of models_dir()


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
