"""Where user data lives: ``$SPEAKERID_HOME`` when set, else the platform's per-user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


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


def active_model_dir() -> Path:
    """The model the user made active from the Train page (absent until they do)."""
    return home() / "active_model"
