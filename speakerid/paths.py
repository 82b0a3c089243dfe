"""Where user data lives (``$SPEAKERID_HOME`` when set, else the platform's per-user data folder),
which model folder the library loads, and which server folders the app may read: all known without
importing TensorFlow."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import platformdirs

from .errors import SpeakerIDError
from .i18n import _

ACTIVE_MODEL_FILE = "active_model.json"  # names the active folder of models_dir()
CONFIG_FILE = "config.json"  # a model folder's pipeline and network (see speakerid.models.encoder)
WEIGHTS_FILE = "encoder.weights.h5"
DATA_ROOTS_VARIABLE = "SPEAKERID_DATA_ROOTS"


def _shipped(folder: str) -> Path:
    """A folder shipped with speakerid: the checkout's own, else where pip install put it (pyproject)."""
    checkout = Path(__file__).resolve().parent.parent / folder
    installed = Path(sys.prefix) / "share" / "speakerid" / folder
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


SHIPPED_WEIGHTS = _shipped("weights")
ASSETS = _shipped("assets")  # shipped fonts and demo voices


def home() -> Path:
    root = os.environ.get("SPEAKERID_HOME")
    path = Path(root) if root else Path(platformdirs.user_data_dir("speakerid", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def gallery_path() -> Path:
    return home() / "gallery.sqlite"


def secrets_dir() -> Path:
    """The server's secrets (accounts, the key that signs sign-in cookies): readable by the
    server's user only."""
    path = home() / "secrets"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def accounts_path() -> Path:
    """Who may sign in to the app, with which role (``python -m speakerid app-user``)."""
    return secrets_dir() / "accounts.json"


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
    """``$SPEAKERID_WEIGHTS``, else the model the user made active, else the shipped ``weights/``
    (the checkout's, or after ``pip install`` the copy in ``<prefix>/share/speakerid/weights``)."""
    if os.environ.get("SPEAKERID_WEIGHTS"):
        return Path(os.environ["SPEAKERID_WEIGHTS"])
    active = active_model_dir()
    return active if (active / CONFIG_FILE).is_file() else SHIPPED_WEIGHTS


def data_roots() -> list[Path]:
    """The folders the app may read a typed server path from: ``$SPEAKERID_DATA_ROOTS`` (folders
    separated by ``os.pathsep``), else ``data/`` in :func:`home` (created). A web page must not
    reach every folder the server's user can."""
    listed = [Path(entry).expanduser() for entry in
              os.environ.get(DATA_ROOTS_VARIABLE, "").split(os.pathsep) if entry.strip()]
    if listed:
        return [root.resolve() for root in listed]
    default = home() / "data"
    default.mkdir(exist_ok=True)
    return [default.resolve()]


def inside_data_roots(typed: str | Path) -> Path:
    """``typed`` as an absolute path (``~``, ``..`` and symlinks resolved), if it lies in one of
    :func:`data_roots`; otherwise a refusal that says where data may be, checked before anything
    is read, so a refused path does not even reveal whether it exists."""
    path = Path(typed).expanduser().resolve()
    roots = data_roots()
    if any(path.is_relative_to(root) for root in roots):
        return path
    listed = ", ".join(str(root) for root in roots)
    raise SpeakerIDError(_("{typed} is outside the folders this app may read ({listed}); move the data "
                           "there or add its folder to {data_roots_variable} when starting the app").format(
                               typed=typed, listed=listed, data_roots_variable=DATA_ROOTS_VARIABLE))
