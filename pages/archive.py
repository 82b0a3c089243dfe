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
from speakerid import SpeakerIDError, numerals, paths, verdict
from speakerid.app.accounts import EDITOR
from speakerid.archive import AddReport, Archive, ArchiveVoice, Hit, Summary, default_archive_dir
from speakerid.gallery import Gallery, SpeakerInfo
from speakerid.i18n import N_, _, translator
from speakerid.inputs import EncodedAudio, Input, expand
from speakerid.longform import STAGES
from speakerid.voice_labels import shown_voice

ui.ensure_app_frame()

SOURCES = (N_("Upload recordings"), N_("A folder on the server"), N_("A link"))  # shown through _
TABS = (N_("Find a person"), N_("Voices nobody named"), N_("Add recordings"))
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
        st.error(_("The archive cannot be opened: {problem}").format(problem=exc), icon=":material/error:")
        st.stop()
    with shared.lock:
        yield shared.archive


# --- what the archive holds -----------------------------------------------------------------------
def render_summary(summary: Summary) -> None:
    cols = st.columns(5)
    cols[0].metric(_("Recordings"), numerals.number(summary.recordings), border=True)
    cols[1].metric(_("Audio"), ui.seconds(summary.hours * 3600), border=True,
                   help=_("{hours} hours, {speech} of it speech").format(
                       hours=numerals.number(summary.hours, ",.1f"),
                       speech=ui.seconds(summary.speech_hours * 3600)))
    cols[2].metric(_("Speech turns"), numerals.number(summary.turns), border=True)
    cols[3].metric(_("Named"), numerals.percent(summary.named_share), border=True,
                   help=_("The share of the speech in which an enrolled person is named, with the "
                          "gallery as it is now"))
    cols[4].metric(_("Unnamed voices"), numerals.number(summary.voices), border=True,
                   help=_("Voices nobody enrolled, each linked across the recordings it speaks in"))


# --- adding -------------------------------------------------------------------------------------
def chosen_inputs(source: str, round_: int) -> list[Input]:
    """What the user gave to add (uploads, a folder or file inside the data roots, a link), or []
    after saying what is wrong with it."""
    if source == SOURCES[0]:
        uploads = st.file_uploader(
            _("Recordings"), type=ui.AUDIO_TYPES, accept_multiple_files=True, key=f"archive_upload_{round_}",
            help=_("Audio or video files, several at once; hours long is fine (streamed).")) or []
        return [EncodedAudio(u.name, u.getvalue()) for u in uploads]
    if source == SOURCES[1]:
        typed = st.text_input(_("Folder or file"), key=f"archive_folder_{round_}",
                              placeholder=str(paths.data_roots()[0] / "recordings"),
                              help=_("Every audio file under a folder is added.") + " "
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
        st.error((_("{path}: no such folder or file") if not path.exists() else
                  _("{path}: the folder holds no audio files")).format(path=typed), icon=":material/error:")
        return None
    st.caption(":material/folder: " + _("{count} recording(s) in {folder}").format(
        count=numerals.number(len(found)), folder=ui.md(path)))
    return path


def add_recordings(folder: Path, gallery: Gallery, inputs: list[Input]) -> AddReport | None:
    """Index ``inputs`` (with none, re-index what another model indexed), one bar for the
    recordings and one for the recording being worked on; None after saying why it could not run."""
    overall = st.progress(0.0, text=_("Reading the recordings…"))
    current = st.progress(0.0, text="…")

    def recordings_done(done: int, total: int, recording: str) -> None:
        overall.progress(done / total, text=_("Indexing recording {done} of {total}…").format(
            done=numerals.number(min(done + 1, total)), total=numerals.number(total))
            if done < total else _("Indexed {count} recording(s)").format(count=numerals.number(total)))

    def stage(name: str, done: float, total: float) -> None:
        current.progress(min(done / max(total, 1e-9), 1.0), text=_("{stage}: {done} of {total}").format(
            stage=_(STAGES[name]), done=numerals.number(done, ".0f"), total=numerals.number(total, ".0f")))

    try:
        with Archive(folder, gallery) as archive:
            report = archive.add(inputs, progress=recordings_done, stage_progress=stage,
                                 download_progress=ui.download_progress(current))
    except SpeakerIDError as exc:
        st.error(_("Nothing was added: {problem}").format(problem=exc), icon=":material/error:")
        return None
    finally:
        overall.empty()
        current.empty()
    return report


def report_added(report: AddReport) -> None:
    """What an add did, shown after the page is redrawn with the archive's new figures."""
    done = [what.format(count=numerals.number(len(items))) for items, what in (
        (report.added, _("{count} recording(s) added")),
        (report.reindexed, _("{count} re-indexed for the model in use")),
        (report.known, _("{count} already in the archive (nothing to do)"))) if items]
    if done:
        ui.flash(" · ".join(done) + ".")
    for _recording, sentence in report.failed:
        ui.flash(ui.md(sentence), "error")


def render_add(folder: Path, gallery: Gallery, stale: int) -> None:
    st.caption(_("Each recording is indexed once: its speech turns and their voices are kept, so every "
                 "search later runs no model. Adding a recording already in the archive costs nothing."))
    round_ = st.session_state.setdefault("archive_round", 0)  # bumped to empty the fields after adding
    if stale:
        st.warning(_("{count} recording(s) were indexed by another model and are left out of every "
                     "answer until they are re-indexed for the model in use.").format(
                         count=numerals.number(stale)), icon=":material/sync_problem:")
        if st.button(_("Re-index them now"), key="archive_reindex"):
            finish_adding(add_recordings(folder, gallery, []), round_)
    source = st.radio(_("Add from"), SOURCES, horizontal=True, format_func=translator(),
                      key="archive_source")
    inputs = chosen_inputs(source, round_)
    label = (_("Add {count} recording(s)").format(count=numerals.number(len(inputs)))
             if source == SOURCES[0] and inputs else _("Add to the archive"))
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
    share = verdict.percent(hit.probability)
    return f"{hit.title} · {ui.clock(hit.start_s)}–{ui.clock(hit.end_s)} · {share}"


def person_options(speakers: list[SpeakerInfo]) -> dict[str, str]:
    """What the person picker offers: each name, and each alias shown with the name it stands for
    (typing either finds the person)."""
    options = {}
    for speaker in speakers:
        options[speaker.name] = speaker.name
        options.update({alias: f"{alias} ({speaker.name})" for alias in speaker.aliases})
    return options


def render_find(archive: Archive, speakers: list[SpeakerInfo]) -> None:
    if not speakers:
        st.info(_("Nobody is enrolled yet. Enrol people in the Gallery, or name a voice under *{tab}*; then "
                  "find them here.").format(tab=_(TABS[1])), icon=":material/person_search:")
        return
    left, right = st.columns([2, 1])
    options = person_options(speakers)
    name = left.selectbox(_("Person"), list(options), index=None, format_func=options.get,
                          placeholder=_("Pick someone from the gallery, by name or alias"),
                          key="archive_person")
    minimum = right.slider(_("Minimum probability"), 0, 100, 0, step=5, format="%d%%",
                           key="archive_min_probability",
                           help=_("Leave out turns where the app is less sure it is this person."))
    if name is None:
        return
    try:
        hits = archive.find(name, minimum / 100)
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not hits:
        st.info((_("{name} is not heard anywhere in the archive with a probability of at least {minimum}%.")
                 if minimum else _("{name} is not heard anywhere in the archive.")).format(
                     name=ui.md(name), minimum=numerals.number(minimum)), icon=":material/hearing_disabled:")
        return
    recordings = len({hit.recording for hit in hits})
    speech = sum(hit.end_s - hit.start_s for hit in hits)
    name = hits[0].speaker  # the name an alias stands for
    st.markdown(_("**{name}** speaks in **{turns}** turn(s) of **{recordings}** recording(s), {duration} in "
                  "all.").format(name=ui.md(name), turns=numerals.number(len(hits)),
                                 recordings=numerals.number(recordings), duration=ui.seconds(speech)))
    st.dataframe(
        [{"recording": hit.recording, "title": hit.title, "start": ui.clock(hit.start_s),
          "end": ui.clock(hit.end_s), "probability": hit.probability} for hit in hits],
        hide_index=True, width="stretch", key="archive_hits",
        column_config={"recording": _("recording"), "title": _("title"), "start": _("start"), "end": _("end"),
                       "probability": st.column_config.ProgressColumn(
                           _("probability"), min_value=0.0, max_value=1.0, format="percent")})
    playable = hits[:PLAYABLE_HITS]
    labels = [hit_label(hit) for hit in playable]  # in this run's language (format_func: any thread)
    chosen = st.selectbox(_("Play a turn"), range(len(playable)), format_func=labels.__getitem__,
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
    return _("{voice} · {recordings} recording(s) · {duration} in {turns} turn(s)").format(
        voice=shown_voice(voice.voice), recordings=numerals.number(len(voice.recordings)),
        duration=ui.seconds(voice.seconds), turns=numerals.number(len(voice.turns)))


def render_voices(archive: Archive, voices: list[ArchiveVoice]) -> None:
    if not voices:
        st.info(_("No unnamed voices: everyone heard in the archive is enrolled, or nothing has been "
                  "added yet."), icon=":material/check_circle:")
        return
    st.caption(_("The same unknown person in several recordings is one voice. Listen, name it, and it "
                 "is enrolled in the gallery from its best turns: every recording then shows the name."))
    st.dataframe(
        [{"voice": shown_voice(v.voice), "recordings": len(v.recordings), "speech": ui.seconds(v.seconds),
          "turns": len(v.turns), "in": ", ".join(short_name(r) for r in v.recordings)} for v in voices],
        hide_index=True, width="stretch", key="archive_voices",
        column_config={"voice": _("voice"), "recordings": _("recordings"), "speech": _("speech"),
                       "turns": _("turns"), "in": _("in")})
    labels = [voice_label(v) for v in voices]  # in this run's language (format_func: any thread)
    chosen = st.selectbox(_("Voice"), range(len(voices)), format_func=labels.__getitem__, key="archive_voice")
    if chosen is not None:
        render_voice(archive, voices[chosen])


def render_voice(archive: Archive, voice: ArchiveVoice) -> None:
    """The voice's most typical turn to listen to (the first of those naming it enrols from; its
    longest turn when none is long enough), and the form that names it."""
    best = archive.best_turns(voice.voice)
    turn = best[0] if best else max(voice.turns, key=lambda t: t.end_s - t.start_s)
    where = {"voice": shown_voice(voice.voice), "recording": ui.md(short_name(turn.recording)),
             "start": ui.clock(turn.start_s)}
    heading = (_("**{voice}** · its most typical turn, in {recording} at {start}") if best else
               _("**{voice}** · its longest turn, in {recording} at {start}")).format(**where)
    if not ui.may(EDITOR):  # naming enrols the voice in the gallery: editors only
        st.markdown(heading)
        play(archive, turn.recording, turn.start_s, turn.end_s)
        st.caption(_("An editor can name this voice."))
        return
    with st.form("archive_name_form", border=True, clear_on_submit=True):
        st.markdown(heading)
        play(archive, turn.recording, turn.start_s, turn.end_s)
        name = st.text_input(_("Name"), placeholder=_("Who is this?"), key="archive_voice_name")
        if st.form_submit_button(_("Name this voice"), type="primary", key="archive_name_go"):
            name_voice(archive, voice, name)


def name_voice(archive: Archive, voice: ArchiveVoice, name: str) -> None:
    try:
        info = archive.name_voice(voice.voice, name)
    except SpeakerIDError as exc:
        st.error(_("{voice} could not be named: {problem}").format(voice=shown_voice(voice.voice),
                                                                   problem=exc),
                 icon=":material/error:")
        return
    ui.flash(_("{voice} is now **{name}** (enrolled from {count} clip(s)); find them under *{tab}*.").format(
        voice=shown_voice(voice.voice), name=ui.md(info.name), count=numerals.number(info.clips),
        tab=_(TABS[0])))
    st.rerun()


# --- the page -------------------------------------------------------------------------------------
def main() -> None:
    st.title(_("Archive"))
    st.caption(_("Index hours of recordings once, then find every turn where someone speaks, and name "
                 "the voices nobody enrolled, across all the recordings at once."))
    ui.show_flash()
    gallery = ui.require_gallery(ui.require_encoder())
    folder = default_archive_dir()
    with questions(folder, gallery) as archive:
        summary = archive.summary()
        render_summary(summary)
        editor = ui.may(EDITOR)  # adding recordings: editors only
        if not summary.recordings:
            st.info(_("The archive is empty: add recordings under *{tab}*.").format(tab=_(TABS[2])) if editor
                    else _("The archive is empty: an editor can add recordings."), icon=":material/info:")
        labels = [_(tab) for tab in (TABS if editor else TABS[:2])]
        tabs = st.tabs(labels, default=None if summary.recordings or not editor else labels[2],
                       key="archive_tabs")
        with tabs[0]:
            render_find(archive, gallery.speakers())
        with tabs[1]:
            render_voices(archive, archive.voices())
    if editor:
        with tabs[2]:
            render_add(folder, gallery, summary.other_model)


main()
