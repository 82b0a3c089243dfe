"""Archive: recordings indexed once, then searched by name; the voices nobody named, linked across
recordings, named in one step; and what the archive holds.

Everything is asked of :mod:`speakerid.archive`: a question runs no model (the stored turn
embeddings are scored against the gallery as it is now), so naming someone shows at once. Questions
go to one archive object per server process (its turns are read into memory once, not once per
browser session), one session at a time; adding opens an archive of its own, so that an hour of
indexing does not hold up anyone's search.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, paths, verdict
from speakerid.app.accounts import EDITOR
from speakerid.archive import AddReport, Archive, ArchiveVoice, Hit, Summary, default_archive_dir
from speakerid.gallery import Gallery
from speakerid.i18n import _
from speakerid.inputs import EncodedAudio, Input, expand
from speakerid.longform import STAGES

ui.ensure_app_frame()

SOURCES = ("Upload recordings", "A folder on the server", "A link")
TABS = ("Find a person", "Voices nobody named", "Add recordings")
PLAYABLE_HITS = 200  # the most probable hits offered to the player (the table lists them all)


@dataclass(frozen=True)
class SharedArchive:
    """The process's archive for questions, and the lock that gives it to one session at a time."""

    archive: Archive
    lock: threading.Lock


@st.cache_resource(show_spinner=False, max_entries=4, on_release=lambda shared: shared.archive.close())
def _open_shared(folder: str, gallery_id: int, _gallery: Gallery) -> SharedArchive:
    # keyed by the gallery object's id: the entry holds that object, so no other can take its id
    return SharedArchive(Archive(folder, _gallery), threading.Lock())


@contextmanager
def questions(folder: Path, gallery: Gallery) -> Iterator[Archive]:
    """The archive to ask (find, voices, summary, a turn's audio, naming a voice), while no other
    session asks it."""
    try:
        shared = _open_shared(str(folder), id(gallery), gallery)
    except SpeakerIDError as exc:
        st.error(f"The archive cannot be opened: {exc}", icon=":material/error:")
        st.stop()
    with shared.lock:
        yield shared.archive


# --- what the archive holds -----------------------------------------------------------------------
def render_summary(summary: Summary) -> None:
    cols = st.columns(5)
    cols[0].metric("Recordings", summary.recordings, border=True)
    cols[1].metric("Audio", ui.seconds(summary.hours * 3600), border=True,
                   help=f"{summary.hours:,.1f} hours, {ui.seconds(summary.speech_hours * 3600)} of it speech")
    cols[2].metric("Speech turns", summary.turns, border=True)
    cols[3].metric("Named", f"{summary.named_share:.0%}", border=True,
                   help="The share of the speech in which an enrolled person is named, with the "
                        "gallery as it is now")
    cols[4].metric("Unnamed voices", summary.voices, border=True,
                   help="Voices nobody enrolled, each linked across the recordings it speaks in")


# --- adding -------------------------------------------------------------------------------------
def chosen_inputs(source: str, round_: int) -> list[Input]:
    """What the user gave to add (uploads, a folder or file inside the data roots, a link), or []
    after saying what is wrong with it."""
    if source == SOURCES[0]:
        uploads = st.file_uploader(
            "Recordings", type=ui.AUDIO_TYPES, accept_multiple_files=True, key=f"archive_upload_{round_}",
            help="Audio or video files, several at once; hours long is fine (streamed).") or []
        return [EncodedAudio(u.name, u.getvalue()) for u in uploads]
    if source == SOURCES[1]:
        typed = st.text_input("Folder or file", key=f"archive_folder_{round_}",
                              placeholder=str(paths.data_roots()[0] / "recordings"),
                              help="Every audio file under a folder is added. "
                                   + ui.data_roots_help()).strip()
        path = server_path(typed) if typed else None
        return [path] if path is not None else []
    url = ui.link_field(f"archive_url_{round_}")
    return [url] if url else []


def server_path(typed: str) -> Path | None:
    """``typed`` if it lies inside the data roots and holds audio; else None, saying why."""
    try:
        path = paths.inside_data_roots(typed)
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/block:")
        return None
    found = [item for item in expand([path]) if Path(item).is_file()]
    if not found:
        st.error(f"{typed}: no such folder or file" if not path.exists() else
                 f"{typed}: the folder holds no audio files", icon=":material/error:")
        return None
    st.caption(f":material/folder: {len(found)} recording(s) in {ui.md(path)}")
    return path


def add_recordings(folder: Path, gallery: Gallery, inputs: list[Input]) -> AddReport | None:
    """Index ``inputs`` (with none, re-index what another model indexed), one bar for the
    recordings and one for the recording being worked on; None after saying why it could not run."""
    overall = st.progress(0.0, text="Reading the recordings…")
    current = st.progress(0.0, text="…")

    def recordings_done(done: int, total: int, _recording: str) -> None:
        overall.progress(done / total, text=f"Indexing recording {min(done + 1, total)} of {total}…"
                         if done < total else f"Indexed {total} recording(s)")

    def stage(name: str, done: float, total: float) -> None:
        current.progress(min(done / max(total, 1e-9), 1.0), text=f"{STAGES[name]}: {done:.0f} of {total:.0f}")

    try:
        with Archive(folder, gallery) as archive:
            report = archive.add(inputs, progress=recordings_done, stage_progress=stage,
                                 download_progress=ui.download_progress(current))
    except SpeakerIDError as exc:
        st.error(f"Nothing was added: {exc}", icon=":material/error:")
        return None
    finally:
        overall.empty()
        current.empty()
    return report


def report_added(report: AddReport) -> None:
    """What an add did, shown after the page is redrawn with the archive's new figures."""
    done = [f"{len(items)} {what}" for items, what in (
        (report.added, "recording(s) added"), (report.reindexed, "re-indexed for the model in use"),
        (report.known, "already in the archive (nothing to do)")) if items]
    if done:
        ui.flash(" · ".join(done) + ".")
    for _recording, sentence in report.failed:
        ui.flash(ui.md(sentence), "error")


def render_add(folder: Path, gallery: Gallery, stale: int) -> None:
    st.caption("Each recording is indexed once: its speech turns and their voices are kept, so every "
               "search later runs no model. Adding a recording already in the archive costs nothing.")
    round_ = st.session_state.setdefault("archive_round", 0)  # bumped to empty the fields after adding
    if stale:
        st.warning(f"{stale} recording(s) were indexed by another model and are left out of every "
                   "answer until they are re-indexed for the model in use.", icon=":material/sync_problem:")
        if st.button("Re-index them now", key="archive_reindex"):
            finish_adding(add_recordings(folder, gallery, []), round_)
    source = st.radio("Add from", SOURCES, horizontal=True, key="archive_source")
    inputs = chosen_inputs(source, round_)
    label = f"Add {len(inputs)} recording(s)" if source == SOURCES[0] and inputs else "Add to the archive"
    if st.button(label, type="primary", disabled=not inputs, key="archive_add", icon=":material/add:"):
        finish_adding(add_recordings(folder, gallery, inputs), round_)


def finish_adding(report: AddReport | None, round_: int) -> None:
    if report is None:
        return
    report_added(report)
    st.session_state["archive_round"] = round_ + 1
    st.rerun()


# --- searching by name ---------------------------------------------------------------------------
def hit_label(hit: Hit) -> str:
    return f"{hit.title} · {ui.clock(hit.start_s)}–{ui.clock(hit.end_s)} · {verdict.percent(hit.probability)}"


def render_find(archive: Archive, names: list[str]) -> None:
    if not names:
        st.info("Nobody is enrolled yet. Enrol people in the Gallery, or name a voice under "
                f"*{TABS[1]}*; then find them here.", icon=":material/person_search:")
        return
    left, right = st.columns([2, 1])
    name = left.selectbox("Person", names, index=None, placeholder="Pick someone from the gallery",
                          key="archive_person")
    minimum = right.slider("Minimum probability", 0, 100, 0, step=5, format="%d%%",
                           key="archive_min_probability",
                           help="Leave out turns where the app is less sure it is this person.")
    if name is None:
        return
    try:
        hits = archive.find(name, minimum / 100)
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not hits:
        st.info(f"{ui.md(name)} is not heard anywhere in the archive"
                + (f" with a probability of {minimum}% or more." if minimum else "."),
                icon=":material/hearing_disabled:")
        return
    recordings = len({hit.recording for hit in hits})
    speech = sum(hit.end_s - hit.start_s for hit in hits)
    st.markdown(f"**{ui.md(name)}** speaks in **{len(hits)}** turn(s) of **{recordings}** recording(s), "
                f"{ui.seconds(speech)} in all.")
    st.dataframe(
        [{"recording": hit.recording, "title": hit.title, "start": ui.clock(hit.start_s),
          "end": ui.clock(hit.end_s), "probability": hit.probability} for hit in hits],
        hide_index=True, width="stretch", key="archive_hits",
        column_config={"probability": st.column_config.ProgressColumn(
            min_value=0.0, max_value=1.0, format="percent")})
    playable = hits[:PLAYABLE_HITS]
    chosen = st.selectbox("Play a turn", range(len(playable)), format_func=lambda i: hit_label(playable[i]),
                          key="archive_hit")
    if chosen is not None:
        hit = playable[chosen]
        play(archive, hit.recording, hit.start_s, hit.end_s)


def play(archive: Archive, recording: str, start_s: float, end_s: float) -> None:
    """A player of exactly that stretch of the recording, cut from its file by the archive."""
    try:
        clip = archive.turn_audio(recording, start_s, end_s)
    except SpeakerIDError as exc:
        st.caption(f":material/volume_off: {ui.md(exc)}")
        return
    st.audio(clip.samples.mean(axis=1), sample_rate=clip.sample_rate)


# --- the voices nobody named ----------------------------------------------------------------------
def short_name(recording: str) -> str:
    """A path's file name; a link as it is."""
    return recording if "://" in recording else Path(recording).name


def voice_label(voice: ArchiveVoice) -> str:
    return (f"{voice.voice} · {len(voice.recordings)} recording(s) · {ui.seconds(voice.seconds)} in "
            f"{len(voice.turns)} turn(s)")


def render_voices(archive: Archive, voices: list[ArchiveVoice]) -> None:
    if not voices:
        st.info("No unnamed voices: everyone heard in the archive is enrolled, or nothing has been "
                "added yet.", icon=":material/check_circle:")
        return
    st.caption("The same unknown person in several recordings is one voice. Listen, name it, and it "
               "is enrolled in the gallery from its best turns: every recording then shows the name.")
    st.dataframe(
        [{"voice": v.voice, "recordings": len(v.recordings), "speech": ui.seconds(v.seconds),
          "turns": len(v.turns), "in": ", ".join(short_name(r) for r in v.recordings)} for v in voices],
        hide_index=True, width="stretch", key="archive_voices")
    chosen = st.selectbox("Voice", range(len(voices)), format_func=lambda i: voice_label(voices[i]),
                          key="archive_voice")
    if chosen is not None:
        render_voice(archive, voices[chosen])


def render_voice(archive: Archive, voice: ArchiveVoice) -> None:
    """The voice's longest turn to listen to, and the form that names it."""
    longest = max(voice.turns, key=lambda t: t.end_s - t.start_s)
    heading = (f"**{voice.voice}** · its longest turn, in {ui.md(short_name(longest.recording))} at "
               f"{ui.clock(longest.start_s)}")
    if not ui.may(EDITOR):  # naming enrols the voice in the gallery: editors only
        st.markdown(heading)
        play(archive, longest.recording, longest.start_s, longest.end_s)
        st.caption(_("An editor can name this voice."))
        return
    with st.form("archive_name_form", border=True, clear_on_submit=True):
        st.markdown(heading)
        play(archive, longest.recording, longest.start_s, longest.end_s)
        name = st.text_input("Name", placeholder="Who is this?", key="archive_voice_name")
        if st.form_submit_button("Name this voice", type="primary", key="archive_name_go"):
            name_voice(archive, voice, name)


def name_voice(archive: Archive, voice: ArchiveVoice, name: str) -> None:
    try:
        info = archive.name_voice(voice.voice, name)
    except SpeakerIDError as exc:
        st.error(f"{voice.voice} could not be named: {exc}", icon=":material/error:")
        return
    ui.flash(f"{voice.voice} is now **{ui.md(info.name)}** (enrolled from {info.clips} clip(s)); "
             f"find them under *{TABS[0]}*.")
    st.rerun()


# --- the page -------------------------------------------------------------------------------------
def main() -> None:
    st.title("Archive")
    st.caption("Index hours of recordings once, then find every turn where someone speaks, and name "
               "the voices nobody enrolled, across all the recordings at once.")
    ui.show_flash()
    gallery = ui.require_gallery(ui.require_encoder())
    folder = default_archive_dir()
    with questions(folder, gallery) as archive:
        summary = archive.summary()
        render_summary(summary)
        editor = ui.may(EDITOR)  # adding recordings: editors only
        if not summary.recordings:
            st.info(f"The archive is empty: add recordings under *{TABS[2]}*." if editor else
                    _("The archive is empty: an editor can add recordings."), icon=":material/info:")
        tabs = st.tabs(TABS if editor else TABS[:2], default=None if summary.recordings or not editor
                       else TABS[2], key="archive_tabs")
        with tabs[0]:
            render_find(archive, [s.name for s in gallery.speakers()])
        with tabs[1]:
            render_voices(archive, archive.voices())
    if editor:
        with tabs[2]:
            render_add(folder, gallery, summary.other_model)


main()
