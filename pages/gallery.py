"""Gallery: the enrolled speakers; enrol, add clips, edit, remove, import and export."""

from __future__ import annotations

import dataclasses
import io
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, paths
from speakerid.app.accounts import EDITOR
from speakerid.app.unzip import extract_zip
from speakerid.audio import AudioClip
from speakerid.datasets import discover
from speakerid.i18n import _

if TYPE_CHECKING:
    from speakerid.fetch import FetchedAudio
    from speakerid.gallery import Gallery, SpeakerInfo
    from speakerid.models.encoder import Encoder

GENDERS = ["", "female", "male", "other"]


def done(message: str, round_: int) -> None:
    """Report a change and redraw the page with fresh, empty forms."""
    ui.flash(message)
    st.session_state["gallery_round"] = round_ + 1
    st.rerun()


# --- overview ---------------------------------------------------------------------------------
def overview(speakers: list[SpeakerInfo]) -> None:
    """How many speakers, clips and seconds of speech; the list, searchable."""
    cols = st.columns(3)
    cols[0].metric("Speakers", len(speakers))
    cols[1].metric("Clips", sum(s.clips for s in speakers))
    cols[2].metric("Speech", ui.seconds(sum(s.seconds for s in speakers)))
    if not speakers:
        ui.onboarding("gallery")
    else:
        query = st.text_input("Search", placeholder="Search by name, party or notes",
                              label_visibility="collapsed", key="gallery_search")
        shown = [s for s in speakers if not query or query.casefold() in
                 " ".join(x for x in (s.name, s.party or "", s.notes or "", s.gender or "") if x).casefold()]
        st.dataframe(
            [{"Name": s.name, "Gender": s.gender or "", "Party": s.party or "", "Notes": s.notes or "",
              "Clips": s.clips, "Speech (s)": round(s.seconds, 1)} for s in shown],
            hide_index=True, width="stretch",
            column_config={"Speech (s)": st.column_config.NumberColumn(format="%.1f s"),
                           "Notes": st.column_config.TextColumn(width="large")})


# --- audio input shared by enrolment and adding clips -----------------------------------------
def audio_inputs(prefix: str, min_total_s: float, encoder: Encoder, round_: int
                 ) -> tuple[list[AudioClip | FetchedAudio], bool]:
    """Uploads, a web link or a recording, each checked for speech as soon as it arrives.

    Returns the usable clips and whether they hold enough speech together.
    """
    # TensorFlow: imported once the model (which loads it in the background) is there, after the title.
    from speakerid.app.analysis import ENROL_MIN_SPEECH_S, speech_check

    mode = st.radio("Audio", ["Upload files", "From a link", "Record now"], horizontal=True,
                    key=f"{prefix}_mode_{round_}")
    recording = mode == "Record now"
    if mode == "From a link":
        return link_clip(f"{prefix}_{round_}", min_total_s, encoder)
    if recording:
        recorded = st.audio_input("Record 5 to 30 seconds of the person speaking",
                                  key=f"{prefix}_record_{round_}")
        files = [recorded] if recorded is not None else []
    else:
        files = st.file_uploader("Audio files (one or more clips of this person alone)",
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
        label = "Recording" if recording else f"**{ui.md(uploaded.name)}**"
        if check.ok:
            st.success(f"{label}: {check.message}", icon=":material/graphic_eq:")
            clips.append(clip)
            total += check.speech_s
        else:
            st.warning(f"{label}: {check.message}", icon=":material/warning:")
    enough = bool(clips) and total >= min_total_s
    if clips and not recording and len(clips) > 1:
        st.caption(f"Together: {ui.seconds(total)} of speech in {len(clips)} clips.")
    if clips and not enough:
        st.info(f"{ui.seconds(total)} of speech so far; at least {min_total_s:.0f} s is needed.",
                icon=":material/info:")
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
        st.info(f"{ui.seconds(check.speech_s)} of speech; at least {min_total_s:.0f} s is needed.",
                icon=":material/info:")
    return [fetched], check.speech_s >= min_total_s


def details_inputs(prefix: str, info=None) -> dict[str, str | None]:
    cols = st.columns([1, 2])
    current = info.gender if info and info.gender else ""
    options = GENDERS if current in GENDERS else [*GENDERS, current]
    gender = cols[0].selectbox("Gender (optional)", options, index=options.index(current),
                               format_func=lambda g: g or "—", key=f"{prefix}_gender")
    party = cols[1].text_input("Party or organisation (optional)", value=(info.party or "") if info else "",
                               key=f"{prefix}_party")
    notes = st.text_area("Notes (optional)", value=(info.notes or "") if info else "", height=80,
                         key=f"{prefix}_notes")
    return {"gender": gender or None, "party": party.strip() or None, "notes": notes.strip() or None}


def run_enrolment(name: str, clips: list[AudioClip | FetchedAudio], details: dict[str, str | None],
                  verb: str, gallery: Gallery, round_: int) -> None:
    with st.status(f"{verb} {name}…", expanded=False) as status:
        try:
            info = gallery.enroll(name, clips, **details)
        except SpeakerIDError as exc:
            status.update(label="Nothing was saved", state="error")
            st.error(str(exc), icon=":material/error:")
            return
        status.update(label="Saved", state="complete")
    done(f"**{ui.md(info.name)}** now has {info.clips} clip(s), {ui.seconds(info.seconds)} of speech.",
         round_)


# --- enrol a new speaker ----------------------------------------------------------------------
def enrol_speaker(encoder: Encoder, gallery: Gallery, names: list[str], round_: int) -> None:
    """A name, optional details and enough speech; a known name gets the clips added."""
    from speakerid.app.analysis import ENROL_MIN_SPEECH_S

    name = st.text_input("Name", placeholder="e.g. Pushpa Kamal Dahal", key=f"enrol_name_{round_}").strip()
    details = details_inputs(f"enrol_{round_}")
    clips, enough = audio_inputs("enrol", ENROL_MIN_SPEECH_S, encoder, round_)
    if name and name in names:
        st.info(f"**{ui.md(name)}** is already enrolled: these clips will be added to them.",
                icon=":material/info:")
    ready = bool(name) and enough
    if st.button(f"Enrol {name}" if name else "Enrol", type="primary", disabled=not ready,
                 key=f"enrol_go_{round_}", help=None if ready else "Give a name and enough speech first"):
        run_enrolment(name, clips, details, "Enrolling", gallery, round_)


# --- add clips to an existing speaker ----------------------------------------------------------
def add_clips(encoder: Encoder, gallery: Gallery, names: list[str], round_: int) -> None:
    """More clips for someone enrolled."""
    if not names:
        st.caption("Enrol a speaker first.")
    else:
        target = st.selectbox("Speaker", names, key="add_speaker")
        clips, enough = audio_inputs("add", 1.0, encoder, round_)
        if st.button(f"Add to {target}", type="primary", disabled=not enough, key=f"add_go_{round_}"):
            run_enrolment(target, clips, {}, "Adding clips to", gallery, round_)


# --- edit or remove ---------------------------------------------------------------------------
def edit_or_remove(gallery: Gallery, speakers: list[SpeakerInfo], names: list[str], round_: int) -> None:
    """A speaker's name and details, their clips to listen to, and their removal (confirmed)."""
    if not names:
        st.caption("Enrol a speaker first.")
    else:
        chosen = st.selectbox("Speaker", names, key="edit_speaker")
        info = next(s for s in speakers if s.name == chosen)
        st.caption(f"{info.clips} clip(s), {ui.seconds(info.seconds)} of speech")
        new_name = st.text_input("Name", value=info.name, key=f"edit_name_{chosen}_{round_}").strip()
        details = details_inputs(f"edit_{chosen}_{round_}", info)
        if st.button("Save changes", type="primary", key=f"edit_save_{round_}"):
            try:
                if new_name != info.name:
                    gallery.rename(info.name, new_name)
                gallery.update(new_name, **details)
            except SpeakerIDError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                done(f"Saved **{ui.md(new_name)}**.", round_)
        with st.expander("Listen to the enrolment clips"):
            enrolment_clips(gallery, info)
        st.divider()
        if st.session_state.get("confirm_remove") == info.name:
            st.warning(f"Remove **{ui.md(info.name)}** and their {info.clips} clip(s)? This cannot be "
                       "undone.", icon=":material/delete_forever:")
            yes, no = st.columns(2)
            if yes.button("Yes, remove", type="primary", key="remove_yes", width="stretch"):
                st.session_state.pop("confirm_remove", None)
                try:
                    gallery.remove(info.name)
                except SpeakerIDError as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    done(f"Removed **{ui.md(info.name)}**.", round_)
            if no.button("Cancel", key="remove_cancel", width="stretch"):
                st.session_state.pop("confirm_remove", None)
                st.rerun()
        elif st.button(f"Remove {info.name}…", icon=":material/delete:", key="remove_ask"):
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
    bar = st.progress(0.0, text="Enrolling…")
    skipped: list[tuple[str, str]] = []

    def progress(count: int, total: int) -> None:
        bar.progress(count / max(total, 1), text=f"Enrolling speaker {count} of {total}…")

    try:
        enrolled = gallery.import_folder(folder, progress=progress,
                                         on_error=lambda who, exc: skipped.append((who, str(exc))))
    except SpeakerIDError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return
    bar.empty()
    for who, why in skipped:
        ui.flash(f"Skipped **{ui.md(who)}**: {why}", "warning")
    done(f"Imported {len(enrolled)} speaker(s) from {ui.md(folder.name)}.", round_)


def import_a_folder(gallery: Gallery, round_: int) -> None:
    """Many speakers at once, from a server folder or a zip archive."""
    st.markdown("Enrol many speakers at once from a folder in either training-set layout:\n"
                "- **one folder per speaker**: `Name/clip1.wav`, `Name/clip2.mp3`, …\n"
                "- **one file per speaker**: `Name.mp3`, with an optional CSV of `name,gender`.")
    kind = st.radio("From", ["A folder on this computer", "A zip archive"], horizontal=True,
                    key="import_kind")
    if kind == "A folder on this computer":
        typed = st.text_input("Folder", placeholder=str(paths.data_roots()[0] / "speakers"),
                              key="import_folder", help=ui.data_roots_help()).strip()
        if typed:
            try:
                folder = paths.inside_data_roots(typed)
                found = discover(folder)
            except SpeakerIDError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                preview = ", ".join(s.name for s in found[:8]) + (" …" if len(found) > 8 else "")
                st.success(f"Found {len(found)} speaker(s): {ui.md(preview)}", icon=":material/folder:")
                if st.button(f"Import {len(found)} speaker(s)", type="primary", key="import_go"):
                    import_folder(folder, gallery, round_)
    else:
        archive = st.file_uploader("Zip archive of the folder", type=["zip"], key=f"import_zip_{round_}")
        if archive is not None and st.button("Unpack and import", type="primary", key="import_zip_go"):
            stamp = time.strftime("%Y%m%d-%H%M%S")
            target = paths.home() / "imports" / f"{Path(archive.name).stem[:40]}-{stamp}"
            try:
                folder = extract_zip(archive.getvalue(), target)
                found = discover(folder)
            except SpeakerIDError as exc:
                st.error(f"{ui.md(archive.name)}: {exc}", icon=":material/error:")
            else:
                st.caption(f"{len(found)} speaker(s) in the archive")
                import_folder(folder, gallery, round_)


# --- move the gallery between computers -------------------------------------------------------
def exported(gallery: Gallery) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return gallery.export(Path(folder) / "gallery.sqlite").read_bytes()


def export_or_import(gallery: Gallery, speakers: list[SpeakerInfo], round_: int) -> None:
    """The whole gallery as one file, out and in (merged or replacing)."""
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Export**")
        st.caption("One file with every speaker, their details, recordings and voiceprints.")
        st.download_button("Download the gallery", data=lambda: io.BytesIO(exported(gallery)),
                           file_name=f"speakerid-gallery-{time.strftime('%Y%m%d')}.sqlite",
                           mime="application/vnd.sqlite3", icon=":material/download:",
                           disabled=not speakers, on_click="ignore", key="export")
    with right:
        st.markdown("**Import**")
        upload = st.file_uploader("Gallery file (.sqlite)", type=["sqlite", "sqlite3", "db"],
                                  key=f"import_file_{round_}")
        how = st.radio("How", ["Merge with the current gallery", "Replace the current gallery"],
                       key="import_how")
        replace = how.startswith("Replace")
        confirmed = (not replace or not speakers or
                     st.checkbox(f"I understand this deletes the {len(speakers)} speaker(s) enrolled now",
                                 key="import_replace_ok"))
        if upload is not None and st.button("Import the gallery", type="primary", disabled=not confirmed,
                                             key="import_file_go"):
            bar = st.progress(0.0, text="Checking the file…")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "import.sqlite"
                path.write_bytes(upload.getvalue())
                try:
                    imported = gallery.import_(path, replace=replace, progress=lambda d, t: bar.progress(
                        d / max(t, 1), text=f"Re-enrolling clip {d} of {t} with the current model…"))
                except SpeakerIDError as exc:
                    bar.empty()
                    st.error(str(exc).replace(str(path), upload.name), icon=":material/error:")
                else:
                    bar.empty()
                    done(f"Imported {len(imported)} speaker(s) from {ui.md(upload.name)}.", round_)


# --- refit the threshold on these voices ---------------------------------------------------------
def calibrate(gallery: Gallery, round_: int) -> None:
    """The threshold refit on this gallery's own voices, or back to the model's."""
    from speakerid.gallery.calibration import MIN_SPEAKERS_WITH_TWO_CLIPS, fit_gallery_calibration

    st.caption(
        "The model's threshold was set on speakers from its training corpora (Indian telephone speech, "
        "American audiobooks). Your voices come through other microphones, channels and languages. Once "
        f"{MIN_SPEAKERS_WITH_TWO_CLIPS} or more speakers have two clips or more, their clips are tests "
        "with known answers: each clip is compared with every speaker, as a new clip would be, and the "
        "threshold is set where 1 % of comparisons with the wrong speaker pass. Only clips of full "
        "length are refit; short clips keep the model's own thresholds. A refit that would miss more "
        "than 10 points more of the speakers' own clips than the model does, or whose threshold the "
        "model reads as under 1 % or over 99 % likely, is shown but cannot be used.")
    current = gallery.calibration
    own = current is not gallery.encoder.calibration
    st.markdown(f"Threshold in use: **{current.threshold:.2f}** "
                f"({'refit on this gallery' if own else 'the model’s own'}).")
    if st.button("Refit on this gallery", key="calibrate_fit", icon=":material/tune:"):
        try:
            st.session_state["calibrate_refit"] = fit_gallery_calibration(gallery)
        except SpeakerIDError as exc:
            st.warning(str(exc), icon=":material/info:")
    refit = st.session_state.get("calibrate_refit")
    if refit is not None:
        st.info(refit.summary(), icon=":material/insights:")
        st.markdown(refit.change())
        if refit.refusal is not None:
            st.error(f"This refit cannot be used: {refit.refusal}.", icon=":material/block:")
        elif st.button("Use this threshold", type="primary", key="calibrate_apply"):
            refit.apply(gallery)
            del st.session_state["calibrate_refit"]
            done(f"Threshold {refit.calibration.threshold:.2f} is in use for this gallery.", round_)
    if own and st.button("Back to the model's threshold", key="calibrate_reset"):
        gallery.set_calibration(None)
        done("The model's own threshold is in use again.", round_)


def main() -> None:
    """The page: title, overview, then one tab per task."""
    ui.ensure_app_frame()
    st.title("Gallery")
    st.caption("Everyone the app can recognise. Each speaker keeps their recordings, so the gallery can be "
               "re-enrolled automatically when the model changes.")
    ui.show_flash()

    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)

    speakers = gallery.speakers()
    names = [s.name for s in speakers]
    round_ = st.session_state.setdefault("gallery_round", 0)  # bumped to reset the forms after a change
    overview(speakers)
    if not ui.may(EDITOR):  # a viewer: nothing that changes the gallery is drawn, so none of it runs
        listen(gallery, speakers, names)
        st.caption(_("Enrolling, editing and removing speakers is for editors and admins."))
        return

    enrol_tab, add_tab, edit_tab, folder_tab, file_tab, calibrate_tab = st.tabs(
        [":material/person_add: Enrol a speaker", ":material/library_add: Add clips",
         ":material/edit: Edit or remove", ":material/folder_open: Import a folder",
         ":material/swap_vert: Export / import", ":material/tune: Calibrate"])
    with enrol_tab:
        enrol_speaker(encoder, gallery, names, round_)
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


main()
