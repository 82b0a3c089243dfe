"""The speaker commands: enroll, identify, timeline, verify, and gallery management."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from .. import numerals
from ..errors import SpeakerIDError
from ..i18n import _, pgettext
from ..verdict import (
    clock,
    evidence_line,
    in_short,
    left_out_text,
    percent,
    several_voices,
    voice_line,
)
from ..voice_labels import shown_voice, typed_voice
from .alias_commands import add_gallery_alias
from .common import (
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_REFUSED,
    Subparsers,
    add_command,
    add_gallery_option,
    add_input_options,
    add_json_option,
    add_model_option,
    confirm,
    download_bar,
    emit,
    format_table,
    input_arguments,
    kept_note,
    load_encoder,
    open_gallery,
    positive_int,
    progress_bar,
    refusal_reporter,
    say,
    stage_bars,
    to_json,
    warn,
)
from .history_commands import add_gallery_history, add_gallery_undo

if TYPE_CHECKING:
    from ..fetch import FetchLimits
    from ..gallery import Gallery, SpeakerInfo
    from ..inputs import Span
    from ..results import Identification, Segment, Timeline


def describe(label: str, result: Identification, timeline: Timeline | None = None,
             aliases: Sequence[str] = ()) -> str:
    """Human verdict and ranked matches for one clip; ``timeline``: who speaks when, for a clip
    long enough (several voices are said as such, each with its seconds, see speakerid.verdict);
    ``aliases``: the other names of the speaker it names."""
    best = result.best
    if best is None:
        return _("{label}: the gallery is empty (enrol speakers first)").format(label=label)
    voices = several_voices(timeline)
    if voices:
        lines = [f"{label}: {in_short(result, timeline)}", *(f"  {voice_line(v)}" for v in voices),
                 "  " + _("the whole clip, all voices mixed:")]
    else:
        relation = ">=" if result.speaker else "<"
        lines = [f"{label}: {in_short(result)} " + _("(best score {score:.3f} {relation} threshold "
                                                       "{threshold:.3f})").format(
            score=best.score, relation=relation, threshold=result.threshold)]
        if result.speaker and aliases:
            lines.append("  " + _("also known as: {aliases}").format(aliases=", ".join(aliases)))
    width = max(len(match.name) for match in result.matches)
    lines += [f"  {numerals.number(rank)}. {match.name:<{width}}  "
              + _("score {score:7.3f}  probability {probability:>8}").format(
                  score=match.score, probability=percent(match.probability))
              + ("" if match.llr is None else f"  log10 LR {match.llr:+5.1f}")
              for rank, match in enumerate(result.matches, start=1)]
    if best.llr is not None and not voices:
        lines.append("  " + _("evidence: {evidence}").format(evidence=evidence_line(best.llr)))
    return "\n".join(lines)


def describe_timeline(timeline: Timeline) -> str:
    """Who speaks when, a segment a line, then the totals: an enrolled name with its score and
    probability, a found voice with how surely its turns are one voice, an unknown stretch bare."""
    def numbers(segment: Segment) -> str:
        if segment.speaker is not None:
            return "  " + _("(score {score:.3f}, probability {probability})").format(
                score=segment.score, probability=percent(segment.probability))
        if segment.voice is not None and math.isfinite(segment.probability):
            return "  " + _("(nobody enrolled; one voice: {probability})").format(
                probability=percent(segment.probability))
        return ""

    lines = [f"  {clock(s.start_s)}-{clock(s.end_s)}  "
             f"{shown_voice(s.label) or _('unknown')}{numbers(s)}"
             for s in timeline.segments]
    lines.append("  " + _("speaking time: {times}").format(times=", ".join(
        f"{shown_voice(name) or _('unknown')} {clock(seconds)}"
        for name, seconds in timeline.speaking_time().items())))
    return "\n".join(lines)


# --- enroll / identify / verify -------------------------------------------------------------------
def add_enroll(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "enroll", run_enroll,
                         _("add a speaker to the gallery, or more clips to one"),
                         _("Add a speaker from one or more recordings (a new speaker needs at least "
                           "3 s of speech in total; 5-30 s works best), or add clips to a speaker."))
    parser.add_argument("--name", required=True,
                        help=_("the speaker's name; an enrolled speaker's name or alias, however spaced "
                               "or cased, adds the clips to them"))
    parser.add_argument("--gender", help=_("optional detail kept with the speaker"))
    parser.add_argument("--party", help=_("optional detail kept with the speaker"))
    parser.add_argument("--notes", help=_("optional free text kept with the speaker"))
    add_input_options(parser, _("audio files"))
    add_model_option(parser)
    add_gallery_option(parser)
    add_json_option(parser)


def run_enroll(args: argparse.Namespace) -> int:
    """Links are fetched first (a page's title and address are kept as the clip's source)."""
    from ..inputs import load_input

    inputs, span, limits = input_arguments(args)
    with download_bar() as progress:
        clips = [load_input(item, span, limits, progress) for item in inputs]
    with open_gallery(args) as gallery:
        info = gallery.enroll(args.name, clips, gender=args.gender, party=args.party,
                              notes=args.notes)
    emit(args, asdict(info),
         _("enrolled {name}: {count} clip(s), {seconds} s of speech").format(
             name=info.name, count=numerals.number(info.clips), seconds=numerals.number(info.seconds, ".1f")))
    return EXIT_OK


def add_identify(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "identify", run_identify, _("tell who is speaking in each file"),
                         _("Tell who is speaking in each file, each audio file under a folder and "
                           "each link. A file that fails is reported and the others go on (exit "
                           "status 2 if any failed). A clip of 20 s or more is also followed window "
                           "by window: when several voices each speak for 15 %% of it or more, the "
                           "verdict says so. --report writes one row per clip, failures included, "
                           "with the timeline's segments for clips of 20 s or more; --json prints "
                           "those rows."))
    add_input_options(parser, _("audio files or folders"))
    parser.add_argument("--top-k", type=positive_int, default=5, metavar="K",
                        help=_("how many ranked matches to show (default: 5)"))
    parser.add_argument("--report", type=Path, metavar="PATH",
                        help=_("also write one row per clip to PATH (.csv or .json): verdict, score, "
                               "probability, seconds of speech, error, timeline segments"))
    parser.add_argument("--timeline", action="store_true",
                        help=_("also print who speaks when, segment by segment, for clips of 20 s or "
                               "more (the JSON rows always have the segments)"))
    parser.add_argument("--trim-ends", action="store_true",
                        help=_("leave out the first and last minute of recordings over 5 minutes "
                               "(intros, applause); the verdict says what was left out"))
    parser.add_argument("--evidence", type=Path, metavar="DIR",
                        help=_("also write an evidence report for each clip identified into DIR: one "
                               "self-contained HTML page (prints to PDF) with the clip's sha256, the "
                               "verdict, figures, scores and the model's provenance"))
    add_model_option(parser)
    add_gallery_option(parser)
    add_json_option(parser)


def run_identify(args: argparse.Namespace) -> int:
    """Each input on its own: a refused one is reported and the others are still identified; the
    report, when asked for, has a row for every clip, and --json prints those very rows. A long
    recording is streamed (bounded memory), with a bar for each stage. A clip of 20 s or more
    always gets its timeline: the verdict says when several voices speak."""
    from ..app.batch import check_report_path, identify_batch, report_bytes, write_report

    inputs, span, limits = input_arguments(args)
    report = check_report_path(args.report) if args.report is not None else None
    if args.evidence is not None and args.evidence.exists() and not args.evidence.is_dir():
        raise SpeakerIDError(_("{path}: not a folder, so no evidence report can go there").format(
            path=args.evidence))
    results = []
    with (open_gallery(args) as gallery, download_bar() as downloading, stage_bars() as stages,
          progress_bar(_("identifying"), pgettext("progress unit", "file"), len(inputs) > 1) as progress):
        gallery.check_encoder()  # a gallery-wide refusal is said once, not once per file
        known_as = {info.name: info.aliases for info in gallery.speakers()}
        for result in identify_batch(inputs, gallery, args.top_k, span, limits, timeline=True,
                                     progress=progress, download_progress=downloading,
                                     stage_progress=stages, trim_ends=args.trim_ends):
            results.append(result)
            label = f"{result.input} ({result.title})" if result.title else result.input
            if result.error is not None:
                warn(result.error)
                if not args.json:
                    say(_("{label}: not identified ({problem})").format(label=label, problem=result.error))
            elif not args.json:
                say(describe(label, result.identification, result.timeline,
                             known_as.get(result.identification.speaker, ())))
                if result.left_out:
                    say(f"  {left_out_text(result.left_out)}")
                if args.timeline and result.timeline is not None:
                    say(describe_timeline(result.timeline))
        if args.evidence is not None:
            write_evidence_reports(args, inputs, results, gallery, span, limits)
    if args.json:
        say(report_bytes(results, ".json").decode().rstrip("\n"))
    if report is not None:
        write_report(results, report)
        if not args.json:
            say(_("wrote {count} row(s) to {path}").format(count=len(results), path=report))
    return EXIT_REFUSED if any(result.error is not None for result in results) else EXIT_OK


def write_evidence_reports(args: argparse.Namespace, inputs: list, results: list, gallery: Gallery,
                           span: Span, limits: FetchLimits) -> None:
    """An evidence report per clip identified (each analysed again, step by step, for its
    figures); a clip that fails here is warned about and the others still get theirs."""
    from ..app.evidence import evidence_for, evidence_html, write_evidence
    from ..inputs import expand

    for item, result in zip(expand(inputs), results):
        if result.error is not None:
            continue
        try:
            facts, findings = evidence_for(item, gallery, span, limits, args.trim_ends)
            path = write_evidence(evidence_html(facts, findings, gallery), args.evidence, result.input)
        except (SpeakerIDError, OSError) as exc:
            warn(_("{input}: no evidence report ({problem})").format(input=result.input, problem=exc))
            continue
        if not args.json:
            say(_("wrote the evidence report for {input} to {path}").format(input=result.input, path=path))


def add_timeline(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "timeline", run_timeline,
        _("who speaks when in a recording, with the voices nobody enrolled"),
        _("Identify a recording window by window and say who speaks when. Windows that match nobody "
          "enrolled are grouped by voice into Voice A, Voice B, ... (see speakerid.voices). "
          "--save-voices writes each found voice's segments as WAV files (enrol them later with: "
          "enroll --name NAME DIR/voice-a/*.wav); --enroll 'Voice A=Name' enrols a found voice at "
          "once from its segments."))
    parser.add_argument("file", type=Path, metavar="FILE", help=_("audio or video file"))
    parser.add_argument("--save-voices", type=Path, metavar="DIR",
                        help=_("write each found voice's segments to DIR/voice-a/, DIR/voice-b/, ..."))
    parser.add_argument("--enroll", action="append", default=[], type=voice_and_name,
                        metavar="VOICE=NAME",
                        help=_("enrol a found voice under NAME (repeatable), e.g. 'Voice A=Jane Doe'"))
    add_model_option(parser)
    add_gallery_option(parser)
    add_json_option(parser)


def voice_and_name(text: str) -> tuple[str, str]:
    """argparse type for --enroll: 'Voice A=Jane Doe' -> ('Voice A', 'Jane Doe')."""
    voice, _equals, name = text.partition("=")
    if not voice.strip() or not name.strip():
        raise argparse.ArgumentTypeError(
            _("expected VOICE=NAME, e.g. 'Voice A=Jane Doe', not {text!r}").format(text=text))
    return typed_voice(voice), name.strip()


def run_timeline(args: argparse.Namespace) -> int:
    from ..audio import load_audio
    from ..timeline import identify_timeline
    from ..voices import enroll_voice, find_voices, found_voices, save_voices

    with (open_gallery(args) as gallery,
          progress_bar(_("timeline"), pgettext("progress unit", "window")) as progress):
        gallery.check_encoder()
        clip = load_audio(args.file)
        timeline = find_voices(identify_timeline(
            gallery.encoder.prepare(clip), gallery.encoder, gallery,
            progress=progress, original_duration_s=clip.duration_s), gallery)
        voices = found_voices(timeline)
        missing = [voice for voice, _ in args.enroll if voice not in voices]
        if missing:  # refused before anything is written
            raise SpeakerIDError(_("{missing} not found in {file}; the voices found are: {voices}").format(
                missing=", ".join(map(shown_voice, missing)), file=args.file,
                voices=", ".join(map(shown_voice, voices)) or _("none")))
        saved = save_voices(clip, timeline, args.save_voices) if args.save_voices else {}
        enrolled = [enroll_voice(gallery, clip, timeline, voice, name) for voice, name in args.enroll]
    emit(args, {"file": str(args.file), "voices": voices,
                "saved": {voice: [str(p) for p in paths] for voice, paths in saved.items()},
                "enrolled": [asdict(info) for info in enrolled], **timeline.to_dict()},
         describe_found_voices(str(args.file), timeline, voices, saved, enrolled))
    return EXIT_OK


def describe_found_voices(label: str, timeline: Timeline, voices: list[str],
                          saved: dict[str, list[Path]], enrolled: list[SpeakerInfo]) -> str:
    """The timeline with the voices nobody enrolled, and what was saved or enrolled of them."""
    lines = [_("{label}: {seconds:.1f} s, {count} segment(s); voices nobody enrolled: {voices}").format(
        label=label, seconds=timeline.duration_s, count=len(timeline.segments),
        voices=", ".join(map(shown_voice, voices)) or _("none")), describe_timeline(timeline)]
    lines += [_("saved {voice}: {count} file(s) in {folder}").format(
        voice=shown_voice(voice), count=len(paths), folder=paths[0].parent) for voice, paths in saved.items()]
    lines += [_("enrolled {name}: {count} clip(s), {seconds:.1f} s of speech").format(
        name=info.name, count=info.clips, seconds=info.seconds) for info in enrolled]
    return "\n".join(lines)


def add_verify(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "verify", run_verify,
                         _("check whether a file is a given enrolled speaker"))
    parser.add_argument("--name", required=True,
                        help=_("the enrolled speaker to compare with (their name or an alias)"))
    parser.add_argument("file", type=Path, metavar="FILE", help=_("audio file"))
    add_model_option(parser)
    add_gallery_option(parser)
    add_json_option(parser)


def run_verify(args: argparse.Namespace) -> int:
    with open_gallery(args) as gallery:
        match = gallery.verify(args.file, args.name)
    threshold = match.threshold
    same = match.score >= threshold
    emit(args, {**asdict(match), "threshold": threshold, "same_speaker": same},
         _("{name}: {verdict} (score {score:.3f}, threshold {threshold:.3f}, probability {probability})")
         .format(name=match.name, verdict=_("same speaker") if same else _("different speaker"),
                 score=match.score, threshold=threshold,
                 probability=percent(match.probability)))
    return EXIT_OK


# --- gallery management -----------------------------------------------------------------------------
def add_gallery(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "gallery", None, _("list and manage the enrolled speakers"))
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for add in GALLERY_ACTIONS:
        add(actions)


def add_gallery_list(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "list", run_gallery_list, _("list the enrolled speakers"))
    add_gallery_option(parser)
    add_json_option(parser)


def run_gallery_list(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        speakers = gallery.speakers()
        clashes = gallery.name_clashes()
    if args.json:
        say(to_json([asdict(info) for info in speakers]))
    elif not speakers:
        say(_("the gallery is empty; enrol a speaker with: python -m speakerid enroll --name NAME FILE..."))
    else:
        say(format_table([_("name"), _("clips"), _("speech"), _("gender"), _("party"), _("also known as")],
                         [[s.name, numerals.number(s.clips),
                           numerals.digits(_("{seconds:.1f} s").format(seconds=s.seconds)),
                           s.gender or "", s.party or "", ", ".join(s.aliases)] for s in speakers]))
        for name, other in clashes:
            say(_("note: {name!r} and {other!r} are one name written two ways (kept apart from an "
                  "older gallery file); rename one with: python -m speakerid gallery rename")
                .format(name=name, other=other))
    return EXIT_OK


def add_gallery_rename(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "rename", run_gallery_rename, _("rename a speaker"))
    parser.add_argument("old", metavar="OLD", help=_("the speaker's name or one of their aliases"))
    parser.add_argument("new", metavar="NEW")
    add_gallery_option(parser)


def run_gallery_rename(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        info = gallery.rename(args.old, args.new)
    say(_("renamed {old} to {new}").format(old=args.old.strip(), new=info.name))
    return EXIT_OK


def add_gallery_remove(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "remove", run_gallery_remove,
                         _("delete a speaker with all their clips"))
    parser.add_argument("name", metavar="NAME", help=_("the speaker's name or one of their aliases"))
    parser.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    add_gallery_option(parser)


def run_gallery_remove(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        info = gallery.speaker(args.name)
        if not args.yes and not confirm(_("Remove {name} and their {count} clip(s)?").format(
                name=info.name, count=info.clips)):
            say(_("nothing removed"))
            return EXIT_CANCELLED
        gallery.remove(info.name)
    say(_("removed {name}").format(name=info.name))
    return EXIT_OK


def add_gallery_export(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "export", run_gallery_export,
                         _("write a consistent copy of the gallery to a file"))
    parser.add_argument("path", type=Path, metavar="PATH")
    add_gallery_option(parser)


def run_gallery_export(args: argparse.Namespace) -> int:
    with open_gallery(args, with_encoder=False) as gallery:
        target = gallery.export(args.path)
        count = len(gallery)
    say(_("exported {count} speaker(s) to {path}").format(count=numerals.number(count), path=target))
    return EXIT_OK


def add_gallery_import(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "import", run_gallery_import,
                         _("merge an exported gallery into this one (or replace this one)"),
                         _("Merge an exported gallery file into this gallery: new speakers are "
                           "added, same-named ones get the imported clips. Clips from another "
                           "model are re-enrolled from their stored audio."))
    parser.add_argument("path", type=Path, metavar="PATH")
    parser.add_argument("--replace", action="store_true",
                        help=_("replace this gallery's content instead of merging"))
    add_model_option(parser)
    add_gallery_option(parser)


def run_gallery_import(args: argparse.Namespace) -> int:
    with (open_gallery(args) as gallery,
          progress_bar(_("re-enrolling"), pgettext("progress unit", "clip")) as progress):
        imported = gallery.import_(args.path, replace=args.replace, progress=progress)
        count = len(gallery)
    say(_("imported {count} speaker(s); the gallery now has {total}").format(
        count=numerals.number(len(imported)), total=numerals.number(count)))
    return EXIT_OK


def add_gallery_import_folder(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "import-folder", run_gallery_import_folder,
                         _("enrol every speaker of a dataset folder"),
                         _("Enrol every speaker of a folder: one sub-folder of audio files per "
                           "speaker, or one audio file per speaker named after them (with an "
                           "optional CSV of name and gender). Refused speakers are reported and "
                           "skipped."))
    parser.add_argument("folder", type=Path, metavar="FOLDER")
    add_model_option(parser)
    add_gallery_option(parser)


def run_gallery_import_folder(args: argparse.Namespace) -> int:
    refused: list[str] = []

    def skip(name: str, error: SpeakerIDError) -> None:
        warn(f"{name}: {error}")
        refused.append(name)

    with (open_gallery(args) as gallery,
          progress_bar(_("enrolling"), pgettext("progress unit", "speaker")) as progress):
        enrolled = gallery.import_folder(args.folder, progress=progress, on_error=skip)
    say(_("enrolled {count} speaker(s)").format(count=numerals.number(len(enrolled)))
        + (_("; skipped {count}").format(count=numerals.number(len(refused))) if refused else ""))
    return EXIT_REFUSED if refused else EXIT_OK


def add_gallery_demo(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "demo", run_gallery_demo,
                         _("enrol the bundled demo voices, to try identification at once"),
                         _("Enrol the demo voices bundled in assets/demo (LibriSpeech readers, CC BY "
                           "4.0) under demo names; voices already enrolled are left as they are. "
                           "Then identify the example clips in assets/demo/examples: each names its "
                           "reader, except the one with 'unknown' in its name, whom nobody enrolled."))
    add_model_option(parser)
    add_gallery_option(parser)


def run_gallery_demo(args: argparse.Namespace) -> int:
    from ..demo import DEMO_DIR, enrol_demo

    with open_gallery(args) as gallery:
        done = enrol_demo(gallery)
    if done.enrolled:
        say(_("enrolled {count} demo voice(s): {names}").format(count=numerals.number(len(done.enrolled)),
                                                                  names=", ".join(done.enrolled)))
    if done.present:
        say(_("already enrolled: {names}").format(names=", ".join(done.present)))
    say(_("try: {command}").format(command=f"python -m speakerid identify {DEMO_DIR / 'examples'}"))
    return EXIT_OK


def add_gallery_reenroll(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "reenroll", run_gallery_reenroll,
                         _("re-embed every stored clip with the model given by --weights"),
                         _("Re-embed every stored clip with another model (after training a new "
                           "one), from the audio kept in the gallery; no recordings needed. A clip "
                           "the model's pipeline refuses is reported and kept, unused until a "
                           "model accepts it (exit status 2)."))
    add_model_option(parser)
    add_gallery_option(parser)


def run_gallery_reenroll(args: argparse.Namespace) -> int:
    encoder = load_encoder(args)
    refused: list[SpeakerIDError] = []
    with open_gallery(args, with_encoder=False) as gallery, \
            progress_bar(_("re-enrolling"), pgettext("progress unit", "clip")) as progress:
        clips = gallery.reenroll(encoder, progress=progress, on_refused=refusal_reporter(refused))
        count = len(gallery)
    say(_("re-enrolled {clips} clip(s) of {count} speaker(s) with {model}").format(
        clips=numerals.number(clips), count=numerals.number(count), model=encoder.encoder_id)
        + kept_note(refused))
    return EXIT_REFUSED if refused else EXIT_OK


def add_gallery_calibrate(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "calibrate", run_gallery_calibrate,
                         _("refit the threshold on the gallery's own voices"),
                         _("Compare every enrolled clip with every speaker (its own speaker without it) and "
                           "fit the threshold where 1 %% of different-speaker trials pass, on these voices "
                           "and channels instead of the model's held-out speakers. Needs 10 speakers with "
                           "two or more clips. Shows the change and what it does to the gallery's own clips "
                           "now and after; --apply uses it from now on (for the current model), --reset "
                           "goes back to the model's own calibration. A refit that misses more than 10 "
                           "points more same-speaker trials than the model's calibration, or whose "
                           "threshold the model reads as under 1 %% or over 99 %% likely, is refused "
                           "(exit status 2)."))
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help=_("use the refit threshold from now on"))
    action.add_argument("--reset", action="store_true", help=_("go back to the model's own calibration"))
    add_model_option(parser)
    add_gallery_option(parser)
    add_json_option(parser)


def run_gallery_calibrate(args: argparse.Namespace) -> int:
    from ..gallery.calibration import fit_gallery_calibration

    with open_gallery(args) as gallery:
        if args.reset:
            gallery.set_calibration(None)
            emit(args, {"threshold": gallery.calibration.threshold, "applied": False},
                 _("back to the model's calibration: threshold {threshold:.3f}").format(
                     threshold=gallery.calibration.threshold))
            return EXIT_OK
        refit = fit_gallery_calibration(gallery)
        applied = args.apply and refit.refusal is None
        if applied:
            refit.apply(gallery)
    if refit.refusal is not None:
        outcome = _("refused, not applied: {problem}").format(problem=refit.refusal)
    else:
        outcome = _("applied") if applied else _("not applied (pass --apply to use it)")
    emit(args, {"calibration": refit.calibration.to_dict(), "speakers": refit.speakers,
                "same_trials": refit.same_trials, "different_trials": refit.different_trials,
                "previous_threshold": refit.previous_threshold, "now": asdict(refit.now),
                "after": asdict(refit.after), "refused": refit.refusal, "applied": applied},
         f"{refit.summary()}\n{refit.change()}\n{outcome}")
    if args.apply and not applied:
        # exit status 2
        raise SpeakerIDError(_("the refit was not applied: {problem}").format(problem=refit.refusal))
    return EXIT_OK


GALLERY_ACTIONS: tuple[Callable[[Subparsers], None], ...] = (
    add_gallery_list, add_gallery_alias, add_gallery_rename, add_gallery_remove, add_gallery_export,
    add_gallery_import, add_gallery_import_folder, add_gallery_demo, add_gallery_reenroll,
    add_gallery_calibrate, add_gallery_history, add_gallery_undo)

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (add_enroll, add_identify, add_timeline, add_verify,
                                                      add_gallery)
"""The top-level sub-commands, in the order ``--help`` lists them."""
