"""Training runs as the app sees them: launch, list, watch, resume, and make a result active.

A run lives in its own folder under :func:`paths.runs_dir` (see :mod:`speakerid.training.train` for its
files). Training runs in a detached process, so a run outlives the page, the browser session and
the app itself; this module records what it needs to find and resume it (``launch.json``: the
dataset folders and the process id) and tells a live process from a dead one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import paths
from ..errors import SpeakerIDError
from ..i18n import _

if TYPE_CHECKING:
    from ..gallery import Gallery
    from ..models.base import SpeakerModel
    from .settings import TrainSettings

LAUNCH_FILE = "launch.json"
ACTIVE_STATES = ("starting", "preparing", "running", "evaluating")
_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this app started: polled so they are reaped


@dataclass(frozen=True)
class RunInfo:
    name: str
    path: Path
    status: dict[str, Any]
    state: str  # the status file's state, "interrupted" when its process died, "unknown" without one
    updated: float  # modification time of the run's newest status
    alive: bool

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def resumable(self) -> bool:
        return (not self.alive and self.state in ("cancelled", "interrupted", "failed")
                and (self.path / "checkpoint").is_dir() and bool(data_dirs(self.path)))

    @property
    def finished(self) -> bool:
        return self.state == "finished" and (self.path / "model").is_dir()

    @property
    def model_dir(self) -> Path:
        return self.path / "model"


def run_name(label: str | None = None) -> str:
    """A folder name: the label made safe, then the date and time."""
    stem = re.sub(r"[^\w.-]+", "-", (label or "run").strip(), flags=re.UNICODE).strip("-.")[:40] or "run"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(label: str | None = None, root: Path | None = None) -> Path:
    root = root or paths.runs_dir()
    base = run_name(label)
    path, count = root / base, 1
    while path.exists():
        count += 1
        path = root / f"{base}-{count}"
    path.mkdir(parents=True)
    return path


def launch(data: str | Path | list[str | Path], settings: TrainSettings, run_dir: Path | None = None,
           resume: bool = False, label: str | None = None) -> Path:
    """Start (or resume) training in a background process; return the run folder."""
    from ..datasets import discover
    from .train import start_training_process

    dirs = [Path(d).expanduser().resolve() for d in ([data] if isinstance(data, str | Path) else data)]
    for folder in dirs:
        discover(folder)  # refuse a folder without speakers now, not in the background
    if run_dir is None:
        run_dir = new_run_dir(label or (dirs[0].name if dirs else None))
    run_dir = Path(run_dir)
    current = run_info(run_dir)
    if current.alive:
        raise SpeakerIDError(_("{run} is already running").format(run=run_dir.name))
    process = start_training_process(dirs if len(dirs) > 1 else dirs[0], run_dir, settings, resume=resume)
    _CHILDREN[process.pid] = process
    _write_json(run_dir / LAUNCH_FILE, {"data_dirs": [str(d) for d in dirs], "pid": process.pid,
                                        "resume": resume, "started": time.time()})
    return run_dir


def resume(run_dir: Path) -> Path:
    """Continue a stopped or interrupted run from its checkpoint, on the same data."""
    from .settings import TrainSettings

    info = run_info(run_dir)
    if info.alive:
        raise SpeakerIDError(_("{run} is still running").format(run=run_dir.name))
    dirs = data_dirs(run_dir)
    if not dirs:
        raise SpeakerIDError(_("{run} does not record its dataset folders; start a new run").format(
            run=run_dir.name))
    missing = [d for d in dirs if not Path(d).is_dir()]
    if missing:
        raise SpeakerIDError(_("the dataset folder {missing} is gone; cannot resume").format(
            missing=missing[0]))
    settings_path = run_dir / "settings.json"
    try:
        settings = TrainSettings.from_dict(json.loads(settings_path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise SpeakerIDError(_("{settings_path} is unreadable: {exc}").format(
            settings_path=settings_path, exc=exc)) from None
    return launch(dirs, settings, run_dir, resume=True)


def data_dirs(run_dir: Path) -> list[str]:
    launch_info = _read_json(Path(run_dir) / LAUNCH_FILE)
    dirs = launch_info.get("data_dirs") if launch_info else None
    return [str(d) for d in dirs] if isinstance(dirs, list) else []


def process_alive(pid: Any) -> bool:
    """True while process ``pid`` runs (not a zombie); children of this process are reaped."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie still answers kill(pid, 0)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (OSError, IndexError):
        return True


def run_info(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    status_path = run_dir / "status.json"
    status = _read_json(status_path) or {}
    launch_info = _read_json(run_dir / LAUNCH_FILE) or {}
    state = str(status.get("state", "unknown")) if status else "unknown"
    pid = status.get("pid") if status else None
    alive = process_alive(pid) or process_alive(launch_info.get("pid"))
    if not status and alive:
        state = "starting"
    elif state in ACTIVE_STATES and not alive:
        state = "interrupted"
    stamps = [p.stat().st_mtime for p in (status_path, run_dir / LAUNCH_FILE) if p.is_file()]
    updated = max(stamps) if stamps else (run_dir.stat().st_mtime if run_dir.exists() else 0.0)
    return RunInfo(run_dir.name, run_dir, status, state, updated, alive)


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run folder, the most recently updated first."""
    root = root or paths.runs_dir()
    if not root.is_dir():
        return []
    runs = [run_info(p) for p in root.iterdir() if is_run(p)]
    return sorted(runs, key=lambda r: -r.updated)


def delete(run_dir: Path) -> None:
    """Delete a run that is not running, with everything in it (checkpoints, model, logs).

    The folder is first renamed to a hidden name, so a deletion cut short never leaves a half run
    in the list (hidden folders are not runs). An activated model survives: activation copied it.
    """
    run_dir = Path(run_dir)
    if not is_run(run_dir):
        raise SpeakerIDError(_("{run_dir} is not a training run").format(run_dir=run_dir))
    info = run_info(run_dir)
    if info.alive:
        raise SpeakerIDError(_("{run} is still running; stop it before deleting it").format(run=run_dir.name))
    doomed = run_dir.with_name(f".deleting-{run_dir.name}")
    shutil.rmtree(doomed, ignore_errors=True)  # what an earlier deletion cut short left
    os.replace(run_dir, doomed)
    shutil.rmtree(doomed)


def is_run(path: Path) -> bool:
    """A visible folder with a run's status, launch or settings file (see :func:`launch`)."""
    return (path.is_dir() and not path.name.startswith(".")
            and any((path / name).exists() for name in ("status.json", LAUNCH_FILE, "settings.json")))


def read_evaluation(run_dir: Path) -> dict[str, Any] | None:
    return _read_json(Path(run_dir) / "evaluation.json")


def log_tail(run_dir: Path, lines: int = 20, max_bytes: int = 64 * 1024) -> str:
    """The end of the run's log, progress-bar redraws collapsed to their last state."""
    path = Path(run_dir) / "train.log"
    if not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - max_bytes))
        text = handle.read().decode("utf-8", errors="replace")
    rows = []
    for row in text.split("\n"):
        redraws = [piece for piece in row.split("\r") if piece.strip()]
        if redraws:
            rows.append(redraws[-1])
    return "\n".join(rows[-lines:])


def activate(run_dir: Path, gallery: Gallery | None = None,
             progress: Callable[[int, int], None] | None = None,
             on_refused: Callable[[SpeakerIDError], None] | None = None) -> tuple[SpeakerModel, int]:
    """Make a finished run's model the active one, re-enrolling ``gallery`` from its stored audio
    without ever leaving it on a model that is not in use.

    The model is installed, every clip is embedded with it beside the current vectors (which keep
    answering, with the previous model still active), then the model switches in one step and the
    gallery follows in one transaction; a kill between those two is finished by the gallery's
    next use with the new model. Clips the new pipeline refuses go to ``on_refused`` and are kept.
    Returns the new encoder and the number of clips re-embedded.
    """
    from ..models.loader import install_model, load_model, make_active

    info = run_info(run_dir)
    if not info.finished:
        raise SpeakerIDError(_("{run} has no finished model to activate").format(run=Path(run_dir).name))
    installed = install_model(info.model_dir)
    encoder = load_model(installed)
    if gallery is not None:
        gallery.stage(encoder, progress, on_refused)
    make_active(installed)
    clips = gallery.reenroll(encoder, progress, on_refused) if gallery is not None else 0
    return encoder, clips


def fine_tuning_start(model_dir: Path) -> Path:
    """The folder a run that fine-tunes ``model_dir`` starts from: the model itself, or for a fused
    model its heaviest-weighted member (the ECAPA port in the shipped one), since a fusion is not
    one network to train. SpeakerIDError when the folder holds no model."""
    try:
        meta = json.loads((Path(model_dir) / paths.CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise SpeakerIDError(_("{model_dir} holds no model to fine-tune: {exc}").format(
            model_dir=model_dir, exc=exc)) from None
    members = meta.get("fusion", {}).get("members") if isinstance(meta, dict) else None
    if not members:
        return Path(model_dir)
    heaviest = max(members, key=lambda member: member.get("weight", 0))
    return Path(model_dir) / str(heaviest.get("path", ""))


def in_use(run_dir: Path) -> bool:
    """Whether the model the library loads by default is this run's model (same weights)."""
    import filecmp

    mine = Path(run_dir) / "model" / paths.WEIGHTS_FILE
    current = paths.default_model_dir() / paths.WEIGHTS_FILE
    try:
        return mine.is_file() and current.is_file() and filecmp.cmp(mine, current, shallow=False)
    except OSError:
        return False


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
