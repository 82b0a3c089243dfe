"""Train: a new encoder from a folder of recordings, in the background; progress, report, activation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, paths
from speakerid.app import charts
from speakerid.app.accounts import ADMIN
from speakerid.app.unzip import extract_zip
from speakerid.datasets import discover
from speakerid.training import runs
from speakerid.training.estimate import estimate
from speakerid.training.settings import Recipe, TrainSettings
from speakerid.training.train import read_history, request_stop, split_speakers
from speakerid_ui.formatting import rough_duration


@dataclass(frozen=True)
class Purpose:
    """What a user wants from a run, in their words, and the recipe and defaults that do it."""

    title: str
    caption: str
    recipe: Recipe
    fine_tune: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)


PURPOSES = {
    "adapt": Purpose(
        "Adapt the model in use to your voices",
        "**Recommended.** Keeps what the model in use has learnt and adapts it to your speakers and "
        "recording conditions: a few short epochs at a small learning rate. Where it fuses two networks, "
        "as the shipped model does, this adapts the stronger one (the ECAPA-TDNN port), and the run's "
        "model is that network alone.",
        "aam", fine_tune=True,
        # The fine-tuning of weights/MODEL_CARD.md: 200 steps of 32 crops at 2e-5.
        defaults={"epochs": 4, "steps_per_epoch": 50, "batch_size": 32, "learning_rate": 2e-5,
                  "warmup_steps": 20}),
    "new": Purpose(
        "Train a new model from your recordings",
        "A thin ResNet learnt from scratch, with noise, reverberation and telephone augmentation. "
        "Needs many speakers (a hundred or more) and hours of training.", "aam"),
    "reference": Purpose(
        "Train the original Siamese DenseNet method",
        "The system this project started from: DenseNet121 pairs on 3 s windows. Slower and less "
        "accurate; kept for comparison.", "reference"),
}
LOSSES = {
    "aam": "**Loss:** additive angular margin (AAM) softmax: the model learns to tell the training "
           "speakers apart with a safety margin between any two of them, so that different people's "
           "voiceprints stay far apart.",
    "reference": "**Loss:** contrastive, on pairs: the same speaker's windows are pulled together, "
                 "different speakers' pushed at least a margin apart.",
}
STATE_LOOK = {
    "starting": (":blue", ":material/hourglass_top:"), "preparing": (":blue", ":material/hourglass_top:"),
    "running": (":blue", ":material/sync:"), "evaluating": (":blue", ":material/fact_check:"),
    "finished": (":green", ":material/check_circle:"), "failed": (":red", ":material/error:"),
    "cancelled": (":orange", ":material/pause_circle:"),
    "interrupted": (":orange", ":material/pause_circle:"),
}


def dataset_picker() -> Path | None:
    kind = st.radio("Dataset", ["A folder on this computer", "A zip archive"], horizontal=True,
                    key="train_kind")
    if kind == "A folder on this computer":
        typed = st.text_input("Dataset folder", placeholder=str(paths.data_roots()[0] / "dataset"),
                              key="train_folder",
                              help="One folder per speaker with their clips inside, or one audio file "
                                   "per speaker (Name.mp3) with an optional CSV of names and genders. "
                                   + ui.data_roots_help())
        if not typed.strip():
            return None
        try:
            return paths.inside_data_roots(typed.strip())
        except SpeakerIDError as exc:
            st.error(str(exc), icon=":material/block:")
            return None
    archive = st.file_uploader("Zip archive of the dataset", type=["zip"], key="train_zip")
    unpacked = st.session_state.get("train_unpacked")
    if archive is None:
        return None
    if unpacked and unpacked[0] == ui.digest(archive.getvalue()):
        return Path(unpacked[1])
    if st.button("Unpack the archive", key="train_unpack"):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = paths.runs_dir() / "datasets" / f"{Path(archive.name).stem[:40]}-{stamp}"
        with st.spinner("Unpacking…"):
            try:
                folder = extract_zip(archive.getvalue(), target)
            except SpeakerIDError as exc:
                st.error(f"{ui.md(archive.name)}: {exc}", icon=":material/error:")
                return None
        st.session_state["train_unpacked"] = (ui.digest(archive.getvalue()), str(folder))
        return folder
    return None


def new_run_form() -> None:
    """A dataset, a recipe and its settings; the run starts in the background."""
    folder = dataset_picker()
    speakers = None
    if folder is not None:
        try:
            speakers = discover(folder)
        except SpeakerIDError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            files = sum(len(s.files) for s in speakers)
            preview = ", ".join(s.name for s in speakers[:6]) + (" …" if len(speakers) > 6 else "")
            st.success(f"{len(speakers)} speakers, {files} files: {ui.md(preview)}", icon=":material/folder:")
            if len(speakers) < 10:
                st.warning("Training needs several speakers: a few are held out to calibrate the "
                           "threshold. Twenty or more give a useful model.", icon=":material/warning:")
    chosen = st.radio("What for", list(PURPOSES), format_func=lambda key: PURPOSES[key].title,
                      key="train_purpose")
    purpose = PURPOSES[chosen]
    st.caption(purpose.caption)
    defaults = TrainSettings.for_recipe(purpose.recipe, **purpose.defaults)
    epochs = st.number_input(
        "Epochs", 1, 500, defaults.epochs, key=f"train_epochs_{chosen}",
        help="How many times training goes through all the recordings. More takes longer; the "
             "curves below show when the model stops improving.")
    with st.expander("Advanced", icon=":material/tune:"):
        st.caption(LOSSES[purpose.recipe])
        cols = st.columns(3)
        batch = cols[0].number_input(
            "Batch size", 2, 1024, defaults.batch_size, key=f"train_batch_{chosen}",
            help="How many recordings the model learns from in each step. Larger batches need more "
                 "memory; the default suits an ordinary computer.")
        rate = cols[1].number_input(
            "Learning rate", 1e-6, 1.0, defaults.learning_rate, format="%.0e",
            step=defaults.learning_rate / 2, key=f"train_lr_{chosen}",
            help=f"How big each learning step is, in computer notation: {defaults.learning_rate:.0e} "
                 f"means {defaults.learning_rate:g}. Too high and training goes astray, too low and it "
                 "crawls. Adapting a model needs a much smaller one than learning from scratch.")
        crop = cols[2].number_input(
            "Crop (s)", 0.5, 10.0, defaults.crop_s, step=0.5, key=f"train_crop_{chosen}",
            disabled=purpose.recipe != "aam",
            help="Not for the Siamese method: each step hears a random stretch of this many seconds "
                 "from each recording. Longer crops give the model more of each voice per step but "
                 "train more slowly.")
    try:
        start_from = runs.fine_tuning_start(paths.default_model_dir()) if purpose.fine_tune else None
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        speakers = None  # nothing to adapt: no Start
        start_from = None
    settings = TrainSettings.for_recipe(
        purpose.recipe, **{**purpose.defaults, "epochs": int(epochs), "batch_size": int(batch),
                           "learning_rate": float(rate), "crop_s": float(crop)},
        init_from=str(start_from) if start_from else None)
    show_estimate(settings, speakers)
    label = st.text_input("Run name (optional)", placeholder=folder.name if folder else "", key="train_label")
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=not speakers,
                 key="train_start"):
        try:
            run_dir = runs.launch(folder, settings, label=label.strip() or None)
        except SpeakerIDError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.session_state["train_selected"] = run_dir.name
            ui.flash(f"Training started: **{ui.md(run_dir.name)}**. It runs in the background.")
            st.rerun()


def show_estimate(settings: TrainSettings, speakers: list | None) -> None:
    """How long the run will take, before Start: its steps at the step speed measured here."""
    try:
        training = len(split_speakers(speakers, settings)[0]) if speakers else None
    except SpeakerIDError:
        return  # too few speakers: Start says why
    if training is None and settings.recipe == "reference":
        st.caption("The estimated duration shows once the dataset is chosen (the Siamese method's "
                   "steps grow with the number of speakers).")
        return
    guess = estimate(settings, training or 0, paths.runs_dir())
    source = (f"the speed of {guess.measured_runs} earlier run(s) on this computer" if guess.measured_runs
              else "this method's usual speed on a 2-core computer; runs made here refine it")
    st.info(f"Estimated duration: **about {rough_duration(guess.seconds)}**: {guess.steps:,} steps at "
            f"{guess.step_seconds:.1f} s a step ({source}).", icon=":material/schedule:")


# --- runs -------------------------------------------------------------------------------------
def describe(info: runs.RunInfo) -> str:
    status = info.status
    epoch = f" · epoch {status.get('epoch', 0)}/{status.get('epochs', '?')}" if status.get("epochs") else ""
    return f"{info.name} — {info.state}{epoch}"


def choose_run(all_runs: list[runs.RunInfo]) -> tuple[Path, runs.RunInfo]:
    """The run picked in the selector (the last one picked, else the newest): its folder and state."""
    names = [r.name for r in all_runs]
    selected = st.session_state.get("train_selected")
    # Set on every run, not only the first: the browser keeps showing an option's old label (with an
    # old state) while the selection itself is unchanged, unless the value comes from here.
    st.session_state["train_selected"] = selected if selected in names else names[0]
    chosen = st.selectbox("Run", names, key="train_selected",
                          format_func=lambda n: describe(next(r for r in all_runs if r.name == n)))
    run_dir = paths.runs_dir() / chosen
    shown = next(r for r in all_runs if r.name == chosen)
    return run_dir, shown


def progress_fraction(status: dict) -> float:
    epochs = max(int(status.get("epochs") or 1), 1)
    epoch = int(status.get("epoch") or 0)
    steps = int(status.get("steps") or 0)
    step = int(status.get("step") or 0)
    within = step / steps if steps else 0.0
    done = (epoch - 1 + within) if epoch >= 1 else 0.0
    return min(max(done / epochs, 0.0), 1.0)


def render_run(run_dir: Path, shown: runs.RunInfo) -> None:
    """The run as it is now (redrawn every 2 s while it runs); ``shown``: as the selector shows it."""
    info = runs.run_info(run_dir)
    if (info.state, info.alive) != (shown.state, shown.alive):
        st.rerun()  # redraw the whole page: the selector, the buttons, and polling only while it runs
    status = info.status
    color, icon = STATE_LOOK.get(info.state, (":gray", ":material/help:"))
    st.markdown(f"#### {color}[{icon} {info.state.capitalize()}]")
    if info.state == "interrupted":
        st.caption("The training process stopped without finishing (the computer restarted or it "
                   "crashed). Resume it from its last checkpoint.")
    if status.get("message"):
        st.caption(ui.md(str(status["message"])))
    if info.alive or info.state in ("cancelled", "interrupted", "finished"):
        fraction = 1.0 if info.state == "finished" else progress_fraction(status)
        st.progress(fraction, text=f"epoch {status.get('epoch', 0)} of {status.get('epochs', '?')}"
                                   f" · step {status.get('step', 0)} of {status.get('steps', '?')}")
    buttons = st.columns([1, 1, 3])
    if info.alive:
        stopping = (run_dir / "STOP").exists()
        if buttons[0].button("Stopping…" if stopping else "Stop", icon=":material/stop_circle:",
                             disabled=stopping, key="train_stop"):
            request_stop(run_dir)
            st.toast("Stopping after the current step; the checkpoint is kept.")
            st.rerun()
    elif info.resumable:
        if buttons[0].button("Resume", icon=":material/play_arrow:", type="primary", key="train_resume"):
            act_on_run(runs.resume, run_dir, "Resumed")

    history = read_history(run_dir)
    if history:
        curves = charts.training_curves(history)
        for column, chart in zip(st.columns(len(curves)), curves):
            column.vega_lite_chart(chart, width="stretch")
        with st.expander("Per-epoch numbers"):
            st.dataframe(history, hide_index=True, width="stretch")
    elif info.alive:
        st.caption("Curves appear after the first epoch.")
    if info.finished:
        render_report(run_dir)
    tail = runs.log_tail(run_dir)
    if tail:
        with st.expander("Log", expanded=info.state == "failed"):
            st.code(tail, language=None)
    if not info.alive:
        render_deletion(run_dir)


def act_on_run(action: Callable[[Path], object], run_dir: Path, done: str) -> None:
    """Resume or delete a run: say why when refused, else say it was done and redraw."""
    try:
        action(run_dir)
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        ui.flash(f"{done} **{ui.md(run_dir.name)}**.")
        st.rerun()


def render_deletion(run_dir: Path) -> None:
    """Delete a run that is not running, after a confirmation."""
    st.divider()
    if st.session_state.get("train_confirm_delete") != run_dir.name:
        if st.button(f"Delete {run_dir.name}…", icon=":material/delete:", key="train_delete_ask"):
            st.session_state["train_confirm_delete"] = run_dir.name
            st.rerun()
        return
    in_use = " The model in use is a copy: it stays." if runs.in_use(run_dir) else ""
    st.warning(f"Delete **{ui.md(run_dir.name)}** with its checkpoints, model and logs? This cannot be "
               f"undone.{in_use}", icon=":material/delete_forever:")
    yes, no = st.columns(2)
    if yes.button("Yes, delete", type="primary", key="train_delete_yes", width="stretch"):
        st.session_state.pop("train_confirm_delete", None)
        act_on_run(runs.delete, run_dir, "Deleted")
    if no.button("Cancel", key="train_delete_cancel", width="stretch"):
        st.session_state.pop("train_confirm_delete", None)
        st.rerun()


def render_report(run_dir: Path) -> None:
    st.markdown("#### Evaluation on held-out speakers")
    report = runs.read_evaluation(run_dir)
    if report is None:
        st.caption("No evaluation report in this run.")
    else:
        cols = st.columns(4)
        if report.get("eer") is not None:
            cols[0].metric("Equal error rate", f"{report['eer']:.1%}",
                           help="Where false accepts and false rejects are equally frequent: lower is better")
        if report.get("min_dcf") is not None:
            cols[1].metric("minDCF", f"{report['min_dcf']:.3f}")
        if report.get("threshold") is not None:
            cols[2].metric("Threshold", f"{report['threshold']:.3f}",
                           help="Scores at or above it mean the same speaker: set on held-out speakers "
                                "so that about 1 % of different-speaker pairs pass")
        if report.get("top1_identification") is not None:
            cols[3].metric("Top-1 identification", f"{report['top1_identification']:.0%}")
        if report.get("same_distance") is not None and report.get("different_distance") is not None:
            st.caption(f"Mean distance: same speaker {report['same_distance']:.3f}, different speakers "
                       f"{report['different_distance']:.3f}"
                       + (f" ({report['speakers']} speakers)" if report.get("speakers") else ""))
        if report.get("precision_recall"):
            st.vega_lite_chart(charts.precision_recall(report["precision_recall"], report.get("threshold")),
                               width="stretch")
    render_activation(run_dir)


def render_activation(run_dir: Path) -> None:
    if runs.in_use(run_dir):
        st.success("This model is in use.", icon=":material/check_circle:")
        return
    if os.environ.get("SPEAKERID_WEIGHTS"):
        st.info("The app uses the model named by the SPEAKERID_WEIGHTS environment variable "
                f"({ui.md(os.environ['SPEAKERID_WEIGHTS'])}); unset it to switch models from here.",
                icon=":material/info:")
        return
    if not st.button("Make this model active", type="primary", icon=":material/published_with_changes:",
                     key="train_activate"):
        st.caption("The gallery is then re-enrolled with the new model from its stored recordings.")
        return
    from speakerid import Gallery

    current, _ = ui.load_encoder()
    gallery = ui.open_gallery(current) if current is not None else Gallery(paths.gallery_path())
    bar = st.progress(0.0, text="Activating the model…")
    refused: list[SpeakerIDError] = []
    try:
        _, clips = runs.activate(run_dir, gallery, progress=lambda d, t: bar.progress(
            d / max(t, 1), text=f"Re-enrolling the gallery: clip {d} of {t}…"), on_refused=refused.append)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return
    bar.empty()
    ui.clear_model_cache()
    ui.flash(f"**{ui.md(run_dir.name)}** is now the active model"
             + (f"; {clips} gallery clip(s) re-enrolled." if clips else "."))
    if refused:
        ui.flash(ui.refusals_note(refused), "warning")
    st.rerun()


def main() -> None:
    """The page: a form for a new run, then the run picked, redrawn every 2 s while it runs."""
    ui.ensure_app_frame()
    ui.require_role(ADMIN)  # training and switching models: admins only
    st.title("Train a model")
    st.caption("Teach the encoder new voices and recording conditions from your own recordings. Training "
               "runs in the background: you can leave this page, or close the browser, and come back.")
    ui.show_flash()

    with st.expander("Start a new training run", expanded=not runs.list_runs(), icon=":material/add_circle:"):
        new_run_form()

    all_runs = runs.list_runs()
    st.subheader("Runs")
    if not all_runs:
        st.caption("No training runs yet.")
        st.stop()
    run_dir, shown = choose_run(all_runs)
    st.fragment(render_run, run_every=2.0 if shown.alive else None)(run_dir, shown)


main()
