"""Identify (home page): who is speaking in an uploaded, linked or recorded clip, and how the app
decided; several uploads at once give a table of verdicts to download.

The page is drawn before TensorFlow has loaded (it is imported in the background, see speakerid_ui.resources);
the model is loaded, and the modules that need TensorFlow imported, once a clip is there.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, numerals, verdict
from speakerid.app.accounts import EDITOR
from speakerid.calibration_text import say_method
from speakerid.i18n import N_, _, current_language, in_language, translator
from speakerid.longform import STAGES as LONG_STAGES
from speakerid.longform import is_long
from speakerid.timeline import TIMELINE_MIN_DURATION_S
from speakerid.voice_labels import shown_voice

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from speakerid.app.analysis import Analysis
    from speakerid.app.work_queue import Job
    from speakerid.audio import AudioClip
    from speakerid.fetch import FetchedAudio
    from speakerid.gallery import Gallery, Identification, SpeakerInfo
    from speakerid.longform import RecordingSummary
    from speakerid.models.encoder import Encoder
    from speakerid.timeline import Timeline

log = logging.getLogger(__name__)
# the source picker's choices (shown through _)
SOURCES = [N_("Upload clips"), N_("Paste a link"), N_("Record in the browser")]


def page_header() -> list[SpeakerInfo]:
    """The title and, before any clip, the gallery's state; everyone enrolled."""
    st.title(_("Who is speaking?"))
    st.caption(_("Upload a clip, paste a link or record one. The app prepares the audio, shows each step, "
                 "and compares the voice with everyone enrolled in the gallery. Several uploads at once "
                 "give a table of verdicts."))

    speakers = ui.require_speakers()
    if not speakers:
        ui.onboarding("identify")
    encoder = ui.loaded_encoder()  # None while TensorFlow loads: the page does not wait for it
    if encoder is not None:
        ui.require_gallery(encoder)  # a gallery from another model is re-enrolled before anything else
    return speakers


def render_batch(uploads: list[UploadedFile], speakers: list[SpeakerInfo], trim_ends: bool) -> None:
    """Several uploads: one row per clip (failures with their reason), as a table to download."""
    from speakerid.app.batch import identify_batch, report_bytes
    from speakerid.inputs import EncodedAudio

    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)
    key = ui.digest(*(u.getvalue() for u in uploads), *(u.name for u in uploads),
                    ui.model_location()[0], str(ui.model_location()[1]), str(trim_ends),
                    ";".join(f"{s.name}:{s.clips}" for s in speakers))
    cached = st.session_state.get("identify_batch")
    if cached is not None and cached[0] == key:
        results = cached[1]
    else:
        bar = st.progress(0.0, text=_("Identifying {count} clips…").format(
            count=numerals.number(len(uploads))))
        inputs = [EncodedAudio(u.name, u.getvalue()) for u in uploads]
        fraction = [0.0]  # written by the worker, read by this page

        def progress(job: Job, done: int, total: int) -> None:
            fraction[0] = done / total
            job.checkpoint(_("Identified {done} of {total} clips…").format(
                done=numerals.number(done), total=numerals.number(total)))

        results = ui.run_queued(
            lambda job: list(identify_batch(inputs, gallery, top_k=5, trim_ends=trim_ends,
                                            progress=lambda done, total: progress(job, done, total))),
            "batch", lambda text: bar.progress(fraction[0], text=text))
        bar.empty()
        ui.keep("identify_batch", (key, results))
    rows = [result.row() for result in results]
    failed = sum(row["error"] is not None for row in rows)
    st.markdown("##### " + _("{count} clips").format(count=numerals.number(len(rows)))
                + (_(" · {count} could not be identified").format(count=numerals.number(failed))
                   if failed else ""))
    ui.show_batch_table(rows)
    st.caption(_("Probability: that the voice is the named person's (or the closest one's, for an "
                 "unknown speaker; none where several voices speak). Clips of {seconds} s or more get "
                 "who speaks when: the download has each segment and each voice.").format(
                     seconds=numerals.number(TIMELINE_MIN_DURATION_S, ".0f")))
    left, right = st.columns(2)
    left.download_button(_("Download the table (CSV)"), report_bytes(results, ".csv"),
                         "speakerid-report.csv", "text/csv", icon=":material/download:")
    right.download_button(_("Download with segments (JSON)"), report_bytes(results, ".json"),
                          "speakerid-report.json", "application/json", icon=":material/download:")


def trim_ends_option() -> bool:
    """Whether to leave out a long recording's first and last minute: off unless asked."""
    return st.toggle(
        _("Leave out the first and last minute of recordings over 5 minutes"), value=False,
        key="identify_trim_ends", help=_("For web recordings that open and close with someone else (a "
        "host, applause, music). Off: every minute counts. On: the verdict says what was left out."))


def choose_clip(speakers: list[SpeakerInfo], trim_ends: bool
                ) -> tuple[str, UploadedFile | None, FetchedAudio | None]:
    """The source picked and its clip: an upload or recording, or fetched audio (a batch of uploads
    is handled here, and the page stops)."""
    source = st.radio(_("Source"), SOURCES, horizontal=True, format_func=translator(),
                      key="identify_source", label_visibility="collapsed")
    uploaded = fetched = None
    if source == "Upload clips":
        uploads = st.file_uploader(
            _("Audio or video files"), type=ui.AUDIO_TYPES, key="identify_upload", accept_multiple_files=True,
            help=_("WAV, MP3, M4A, OGG/Opus, FLAC, WebM, MP4 and more; up to 200 MB each. Long recordings "
                   "are fine: every minute counts unless you leave out the ends above. One clip shows "
                   "every step; several give a table.")) or []
        if len(uploads) > 1:
            render_batch(uploads, speakers, trim_ends)
            st.stop()
        uploaded = uploads[0] if uploads else ui.demo_example(speakers)
    elif source == "Paste a link":
        fetched = ui.link_input("identify")
    else:
        uploaded = st.audio_input(_("Record a few seconds of speech"), key="identify_record")

    if uploaded is None and fetched is None:
        st.caption(_("Tip: 3 to 30 seconds of clear speech is enough. For clips longer than {seconds} s "
                     "the app also shows who speaks when.").format(
                         seconds=numerals.number(TIMELINE_MIN_DURATION_S, ".0f")))
        st.stop()
    return source, uploaded, fetched


def read_clip(source: str, uploaded: UploadedFile | None, fetched: FetchedAudio | None
              ) -> tuple[AudioClip | None, bytes, str, bool]:
    """(clip, data, name, long_upload): the fetched clip (None for an upload, which is decoded in the
    shared pool, see :func:`analysed_clip`, or streamed when long), and the bytes and name that make
    its key."""
    long_upload = False
    if fetched is not None:
        clip = fetched.clip
        data = clip.samples[:clip.sample_rate].tobytes()  # with the address and length: this clip's key
        name = fetched.url + str(clip.samples.shape)
        st.caption(f":material/link: [{ui.md(fetched.title)}]({fetched.url}) · {ui.seconds(clip.duration_s)}")
    else:
        data, name = uploaded.getvalue(), uploaded.name
        long_upload = source == "Upload clips" and is_long(data)  # streamed, never decoded whole
        clip = None
        if source == "Upload clips":
            st.audio(data)
    return clip, data, name, long_upload


@dataclass(frozen=True)
class ClipFigures:
    """A clip's figures as images, drawn in the shared pool after its verdict (and kept for reruns)."""

    waveforms: bytes
    front_ends: list[tuple[str, bytes]]  # (tab label, image): one per network's front end


@dataclass(frozen=True)
class FigureSlots:
    """Where a clip's figures go on the page: placed as the page is drawn, filled once they are drawn,
    so that the verdict does not wait for them."""

    waveforms: DeltaGenerator
    front_ends: DeltaGenerator


def clip_figures(job: Job, analysis: Analysis, encoder: Encoder) -> ClipFigures:
    """The waveforms of each preparation stage, and one spectrogram per network's front end, each
    labelled with the network that reads it (a job of the shared pool, see :func:`render_figures`)."""
    job.checkpoint(_("Drawing the figures"))
    # TensorFlow (and matplotlib): imported once the model, which needs them too, has loaded.
    from speakerid.app import plots
    from speakerid.app.analysis import front_ends

    spectrograms = [(_("Read by {reader}").format(reader=part.reader), ui.figure_png(
        plots.spectrogram(part.features, analysis.frames_per_second, analysis.windows,
                          title=_("{features}, read by {reader}").format(features=part.description,
                                                                        reader=part.reader)),
        ui.LEFT_COLUMN_PX))
        for part in front_ends(analysis.features, encoder)]
    return ClipFigures(ui.figure_png(plots.pipeline_waveforms(analysis.prepared), ui.LEFT_COLUMN_PX),
                       spectrograms)


def render_preparation(analysis: Analysis) -> DeltaGenerator:
    """The preparation's measures and steps; the place left for its waveforms."""
    prepared = analysis.prepared
    st.markdown("##### " + _("1 · Preparing the audio"))
    decoded, trimmed, final = prepared.stages[0], prepared.stage("trim"), prepared.stages[-1]
    cols = st.columns(4)
    cols[0].metric(_("Input"), ui.compact_duration(decoded.duration_s), help=decoded.note)
    cols[1].metric(_("Trimmed"), ui.compact_duration(trimmed.duration_s), help=trimmed.note)
    cols[2].metric(_("Speech kept"), ui.compact_duration(final.duration_s),
                   delta=silence_removed(trimmed.duration_s - final.duration_s),
                   delta_color="off", help=prepared.stage("silence").note)
    cols[3].metric(_("Sample rate"), sample_rate(final.sample_rate), help=prepared.stage("resample").note)
    waveforms = st.empty()
    with st.expander(_("Every stage")):
        st.dataframe([{_("stage"): s.name, _("output"): ui.seconds(s.duration_s), _("what happened"): s.note}
                      for s in prepared.stages], hide_index=True, width="stretch")
    return waveforms


def silence_removed(seconds: float) -> str:
    """A metric's delta: how much silence was cut."""
    return _("-{duration} silence").format(duration=ui.compact_duration(max(seconds, 0)))


def sample_rate(rate: float) -> str:
    return _("{rate} kHz").format(rate=numerals.number(rate / 1000, "g"))


def render_features(analysis: Analysis) -> DeltaGenerator:
    """What the encoder reads, in words; the place left for its spectrograms."""
    st.markdown("##### " + _("2 · What the encoder sees"))
    count = len(analysis.windows)
    longest = max(b - a for a, b in analysis.windows)
    text = (_("one window of {duration}").format(duration=ui.seconds(longest)) if count == 1
            else _("{count} windows of {duration}, embeddings averaged").format(
                count=numerals.number(count), duration=ui.seconds(longest)))
    front_ends = st.empty()
    st.caption(_("The encoder reads the speech in {windows}: the coloured bars above the image.").format(
        windows=text))
    return front_ends


def render_figures(analysis: Analysis, encoder: Encoder, key: str, slots: FigureSlots) -> None:
    """The clip's figures in their places: kept from an earlier run of the page, or drawn now in the
    shared pool. They are queued after the verdict is on the page, so when several clips arrive at
    once every one gets its verdict before anyone's figures are drawn."""
    kept = st.session_state.get("identify_figures", (None,))
    if kept[0] == key:
        figures = kept[1]
    else:
        try:
            figures = ui.run_queued(lambda job: clip_figures(job, analysis, encoder), "figures",
                                    slots.waveforms.caption)
        except Exception:  # the verdict stands without its figures; never a stack trace on the page
            log.exception("drawing the figures failed")
            slots.waveforms.caption(_("The figures could not be drawn."))
            return
        ui.keep("identify_figures", (key, figures))
    with slots.waveforms.container():
        ui.show_image(figures.waveforms)
    with slots.front_ends.container():
        render_front_ends(figures)


def render_front_ends(figures: ClipFigures) -> None:
    """One spectrogram per network's front end (a fused model has two); several are offered as tabs."""
    parts = figures.front_ends
    places = st.tabs([label for label, _image in parts]) if len(parts) > 1 else [st.container()]
    for place, (_label, image) in zip(places, parts):
        with place:
            ui.show_image(image)


def render_long_preparation(summary: RecordingSummary) -> None:
    """A long recording's preparation: its figures and its envelope (nothing longer is kept)."""
    from speakerid.app import plots

    st.markdown("##### " + _("1 · Preparing the audio"))
    cols = st.columns(4)
    cols[0].metric(_("Input"), ui.compact_duration(summary.duration_s),
                   help=_("{channels} channel(s), {rate} Hz").format(channels=summary.channels,
                                                                     rate=summary.input_rate))
    cols[1].metric(_("Trimmed"), ui.compact_duration(summary.trimmed_s),
                   help=_("kept {start:.1f}-{end:.1f} s").format(start=summary.trim[0], end=summary.trim[1]))
    cols[2].metric(_("Speech kept"), ui.compact_duration(summary.speech_s),
                   delta=silence_removed(summary.trimmed_s - summary.speech_s),
                   delta_color="off", help=_("{count} segment(s) of speech").format(count=len(summary.spans)))
    cols[3].metric(_("Sample rate"), sample_rate(summary.sample_rate))
    ui.show(plots.waveform(summary.overview, summary.overview_rate, kept=summary.speech_on_input(),
                           title=_("input, mono at {rate} Hz: {duration}").format(
                               rate=summary.sample_rate, duration=ui.seconds(summary.duration_s)),
                           removed_label=_("trimmed ends and silence")), ui.LEFT_COLUMN_PX)


def render_long_features(summary: RecordingSummary) -> None:
    st.caption(_("A long recording is read, prepared and embedded a block at a time, so that its length "
                 "does not decide the memory it needs; the encoder's windows are averaged as for a short "
                 "clip."))


def analyse_long_upload(data: bytes, filename: str, gallery: Gallery, key: str, trim_ends: bool) -> None:
    """Stream the upload once (verdict, timeline, envelope) and keep only what the page shows."""
    from speakerid.longform import summarise_recording
    from speakerid.voices import find_voices

    bar = st.progress(0.0, text=_("Reading the recording…"))
    fraction = [0.0]  # written by the worker, read by this page

    def progress(job: Job, stage: str, done: float, total: float) -> None:
        fraction[0] = min(done / max(total, 1e-9), 1.0)
        job.checkpoint(_("{stage}: {done} of {total}").format(
            stage=_(LONG_STAGES[stage]), done=numerals.number(done, ".0f"),
            total=numerals.number(total, ".0f")))

    try:
        summary = ui.run_queued(
            lambda job: summarise_recording(data, gallery, filename, top_k=5, timeline=True,
                                            progress=lambda *step: progress(job, *step), trim_ends=trim_ends),
            filename, lambda text: bar.progress(fraction[0], text=text))
    except SpeakerIDError as exc:
        bar.empty()
        st.error(ui.without_name(str(exc), filename), icon=":material/error:")
        st.stop()
    bar.empty()
    ui.keep("identify_result", (key, summary))
    ui.keep("identify_timeline", (key, find_voices(summary.timeline, gallery)))


def clip_timeline(analysis: Analysis | RecordingSummary, clip: AudioClip | None, long_upload: bool, key: str,
                  encoder: Encoder, gallery: Gallery) -> Timeline | None:
    """Who speaks when, for a clip long enough, computed once: the verdict needs it to say when
    several voices speak, and the timeline below shows it."""
    from speakerid.timeline import identify_timeline
    from speakerid.voices import find_voices

    if not (long_upload or clip.duration_s >= TIMELINE_MIN_DURATION_S):
        return None
    cached_timeline = st.session_state.get("identify_timeline")
    if cached_timeline is not None and cached_timeline[0] == key:
        return cached_timeline[1]
    bar = st.progress(0.0, text=_("Identifying the clip window by window…"))
    try:
        timeline = find_voices(identify_timeline(
            analysis.prepared, encoder, gallery,
            original_duration_s=clip.duration_s,
            progress=lambda done, total: bar.progress(
                done / max(total, 1), text=_("Identifying window {done} of {total}…").format(
                    done=numerals.number(done), total=numerals.number(total)))), gallery)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(_("The timeline could not be computed: {problem}").format(problem=exc),
                 icon=":material/error:")
        st.stop()
    bar.empty()
    ui.keep("identify_timeline", (key, timeline))
    return timeline


def render_verdict(analysis: Analysis, speakers: list[SpeakerInfo], encoder: Encoder,
                   timeline: Timeline | None) -> None:
    """The answer in words and one probability (``timeline``: who speaks when, for a clip long
    enough); how it was decided, for whoever asks."""
    found = analysis.identification
    best = found.best
    closest = next((s for s in speakers if best is not None and s.name == best.name), None)
    said = verdict.decide(found, analysis.speech_s, closest, timeline)
    st.markdown("##### " + _("Verdict"))
    with st.container(border=True, key="verdict"):
        icon = {"match": ":green[:material/check_circle:]", "unknown": ":orange[:material/help:]",
                "empty": ":material/group_off:", "several": ":blue[:material/groups:]"}[said.kind]
        st.markdown(f"### {icon} {ui.md(said.headline)}")
        if said.kind == "empty":
            st.caption(_("Enrol speakers in the Gallery first; then this clip can be identified."))
            return
        details = ([x for x in (closest.gender, closest.party) if x]
                   if said.kind == "match" and closest is not None else [])
        if details:
            st.caption(" · ".join(ui.md(x) for x in details))
        if said.kind == "match" and closest is not None and closest.aliases:
            st.caption(_("Also known as: {aliases}").format(aliases=ui.md(", ".join(closest.aliases))))
        st.markdown(ui.md(said.summary))
        if not said.voices and best.llr is not None:
            st.caption(ui.md(_("Evidence: {evidence} (see How this was decided)").format(
                evidence=verdict.evidence_line(best.llr))))
        if analysis.left_out:
            text = verdict.left_out_text(analysis.left_out)
            st.caption(ui.md(_("{left_out}, as asked.").format(left_out=f"{text[:1].upper()}{text[1:]}")))
        if said.voices:
            st.markdown("\n".join(f"- {ui.md(verdict.voice_line(voice))}" for voice in said.voices))
        if said.advice:
            st.info(_("**A close call.** What would settle it:") + "\n"
                    + "\n".join(f"- {ui.md(line)}" for line in said.advice), icon=":material/lightbulb:")
        with st.expander(_("How this was decided")):
            for paragraph in verdict.explain(found, analysis.speech_s, closest,
                                             encoder.calibration.false_accept_rate, said.voices):
                st.markdown(ui.md(paragraph))
            st.caption(_("For specialists: {method}").format(
                method=ui.md(say_method(encoder.calibration.method))))
    render_matches(found)


def render_matches(found: Identification) -> None:
    """Every ranked voice with the probability that it is the one in the clip, names in full."""
    st.markdown("##### " + _("Top matches"))
    with st.container(key="matches"):
        for match in found.matches:
            named = ":green[:material/check_circle:] " if match.score >= found.threshold else ""
            share = verdict.percent(match.probability)
            st.markdown(f"{named}**{ui.md(match.name)}** · {share}")
            st.progress(min(max(match.probability, 0.0), 1.0))
    st.caption(_("Each bar: the probability that the voice in the clip is that person's. "
                 ":material/check_circle: close enough to be named."))


class UnusableClip(Exception):
    """The upload could not be decoded (said as the other pages say it, see ui.show_unusable)."""

    def __init__(self, cause: SpeakerIDError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class AnalysedClip:
    """The heavy work for one clip's verdict, done in the shared pool: its analysis and who speaks when
    (for a clip long enough; None when too short, or when it failed and the page computes it to say
    why). Its figures are drawn after (:func:`render_figures`)."""

    analysis: Analysis
    timeline: Timeline | None


def analysed_clip(job: Job, clip: AudioClip | None, data: bytes, filename: str, encoder: Encoder,
                  gallery: Gallery, trim_ends: bool) -> AnalysedClip:
    """Decode (an upload), analyse and find who speaks when, reporting each step to ``job`` (which
    stops there when the page has gone)."""
    from speakerid.app.analysis import STEPS, analyse_steps
    from speakerid.audio import decode_bytes
    from speakerid.timeline import identify_timeline
    from speakerid.voices import find_voices

    if clip is None:
        job.checkpoint(_("Decoding the clip"))
        try:
            clip = decode_bytes(data, filename)
        except SpeakerIDError as exc:
            raise UnusableClip(exc) from exc
    steps = list(STEPS)
    job.checkpoint(_(STEPS[steps[0]]))
    for step, analysis in analyse_steps(clip, encoder, gallery, top_k=5, trim_ends=trim_ends):  # noqa: B007 (the last one)
        following = steps.index(step) + 1
        job.checkpoint(_(STEPS[steps[following]]) if following < len(steps) else "")
    timeline = None
    if clip.duration_s >= TIMELINE_MIN_DURATION_S:
        try:
            timeline = find_voices(identify_timeline(
                analysis.prepared, encoder, gallery, original_duration_s=clip.duration_s,
                progress=lambda done, total: job.checkpoint(_("Identifying window {done} of {total}…").format(
                    done=numerals.number(done), total=numerals.number(total)))),
                gallery)
        except SpeakerIDError:
            timeline = None  # the page computes it again and says why it failed
    return AnalysedClip(analysis, timeline)


def analyse_clip(clip: AudioClip | None, data: bytes, filename: str, key: str, encoder: Encoder,
                 gallery: Gallery, trim_ends: bool) -> None:
    """A clip's heavy work queued in the shared pool, the status saying where it waits, then each
    step's time; what it found kept in the session for this run and the next ones."""
    from speakerid.app.analysis import STEPS

    status = st.status(_("Analysing the clip…"), expanded=True)
    try:
        done = ui.run_queued(
            lambda job: analysed_clip(job, clip, data, filename, encoder, gallery, trim_ends),
            filename, lambda text: status.update(label=text))
    except UnusableClip as exc:
        status.update(label=_("The clip could not be identified"), state="error", expanded=False)
        ui.show_unusable(filename, exc.cause)
        st.stop()
    except SpeakerIDError as exc:
        status.update(label=_("The clip could not be identified"), state="error", expanded=False)
        st.error(ui.without_name(str(exc), filename), icon=":material/error:")
        st.stop()
    except Exception as exc:  # never show a stack trace to the user
        log.exception("analysis failed")
        status.update(label=_("Something went wrong"), state="error", expanded=False)
        problem = f"{type(exc).__name__}: {exc}"
        st.error(_("The clip could not be analysed ({problem}).").format(problem=problem),
                 icon=":material/error:")
        st.stop()
    timings = done.analysis.timings
    for step, seconds in timings.items():
        status.write(":material/check: " + _("{step} ({seconds:.2f} s)").format(step=_(STEPS[step]),
                                                                               seconds=seconds))
    status.update(label=_("Analysed in {seconds:.1f} s").format(seconds=sum(timings.values())),
                  state="complete", expanded=False)
    ui.keep("identify_result", (key, done.analysis))
    if done.timeline is not None:
        ui.keep("identify_timeline", (key, done.timeline))


def analyse(clip: AudioClip | None, long_upload: bool, data: bytes, filename: str, key: str,
            encoder: Encoder, gallery: Gallery, speakers: list[SpeakerInfo], trim_ends: bool
            ) -> tuple[Analysis | RecordingSummary, FigureSlots | None]:
    """Every step of the analysis (run in the shared pool, or from the session for a clip seen
    before) and the verdict beside it; what it found, and where its figures go (None for a long
    recording, drawn here). ``trim_ends``: leave out a long recording's ends."""
    left, right = st.columns([3, 2], gap="large")
    slots = None
    if st.session_state.get("identify_result", (None,))[0] != key:
        with left:
            if long_upload:
                analyse_long_upload(data, filename, gallery, key, trim_ends)
            else:
                analyse_clip(clip, data, filename, key, encoder, gallery, trim_ends)
    analysis = st.session_state["identify_result"][1]
    with left:
        if long_upload:
            render_long_preparation(analysis)
            render_long_features(analysis)
        else:
            slots = FigureSlots(render_preparation(analysis), render_features(analysis))
    with right:
        render_verdict(analysis, speakers, encoder,
                       clip_timeline(analysis, None if long_upload else analysis.clip, long_upload, key,
                                     encoder, gallery))
    return analysis, slots


def render_voice_enrolment(timeline: Timeline, clip: AudioClip | None, gallery: Gallery) -> None:
    """A name field per voice found in the clip: its segments become that speaker's enrolment clips."""
    from speakerid.voices import enroll_voice, found_voices, voice_clips

    voices = found_voices(timeline)
    if not voices:
        return
    st.markdown("###### " + _("Voices nobody enrolled"))
    if not ui.may(EDITOR):
        st.caption(_("{voices}: heard in the clip, matching nobody in the gallery. An editor can enrol "
                     "them.").format(voices=", ".join(map(shown_voice, voices))))
        return
    if clip is None:  # a long recording: streamed, its audio is not kept
        st.caption(_("{voices}: heard in the recording, matching nobody in the gallery. A recording this "
                     "long is not kept in memory, so its voices cannot be enrolled from here: cut a few "
                     "minutes around a voice and upload that, or enrol a clip of it in the Gallery.").format(
                         voices=", ".join(map(shown_voice, voices))))
        return
    st.caption(_("Each voice below was heard in the clip but matches nobody in the gallery. Listen, "
                 "name it and enrol it: its segments are kept as enrolment clips."))
    for index, voice in enumerate(voices):
        try:
            clips = voice_clips(clip, timeline, voice)
        except SpeakerIDError as exc:
            st.caption(f"**{shown_voice(voice)}**: {exc}.")
            continue
        speech = sum(c.duration_s for c in clips)
        with st.form(key=f"voice_form_{index}", border=True):
            st.markdown(f"**{shown_voice(voice)}** · " + _("{count} segment(s), {duration}").format(
                count=numerals.number(len(clips)), duration=ui.seconds(speech)))
            longest = max(clips, key=lambda c: c.duration_s)
            st.audio(longest.samples.mean(axis=1), sample_rate=longest.sample_rate)
            name = st.text_input(_("Name"), key=f"voice_name_{index}", placeholder=_("Who is this?"))
            if st.form_submit_button(_("Enrol this voice"), key=f"voice_enrol_{index}"):
                try:
                    info = enroll_voice(gallery, clip, timeline, voice, name)
                except SpeakerIDError as exc:
                    st.error(_("{voice} could not be enrolled: {problem}").format(
                        voice=shown_voice(voice), problem=exc),
                             icon=":material/error:")
                else:
                    ui.flash(_("Enrolled **{name}** from {voice}: {count} clip(s).").format(
                        name=ui.md(info.name), voice=shown_voice(voice), count=numerals.number(len(clips))))
                    st.rerun()


def who_speaks_when(analysis: Analysis | RecordingSummary, clip: AudioClip | None, long_upload: bool,
                    key: str, encoder: Encoder, gallery: Gallery) -> None:
    """The timeline of a long enough clip, with a form to enrol each voice nobody enrolled."""
    from speakerid.app import charts

    st.divider()
    st.markdown("##### " + _("Who speaks when"))
    ui.show_flash()
    timeline = clip_timeline(analysis, clip, long_upload, key, encoder, gallery)
    st.vega_lite_chart(charts.timeline(timeline, title=_("{count} segment(s) in {duration}").format(
                                           count=numerals.number(len(timeline.segments)),
                                           duration=ui.seconds(timeline.duration_s)),
                                       left_out=analysis.left_out),
                       width="stretch", key="timeline_chart")
    st.caption(_("Hover a bar for its times; scroll on the chart to zoom, drag to pan, double-click "
                 "to see the whole clip again.")
               + (_(" Shaded: left out, as asked.") if analysis.left_out else ""))
    totals = timeline.speaking_time()
    st.dataframe(
        [{_("from"): ui.clock(s.start_s), _("to"): ui.clock(s.end_s),
          _("speaker"): shown_voice(s.label) or _("unknown"),
          **({_("score"): None, _("probability"): ""} if s.label is None or not math.isfinite(s.probability)
             else {_("score"): round(s.score, 2),
                   _("probability"): verdict.percent(s.probability)})}
         for s in timeline.segments],
        hide_index=True, width="stretch")
    st.caption(_("Probability: that the segment is the named person's; for a voice nobody enrolled, "
                 "that its segments are all one voice."))
    st.caption(_("Speaking time: {times}").format(times=" · ".join(
        f"{shown_voice(name) or _('unknown')} {ui.seconds(t)}" for name, t in totals.items())))
    render_voice_enrolment(timeline, clip, gallery)


def render_evidence_download(analysis: Analysis | RecordingSummary, timeline: Timeline | None,
                             clip: AudioClip | None, data: bytes, uploaded: UploadedFile | None,
                             fetched: FetchedAudio | None, gallery: Gallery) -> None:
    """One click: the evidence report (speakerid.app.evidence), built when the button is pressed
    (from plain values: the download may be served outside this script run)."""
    from speakerid.app import evidence

    language = current_language()  # the page's: Streamlit may build the download on another thread

    def page() -> str:
        with in_language(language):
            return report()

    def report() -> str:
        if clip is None:  # a long upload, streamed
            facts = evidence.ClipFacts(uploaded.name, evidence.sha256_of(data), evidence.UPLOAD,
                                       analysis.input_rate, analysis.channels, analysis.duration_s)
            return evidence.evidence_html(facts, evidence.summary_findings(analysis, timeline), gallery)
        if fetched is not None:
            facts = evidence.ClipFacts(fetched.url, evidence.decoded_sha256(clip), evidence.DECODED,
                                       clip.sample_rate, clip.channels, clip.duration_s, fetched.title)
        else:
            facts = evidence.ClipFacts(uploaded.name or "recording", evidence.sha256_of(data),
                                       evidence.UPLOAD,
                                       clip.sample_rate, clip.channels, clip.duration_s)
        return evidence.evidence_html(facts, evidence.analysis_findings(analysis, timeline), gallery)

    st.download_button(_("Evidence report"), page, "speakerid-evidence.html", "text/html",
                       key="evidence_download", icon=":material/description:", on_click="ignore",
                       help=_("One HTML page to attach to a story: the clip's sha256, the verdict, what "
                              "the app heard, the scores against each enrolment clip, the model and its "
                              "calibration, and the caveats. Opens offline; prints to PDF."))


def main() -> None:
    """The page: a clip chosen, analysed step by step, its verdict, and who speaks when."""
    ui.ensure_app_frame()
    ui.release_ended_sessions()  # what closed tabs kept: an analysis each
    speakers = page_header()
    trim_ends = trim_ends_option()
    source, uploaded, fetched = choose_clip(speakers, trim_ends)
    clip, data, name, long_upload = read_clip(source, uploaded, fetched)
    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)
    gallery_signature = ";".join(f"{s.name}:{s.clips}" for s in speakers)
    key = ui.digest(data, name, ui.model_location()[0], str(ui.model_location()[1]),
                    gallery_signature, str(trim_ends))
    analysis, figure_slots = analyse(clip, long_upload, data, name or "upload", key, encoder, gallery,
                                     speakers, trim_ends)
    if not long_upload:
        clip = analysis.clip  # an upload is decoded in the shared pool
    if analysis.identification.best is not None:  # an empty gallery: nothing to report
        render_evidence_download(analysis, clip_timeline(analysis, clip, long_upload, key, encoder, gallery),
                                 clip, data, uploaded, fetched, gallery)
    if long_upload or clip.duration_s >= TIMELINE_MIN_DURATION_S:
        who_speaks_when(analysis, clip, long_upload, key, encoder, gallery)
    if figure_slots is not None:  # last: nothing on the page waits for them
        render_figures(analysis, encoder, key, figure_slots)


main()
