"""``train`` and ``evaluate`` sub-commands: the model side of ``python -m speakerid``.

Training options are generated from :class:`speakerid.training.settings.TrainSettings`, so a new
setting is a new flag without touching this file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path

from ..calibration_text import say_method
from ..errors import SpeakerIDError
from ..i18n import N_, _, pgettext
from ..numerals import number
from .common import (
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_REFUSED,
    Subparsers,
    add_command,
    add_json_option,
    add_model_option,
    emit,
    import_tensorflow_quietly,
    kept_note,
    load_encoder,
    progress_bar,
    refusal_reporter,
    say,
)

SETTINGS_SKIPPED = {"recipe", "exclude_speakers", "channels"}
# Flags whose generated "default: ..." line would not tell a user what to choose.
SETTINGS_HELP = {
    "distribute": N_("tf.distribute strategy: none (one device), mirrored (every GPU of this machine) "
                     "or multiworker (the machines named in $TF_CONFIG, one command per machine); "
                     "--batch-size stays the global batch, split over all replicas (default: none)"),
    "init_from": N_("a trained model directory (e.g. weights) whose encoder this run starts from, to "
                    "fine-tune it on new speakers; the speaker head starts at each speaker's mean "
                    "embedding under that encoder (default: none)"),
}


def add_train(subparsers: Subparsers) -> None:
    from ..training.settings import TrainSettings

    parser = add_command(subparsers, "train", run_train, _("train an encoder on dataset folders"),
                         _("Train on one or more dataset folders (one folder per speaker, or one "
                           "recording per speaker named after them, with an optional CSV of name and "
                           "gender). Writes status.json, history.csv, checkpoint/, model/ and "
                           "evaluation.json under --out; a file named STOP there stops it cleanly."))
    parser.add_argument("data", nargs="+", type=Path, help=_("dataset folder(s)"))
    parser.add_argument("--out", type=Path, required=True, help=_("run directory"))
    parser.add_argument("--recipe", choices=["aam", "reference"], default="aam",
                        help=_("aam: thin ResNet + angular-margin softmax (default); reference: "
                               "DenseNet121 Siamese pairs with contrastive loss"))
    parser.add_argument("--exclude-file", type=Path,
                        help=_("JSON list of speaker names (or {folder: [names]}) kept out of training"))
    parser.add_argument("--settings", type=Path, help=_("JSON settings file (as the app writes)"))
    parser.add_argument("--resume", action="store_true", help=_("continue from the run's checkpoint"))
    parser.add_argument("--no-progress", action="store_true", help=_("no progress bars"))
    parser.add_argument("--activate", action="store_true",
                        help=_("make the trained model the default for the app and the CLI, the "
                               "default gallery re-enrolled with it first"))
    hints = typing.get_type_hints(TrainSettings)
    for field in dataclasses.fields(TrainSettings):
        if field.name in SETTINGS_SKIPPED:
            continue
        flag = "--" + field.name.replace("_", "-")
        help_text = (_(SETTINGS_HELP[field.name]) if field.name in SETTINGS_HELP else
                     _("default: the recipe's ({value!r} for aam)").format(value=field.default))
        if field.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif typing.get_origin(hints[field.name]) is typing.Literal:  # a fixed set: argparse checks it
            parser.add_argument(flag, choices=typing.get_args(hints[field.name]), default=None,
                                help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(field.type), str)
            parser.add_argument(flag, type=kind, default=None, metavar=field.name.upper(), help=help_text)


def run_train(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()
    from ..training.settings import TrainSettings
    from ..training.train import read_status, train

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainSettings)
                 if f.name not in SETTINGS_SKIPPED and getattr(args, f.name, None) is not None}
    if args.exclude_file:
        overrides["exclude_speakers"] = tuple(_speaker_names(args.exclude_file))
    if args.settings:
        saved = TrainSettings.from_dict(json.loads(args.settings.read_text()))
        settings = dataclasses.replace(saved, **overrides)
    else:
        settings = TrainSettings.for_recipe(args.recipe, **overrides)
    model_dir = train(args.data, args.out, settings, resume=args.resume, progress=not args.no_progress)
    status = read_status(args.out)
    if status.get("state") != "finished":
        say(_("training stopped at epoch {epoch}; continue with --resume").format(
            epoch=number(status.get("epoch"))))
        return EXIT_CANCELLED
    say(_("model saved to {path}").format(path=model_dir))
    return activate(args.out) if args.activate else EXIT_OK


def activate(run_dir: Path) -> int:
    """Make the run's model the default one, the default gallery re-enrolled with it first."""
    from ..gallery import Gallery
    from ..training import runs

    refused: list[SpeakerIDError] = []
    with Gallery() as gallery, progress_bar(_("re-enrolling"), pgettext("progress unit", "clip")) as progress:
        encoder, clips = runs.activate(run_dir, gallery, progress, refusal_reporter(refused))
    say(_("active model: {path}; re-enrolled {count} gallery clip(s)").format(path=encoder.path,
                                                                               count=number(clips))
        + kept_note(refused))
    return EXIT_REFUSED if refused else EXIT_OK


def add_evaluate(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "evaluate", run_evaluate, _("evaluate an encoder on a dataset folder"),
                         _("All-pairs verification (EER, minDCF at p_target 0.01, precision/recall at the "
                           "model's threshold, mean same/different distances) and closed-set top-1 "
                           "identification on the speakers of a dataset folder."))
    parser.add_argument("data", type=Path, help=_("dataset folder"))
    parser.add_argument("--speakers-file", type=Path,
                        help=_("JSON list (or {folder: [names]}) restricting the evaluation to those "
                               "speakers"))
    parser.add_argument("--crop-s", type=float, help=_("evaluate on crops of this many seconds of speech"))
    add_model_option(parser)
    add_json_option(parser)


def run_evaluate(args: argparse.Namespace) -> int:
    from ..datasets import discover
    from ..training.evaluate import embed_speakers, evaluate_items

    encoder = load_encoder(args)
    speakers = discover(args.data)
    if args.speakers_file:
        wanted = {name.rsplit("/", 1)[-1] for name in _speaker_names(args.speakers_file)}
        speakers = [s for s in speakers if s.name in wanted]
    with progress_bar(_("embedding"), pgettext("progress unit", "speaker")) as progress:
        items = embed_speakers(encoder, speakers, crop_s=args.crop_s, progress=progress)
    report = evaluate_items(items, encoder, encoder.threshold)
    data = report.to_dict()
    data.pop("det")
    emit(args, data, report.summary())
    return EXIT_OK


def add_calibrate(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "calibrate", run_calibrate,
                         _("refit a model's score normalisation and threshold"),
                         _("Rebuild the AS-norm cohort from the model's training speakers and refit the "
                           "threshold and probability map on its held-out calibration speakers (both "
                           "named in its config.json), then save them in the model directory."))
    parser.add_argument("model", type=Path, help=_("model directory"))
    parser.add_argument("data", nargs="+", type=Path, help=_("the dataset folder(s) it was trained on"))
    add_json_option(parser)


def run_calibrate(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()
    from ..models.loader import load_model
    from ..training.evaluate import evaluate_items, fit_scoring
    from ..training.train import collect_speakers

    encoder = load_model(args.model)
    config = json.loads((args.model / "config.json").read_text())
    by_name = {s.name: s for s in collect_speakers(args.data)}
    # A ported model names the speakers of its cohort; a model trained here uses its training speakers.
    cohort = config.get("cohort_speakers", config.get("trained_on", []))
    missing = [n for n in cohort + config.get("calibrated_on", []) if n not in by_name]
    if missing or not config.get("calibrated_on"):
        raise SpeakerIDError(_("{model}: its cohort and calibration speakers are not all in the given "
                               "folders (missing {missing}...)").format(
                                   model=args.model, missing=missing[:3]))
    items = fit_scoring(encoder, [by_name[n] for n in cohort], [by_name[n] for n in config["calibrated_on"]])
    encoder.save_scoring(args.model)
    report = evaluate_items(items, encoder, encoder.threshold)
    emit(args, {"calibration": encoder.calibration.to_dict(), "eer": report.eer},
         _("{method}\nthreshold {threshold:.3f}; {summary}").format(
             method=say_method(encoder.calibration.method), threshold=encoder.threshold,
             summary=report.summary()))
    return EXIT_OK


MODEL_COMMANDS = (add_train, add_evaluate, add_calibrate)


def _speaker_names(path: Path) -> list[str]:
    """A JSON list of names, or {folder: [names]} read as ``folder/name`` (multi-folder naming)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SpeakerIDError(_("{path}: not a readable JSON speaker list ({problem})").format(
            path=path, problem=exc)) from None
    if isinstance(data, dict):
        return [f"{folder}/{name}" for folder, names in data.items() for name in names]
    if isinstance(data, list):
        return [str(name) for name in data]
    raise SpeakerIDError(_("{path}: expected a list of names or an object of lists").format(path=path))
