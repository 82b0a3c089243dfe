"""Gallery: the enrolled speakers; enrol, add clips, edit, remove, import and export; the history of
changes, each of which can be undone."""

from __future__ import annotations

import dataclasses
import io
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, numerals, paths
from speakerid.app.accounts import EDITOR
from speakerid.app.unzip import extract_zip
from speakerid.audio import AudioClip
from speakerid.datasets import discover
from speakerid.gallery import name_key
from speakerid.i18n import N_, _, translator
from speakerid_ui.history_view import history_view

if TYPE_CHECKING:
    from speakerid.fetch import FetchedAudio
    from speakerid.gallery import Gallery, SpeakerInfo
    from speakerid.models.encoder import Encoder

GENDERS = ["", N_("female"), N_("male"), N_("other")]  # stored in English, shown through _
AUDIO_MODES = [N_("Upload files"), N_("From a link"), N_("Record now")]
IMPORT_KINDS = [N_("A folder on this computer"), N_("A zip archive")]
IMPORT_WAYS = [N_("Merge with the current gallery"), N_("Replace the current gallery")]


def done(message: str, round_: int) -> None:
    """Report a change and redraw the page with fresh, empty forms."""
    ui.flash(message)
    st.session_state["gallery_round"] = round_ + 1
    st.rerun()


# --- overview ---------------------------------------------------------------------------------
def overview(speakers: list[SpeakerInfo], clashes: list[tuple[str, str]]) -> None:
    """How many speakers, clips and seconds of speech; the list, searchable by any of a speaker's
    names; names that are one name written two ways, to rename."""
    cols = st.columns(3)
    cols[0].metric(_("Speakers"), numerals.number(len(speakers)))
    cols[1].metric(_("Clips"), numerals.number(sum(s.clips for s in speakers)))
    cols[2].metric(_("Speech"), ui.seconds(sum(s.seconds for s in speakers)))
    for name, other in clashes:
        st.warning(_("**{name}** and **{other}** are one name written two ways (kept apart when an older "
                     "gallery file was opened). Rename one under *Edit or remove*.")
                   .format(name=ui.md(name), other=ui.md(other)), icon=":material/group:")
    if not speakers:
        ui.onboarding("gallery")
    else:
        query = st.text_input(_("Search"), placeholder=_("Search by name, alias, party or notes"),
                              label_visibility="collapsed", key="gallery_search")
        shown = [s for s in speakers if matches(query, s)]
        also = _("Also known as")
        st.dataframe(
            [{_("Name"): s.name, also: ", ".join(s.aliases), _("Gender"): _(s.gender) if s.gender else "",
              _("Party"): s.party or "", _("Notes"): s.notes or "", _("Clips"): s.clips,
              _("Speech (s)"): round(s.seconds, 1)} for s in shown],
            hide_index=True, width="stretch",
            column_config={_("Speech (s)"): st.column_config.NumberColumn(format="%.1f"),
                           _("Notes"): st.column_config.TextColumn(width="large")})


def matches(query: str, speaker: SpeakerInfo) -> bool:
    """Whether the search box's text is in any of the speaker's names or details (spaces, case
    and Unicode form aside, as names are matched)."""
    fields = (speaker.name, *speaker.aliases, speaker.party, speaker.notes, speaker.gender)
    return name_key(query) in name_key(" ".join(x for x in fields if x))


# --- audio input shared by enrolment and adding clips -----------------------------------------
def audio_inputs(prefix: str, min_total_s: float, encoder: Encoder, round_: int
                 ) -> tuple[list[AudioClip | FetchedAudio], bool]:
    """Uploads, a web link or a recording, each checked for speech as soon as it arrives.

    Returns the usable clips and whether they hold enough speech together.
    """
    # TensorFlow: imported once the model (which loads it in the background) is there, after the title.
    from speakerid.app.analysis import ENROL_MIN_SPEECH_S, speech_check

    mode = st.radio(_("Audio"), AUDIO_MODES, horizontal=True, format_func=translator(),
                    key=f"{prefix}_mode_{round_}")
    recording = mode == "Record now"
    if mode == "From a link":
        return link_clip(f"{prefix}_{round_}", min_total_s, encoder)
    if recording:
        recorded = st.audio_input(_("Record 5 to 30 seconds of the person speaking"),
                                  key=f"{prefix}_record_{round_}")
        files = [recorded] if recorded is not None else []
    else:
        files = st.file_uploader(_("Audio files (one or more clips of this person alone)"),
                                 type=ui.AUDIO_TYPES, accept_multiple_files=True,
                                 key=f"{prefix}_upload_{round_}") or []
    checks = st.session_state.setdefault("_speech_checks", {})
    clips, total = [], 0.0
    for uploaded in files:
        clip = ui.decode(uploaded)
        if clip is None:
            continue
        if recording:
            clip = dataclasses.replace(clip, name=f"recording-{time.strftime('%Y%m%d-%H%M%S')}.wav")
        key = ui.digest(uploaded.getvalue(), str(recording))
        if key not in checks:
            checks[key] = speech_check(clip, encoder, ENROL_MIN_SPEECH_S if recording else 1.0,
                                       recording=recording)
        check = checks[key]
        label = _("Recording") if recording else f"**{ui.md(uploaded.name)}**"
        if check.ok:
            st.success(f"{label}: {check.message}", icon=":material/graphic_eq:")
            clips.append(clip)
            total += check.speech_s
        else:
            st.warning(f"{label}: {check.message}", icon=":material/warning:")
    enough = bool(clips) and total >= min_total_s
    if clips and not recording and len(clips) > 1:
        st.caption(_("Together: {duration} of speech in {count} clips.").format(
            duration=ui.seconds(total), count=numerals.number(len(clips))))
    if clips and not enough:
        st.info(_("{duration} of speech so far; at least {needed} s is needed.").format(
            duration=ui.seconds(total), needed=numerals.number(min_total_s, ".0f")), icon=":material/info:")
    return clips, enough


def link_clip(prefix: str, min_total_s: float, encoder: Encoder) -> tuple[list[FetchedAudio], bool]:
    """The audio of a link (its page's title and address are kept as the clip's source), checked
    for speech like an upload."""
    from speakerid.app.analysis import speech_check

    fetched = ui.link_input(prefix)
    if fetched is None:
        return [], False
    checks = st.session_state.setdefault("_speech_checks", {})
    key = ui.digest(fetched.url, str(fetched.clip.samples.shape),
                    fetched.clip.samples[:fetched.clip.sample_rate].tobytes())
    if key not in checks:
        checks[key] = speech_check(fetched.clip, encoder, 1.0)
    check = checks[key]
    label = f"[{ui.md(fetched.title)}]({fetched.url})"
    if not check.ok:
        st.warning(f"{label}: {check.message}", icon=":material/warning:")
        return [], False
    st.success(f"{label}: {check.message}", icon=":material/graphic_eq:")
    if check.speech_s < min_total_s:
        st.info(_("{duration} of speech; at least {needed} s is needed.").format(
            duration=ui.seconds(check.speech_s), needed=numerals.number(min_total_s, ".0f")),
            icon=":material/info:")
    return [fetched], check.speech_s >= min_total_s


def details_inputs(prefix: str, info=None) -> dict[str, str | None]:
    cols = st.columns([1, 2])
    current = info.gender if info and info.gender else ""
    options = GENDERS if current in GENDERS else [*GENDERS, current]
    shown = translator()  # format_func: any thread
    gender = cols[0].selectbox(_("Gender (optional)"), options, index=options.index(current),
                               format_func=lambda g: shown(g) if g else "—", key=f"{prefix}_gender")
    party = cols[1].text_input(_("Party or organisation (optional)"),
                               value=(info.party or "") if info else "", key=f"{prefix}_party")
    notes = st.text_area(_("Notes (optional)"), value=(info.notes or "") if info else "", height=80,
                         key=f"{prefix}_notes")
    return {"gender": gender or None, "party": party.strip() or None, "notes": notes.strip() or None}


def run_enrolment(name: str, clips: list[AudioClip | FetchedAudio], details: dict[str, str | None],
                  verb: str, gallery: Gallery, round_: int) -> None:
    with st.status(verb.format(name=name), expanded=False) as status:
        try:
            info = gallery.enroll(name, clips, **details)
        except SpeakerIDError as exc:
            status.update(label=_("Nothing was saved"), state="error")
            st.error(str(exc), icon=":material/error:")
            return
        status.update(label=_("Saved"), state="complete")
    done(_("**{name}** now has {count} clip(s), {duration} of speech.").format(
        name=ui.md(info.name), count=numerals.number(info.clips), duration=ui.seconds(info.seconds)), round_)


# --- enrol a new speaker ----------------------------------------------------------------------
def enrol_speaker(encoder: Encoder, gallery: Gallery, round_: int) -> None:
    """A name, optional details and enough speech; a known name gets the clips added."""
    from speakerid.app.analysis import ENROL_MIN_SPEECH_S

    name = st.text_input(_("Name"), placeholder=_("e.g. Pushpa Kamal Dahal"),
                         key=f"enrol_name_{round_}").strip()
    details = details_inputs(f"enrol_{round_}")
    clips, enough = audio_inputs("enrol", ENROL_MIN_SPEECH_S, encoder, round_)
    known = known_speaker(gallery, name)
    if known is not None:
        st.info(_("**{name}** is already enrolled: these clips will be added to them.")
                .format(name=ui.md(known.name)), icon=":material/info:")
    ready = bool(name) and enough
    if st.button(_("Enrol {name}").format(name=name) if name else _("Enrol"), type="primary",
                 disabled=not ready, key=f"enrol_go_{round_}",
                 help=None if ready else _("Give a name and enough speech first")):
        run_enrolment(name, clips, details, _("Enrolling {name}…"), gallery, round_)


def known_speaker(gallery: Gallery, name: str) -> SpeakerInfo | None:
    """The speaker a typed name or alias already names (spaced or cased otherwise), if any."""
    if not name:
        return None
    try:
        return gallery.find_speaker(name)
    except SpeakerIDError:
        return None  # not a valid name: enrolling says why


# --- add clips to an existing speaker ----------------------------------------------------------
def add_clips(encoder: Encoder, gallery: Gallery, names: list[str], round_: int) -> None:
    """More clips for someone enrolled."""
    if not names:
        st.caption(_("Enrol a speaker first."))
    else:
        target = st.selectbox(_("Speaker"), names, key="add_speaker")
        clips, enough = audio_inputs("add", 1.0, encoder, round_)
        if st.button(_("Add to {name}").format(name=target), type="primary", disabled=not enough,
                     key=f"add_go_{round_}"):
            run_enrolment(target, clips, {}, _("Adding clips to {name}…"), gallery, round_)


# --- edit or remove ---------------------------------------------------------------------------
def edit_or_remove(gallery: Gallery, speakers: list[SpeakerInfo], names: list[str], round_: int) -> None:
    """A speaker's name and details, their clips to listen to, and their removal (confirmed)."""
    if not names:
        st.caption(_("Enrol a speaker first."))
    else:
        chosen = st.selectbox(_("Speaker"), names, key="edit_speaker")
        info = next(s for s in speakers if s.name == chosen)
        st.caption(_("{count} clip(s), {duration} of speech").format(
            count=numerals.number(info.clips), duration=ui.seconds(info.seconds)))
        new_name = st.text_input(_("Name"), value=info.name, key=f"edit_name_{chosen}_{round_}").strip()
        aliases = st.text_area(
            _("Also known as (one name per line)"), value="\n".join(info.aliases), height=80,
            key=f"edit_aliases_{chosen}_{round_}",
            help=_("Other spellings and scripts of the name (\"Prachanda\", \"प्रचण्ड\"): searching, "
                   "the archive and the command line find the speaker by any of them."))
        details = details_inputs(f"edit_{chosen}_{round_}", info)
        if st.button(_("Save changes"), type="primary", key=f"edit_save_{round_}"):
            try:
                gallery.set_aliases(info.name, [line for line in aliases.splitlines() if line.strip()])
                if new_name != info.name:
                    gallery.rename(info.name, new_name)
                gallery.update(new_name, **details)
            except SpeakerIDError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                done(_("Saved **{name}**.").format(name=ui.md(new_name)), round_)
        with st.expander(_("Listen to the enrolment clips")):
            enrolment_clips(gallery, info)
        st.divider()
        if st.session_state.get("confirm_remove") == info.name:
            st.warning(_("Remove **{name}** and their {count} clip(s)? The History tab can undo it.").format(
                name=ui.md(info.name), count=numerals.number(info.clips)), icon=":material/delete_forever:")
            yes, no = st.columns(2)
            if yes.button(_("Yes, remove"), type="primary", key="remove_yes", width="stretch"):
                st.session_state.pop("confirm_remove", None)
                try:
                    gallery.remove(info.name)
                except SpeakerIDError as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    done(_("Removed **{name}**.").format(name=ui.md(info.name)), round_)
            if no.button(_("Cancel"), key="remove_cancel", width="stretch"):
                st.session_state.pop("confirm_remove", None)
                st.rerun()
        elif st.button(_("Remove {name}…").format(name=info.name), icon=":material/delete:",
                       key="remove_ask"):
            st.session_state["confirm_remove"] = info.name
            st.rerun()


def enrolment_clips(gallery: Gallery, info: SpeakerInfo) -> None:
    """Players for a speaker's first ten enrolment clips, each with where it came from."""
    try:
        stored = gallery.clip_audio(info.name)
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        stored = []
    for clip, source in zip(stored[:10], gallery.clip_sources(info.name)):
        st.caption(f":material/link: [{ui.md(source.source)}]({source.url})" if source.url
                   else ui.md(source.source))
        st.audio(clip.samples[:, 0], sample_rate=clip.sample_rate)


def listen(gallery: Gallery, speakers: list[SpeakerInfo], names: list[str]) -> None:
    """A speaker's enrolment clips, for someone who may not change the gallery."""
    if not names:
        return
    chosen = st.selectbox(_("Listen to a speaker's enrolment clips"), names, key="listen_speaker")
    enrolment_clips(gallery, next(s for s in speakers if s.name == chosen))


# --- import a dataset folder ------------------------------------------------------------------
def import_folder(folder: Path, gallery: Gallery, round_: int) -> None:
    bar = st.progress(0.0, text=_("Enrolling…"))
    skipped: list[tuple[str, str]] = []

    def progress(count: int, total: int) -> None:
        bar.progress(count / max(total, 1), text=_("Enrolling speaker {done} of {total}…").format(
            done=numerals.number(count), total=numerals.number(total)))

    try:
        enrolled = gallery.import_folder(folder, progress=progress,
                                         on_error=lambda who, exc: skipped.append((who, str(exc))))
    except SpeakerIDError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return
    bar.empty()
    for who, why in skipped:
        ui.flash(_("Skipped **{name}**: {problem}").format(name=ui.md(who), problem=why), "warning")
    done(_("Imported {count} speaker(s) from {source}.").format(
        count=numerals.number(len(enrolled)), source=ui.md(folder.name)), round_)


def import_a_folder(gallery: Gallery, round_: int) -> None:
    """Many speakers at once, from a server folder or a zip archive."""
    st.markdown(_("Enrol many speakers at once from a folder in either training-set layout:\n"
                  "- **one folder per speaker**: `Name/clip1.wav`, `Name/clip2.mp3`, …\n"
                  "- **one file per speaker**: `Name.mp3`, with an optional CSV of `name,gender`."))
    kind = st.radio(_("From"), IMPORT_KINDS, horizontal=True, format_func=translator(), key="import_kind")
    if kind == IMPORT_KINDS[0]:
        typed = st.text_input(_("Folder"), placeholder=str(paths.data_roots()[0] / "speakers"),
                              key="import_folder", help=ui.data_roots_help()).strip()
        if typed:
            try:
                folder = paths.inside_data_roots(typed)
                found = discover(folder)
            except SpeakerIDError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                preview = ", ".join(s.name for s in found[:8]) + (" …" if len(found) > 8 else "")
                st.success(_("Found {count} speaker(s): {names}").format(
                    count=numerals.number(len(found)), names=ui.md(preview)), icon=":material/folder:")
                if st.button(_("Import {count} speaker(s)").format(count=numerals.number(len(found))),
                             type="primary", key="import_go"):
                    import_folder(folder, gallery, round_)
    else:
        archive = st.file_uploader(_("Zip archive of the folder"), type=["zip"], key=f"import_zip_{round_}")
        if archive is not None and st.button(_("Unpack and import"), type="primary", key="import_zip_go"):
            stamp = time.strftime("%Y%m%d-%H%M%S")
            target = paths.home() / "imports" / f"{Path(archive.name).stem[:40]}-{stamp}"
            try:
                folder = extract_zip(archive.getvalue(), target)
                found = discover(folder)
            except SpeakerIDError as exc:
                st.error(f"{ui.md(archive.name)}: {exc}", icon=":material/error:")
            else:
                st.caption(_("{count} speaker(s) in the archive").format(count=numerals.number(len(found))))
                import_folder(folder, gallery, round_)


# --- move the gallery between computers -------------------------------------------------------
def exported(gallery: Gallery) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return gallery.export(Path(folder) / "gallery.sqlite").read_bytes()


def export_or_import(gallery: Gallery, speakers: list[SpeakerInfo], round_: int) -> None:
    """The whole gallery as one file, out and in (merged or replacing)."""
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**{}**".format(_("Export")))
        st.caption(_("One file with every speaker, their details, recordings and voiceprints."))
        st.download_button(_("Download the gallery"), data=lambda: io.BytesIO(exported(gallery)),
                           file_name=f"speakerid-gallery-{time.strftime('%Y%m%d')}.sqlite",
                           mime="application/vnd.sqlite3", icon=":material/download:",
                           disabled=not speakers, on_click="ignore", key="export")
    with right:
        st.markdown("**{}**".format(_("Import")))
        upload = st.file_uploader(_("Gallery file (.sqlite)"), type=["sqlite", "sqlite3", "db"],
                                  key=f"import_file_{round_}")
        how = st.radio(_("How"), IMPORT_WAYS, format_func=translator(), key="import_how")
        replace = how == IMPORT_WAYS[1]
        confirmed = (not replace or not speakers or
                     st.checkbox(_("I understand this deletes the {count} speaker(s) enrolled now").format(
                         count=numerals.number(len(speakers))), key="import_replace_ok"))
        if upload is not None and st.button(_("Import the gallery"), type="primary", disabled=not confirmed,
                                             key="import_file_go"):
            bar = st.progress(0.0, text=_("Checking the file…"))
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "import.sqlite"
                path.write_bytes(upload.getvalue())
                try:
                    imported = gallery.import_(path, replace=replace, progress=lambda d, t: bar.progress(
                        d / max(t, 1), text=_("Re-enrolling clip {done} of {total} with the current model…")
                        .format(done=numerals.number(d), total=numerals.number(t))))
                except SpeakerIDError as exc:
                    bar.empty()
                    st.error(str(exc).replace(str(path), upload.name), icon=":material/error:")
                else:
                    bar.empty()
                    done(_("Imported {count} speaker(s) from {source}.").format(
                        count=numerals.number(len(imported)), source=ui.md(upload.name)), round_)


# --- refit the threshold on these voices ---------------------------------------------------------
def calibrate(gallery: Gallery, round_: int) -> None:
    """The threshold refit on this gallery's own voices, or back to the model's."""
    from speakerid.gallery.calibration import (
        MIN_SPEAKERS_WITH_TWO_CLIPS,
        PRIOR_TRIALS,
        fit_gallery_calibration,
    )

    st.caption(_(
        "The model's threshold was set on speakers from its training corpora (Indian telephone speech, "
        "American audiobooks). Your voices come through other microphones, channels and languages. Once "
        "{count} or more speakers have two clips or more, their clips are tests "
        "with known answers: each clip is compared with every speaker, as a new clip would be, and the "
        "threshold is set where one in a hundred comparisons with the wrong speaker passes, the model's "
        "own counting as {prior} comparisons more: a small gallery moves it a little, a large one most of "
        "the way. Only clips of full length are refit; short clips keep the model's own thresholds. A refit "
        "that would miss more than 10 points more of the speakers' own clips than the model does, or whose "
        "threshold the model gives a likelihood under 1%, or over 99%, is shown but cannot be used.").format(
            count=numerals.number(MIN_SPEAKERS_WITH_TWO_CLIPS), prior=numerals.number(PRIOR_TRIALS)))
    current = gallery.calibration
    own = current is not gallery.encoder.calibration
    st.markdown(_("Threshold in use: **{threshold:.2f}** ({whose}).").format(
        threshold=current.threshold, whose=_("refit on this gallery") if own else _("the model’s own")))
    if st.button(_("Refit on this gallery"), key="calibrate_fit", icon=":material/tune:"):
        try:
            st.session_state["calibrate_refit"] = fit_gallery_calibration(gallery)
        except SpeakerIDError as exc:
            st.warning(str(exc), icon=":material/info:")
    refit = st.session_state.get("calibrate_refit")
    if refit is not None:
        st.info(refit.summary(), icon=":material/insights:")
        st.markdown(refit.change())
        if refit.refusal is not None:
            st.error(_("This refit cannot be used: {problem}.").format(problem=refit.refusal),
                     icon=":material/block:")
        elif st.button(_("Use this threshold"), type="primary", key="calibrate_apply"):
            refit.apply(gallery)
            del st.session_state["calibrate_refit"]
            done(_("Threshold {threshold:.2f} is in use for this gallery.").format(
                threshold=refit.calibration.threshold), round_)
    if own and st.button(_("Back to the model's threshold"), key="calibrate_reset"):
        gallery.set_calibration(None)
        done(_("The model's own threshold is in use again."), round_)


def main() -> None:
    """The page: title, overview, then one tab per task."""
    ui.ensure_app_frame()
    st.title(_("Gallery"))
    st.caption(_("Everyone the app can recognise. Each speaker keeps their recordings, so the gallery can "
                 "be re-enrolled automatically when the model changes."))
    ui.show_flash()

    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)

    speakers = gallery.speakers()
    names = [s.name for s in speakers]
    round_ = st.session_state.setdefault("gallery_round", 0)  # bumped to reset the forms after a change
    overview(speakers, gallery.name_clashes())
    if not ui.may(EDITOR):  # a viewer: nothing that changes the gallery is drawn, so none of it runs
        listen(gallery, speakers, names)
        st.caption(_("Enrolling, editing and removing speakers is for editors and admins."))
        with st.expander(":material/history: " + _("History")):
            history_view(gallery, may_undo=False, done=lambda message: done(message, round_))
        return

    enrol_tab, add_tab, edit_tab, folder_tab, file_tab, calibrate_tab, history_tab = st.tabs(
        [":material/person_add: " + _("Enrol a speaker"), ":material/library_add: " + _("Add clips"),
         ":material/edit: " + _("Edit or remove"), ":material/folder_open: " + _("Import a folder"),
         ":material/swap_vert: " + _("Export / import"), ":material/tune: " + _("Calibrate"),
         ":material/history: " + _("History")])
    with enrol_tab:
        enrol_speaker(encoder, gallery, round_)
    with add_tab:
        add_clips(encoder, gallery, names, round_)
    with edit_tab:
        edit_or_remove(gallery, speakers, names, round_)
    with folder_tab:
        import_a_folder(gallery, round_)
    with file_tab:
        export_or_import(gallery, speakers, round_)
    with calibrate_tab:
        calibrate(gallery, round_)
    with history_tab:
        history_view(gallery, may_undo=True, done=lambda message: done(message, round_))


main()
