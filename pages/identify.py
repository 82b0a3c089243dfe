"""Identify (home page): who is speaking in an uploaded, linked or recorded clip, and how the app
decided; several uploads at once give a table of verdicts to download.

The page is drawn before TensorFlow has loaded (it is imported in the background, see speakerid_ui.resources);
the model is loaded, and the modules that need TensorFlow imported, once a clip is there.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, verdict
from speakerid.app.accounts import EDITOR
from speakerid.i18n import _
from speakerid.longform import STAGES as LONG_STAGES
from speakerid.longform import is_long
from speakerid.timeline import TIMELINE_MIN_DURATION_S

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from speakerid.app.analysis import Analysis
    from speakerid.audio import AudioClip
    from speakerid.fetch import FetchedAudio
    from speakerid.gallery import Gallery, Identification, SpeakerInfo
    from speakerid.longform import RecordingSummary
    from speakerid.models.encoder import Encoder
    from speakerid.timeline import Timeline

log = logging.getLogger(__name__)


def page_header() -> list[SpeakerInfo]:
    """The title and, before any clip, the gallery's state; everyone enrolled."""
    st.title("Who is speaking?")
    st.caption("Upload a clip, paste a link or record one. The app prepares the audio, shows each step, "
               "and compares the voice with everyone enrolled in the gallery. Several uploads at once "
               "give a table of verdicts.")

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
        bar = st.progress(0.0, text=f"Identifying {len(uploads)} clips…")
        results = list(identify_batch(
            [EncodedAudio(u.name, u.getvalue()) for u in uploads], gallery, top_k=5, trim_ends=trim_ends,
            progress=lambda done, total: bar.progress(done / total,
                                                      text=f"Identified {done} of {total} clips…")))
        bar.empty()
        st.session_state["identify_batch"] = (key, results)
    rows = [result.row() for result in results]
    failed = sum(row["error"] is not None for row in rows)
    st.markdown(f"##### {len(rows)} clips" + (f" · {failed} could not be identified" if failed else ""))
    ui.show_batch_table(rows)
    st.caption("Probability: that the voice is the named person's (or the closest one's, for an "
               "unknown speaker; none where several voices speak). Clips of "
               f"{TIMELINE_MIN_DURATION_S:.0f} s or more get who speaks when: the download has each "
               "segment and each voice.")
    left, right = st.columns(2)
    left.download_button("Download the table (CSV)", report_bytes(results, ".csv"),
                         "speakerid-report.csv", "text/csv", icon=":material/download:")
    right.download_button("Download with segments (JSON)", report_bytes(results, ".json"),
                          "speakerid-report.json", "application/json", icon=":material/download:")


def trim_ends_option() -> bool:
    """Whether to leave out a long recording's first and last minute: off unless asked."""
    return st.toggle(
        "Leave out the first and last minute of recordings over 5 minutes", value=False,
        key="identify_trim_ends", help="For web recordings that open and close with someone else (a "
        "host, applause, music). Off: every minute counts. On: the verdict says what was left out.")


def choose_clip(speakers: list[SpeakerInfo], trim_ends: bool
                ) -> tuple[str, UploadedFile | None, FetchedAudio | None]:
    """The source picked and its clip: an upload or recording, or fetched audio (a batch of uploads
    is handled here, and the page stops)."""
    source = st.radio("Source", ["Upload clips", "Paste a link", "Record in the browser"], horizontal=True,
                      key="identify_source", label_visibility="collapsed")
    uploaded = fetched = None
    if source == "Upload clips":
        uploads = st.file_uploader(
            "Audio or video files", type=ui.AUDIO_TYPES, key="identify_upload", accept_multiple_files=True,
            help="WAV, MP3, M4A, OGG/Opus, FLAC, WebM, MP4 and more; up to 200 MB each. Long recordings "
                 "are fine: every minute counts unless you leave out the ends above. One clip shows "
                 "every step; several give a table.") or []
        if len(uploads) > 1:
            render_batch(uploads, speakers, trim_ends)
            st.stop()
        uploaded = uploads[0] if uploads else ui.demo_example(speakers)
    elif source == "Paste a link":
        fetched = ui.link_input("identify")
    else:
        uploaded = st.audio_input("Record a few seconds of speech", key="identify_record")

    if uploaded is None and fetched is None:
        st.caption("Tip: 3 to 30 seconds of clear speech is enough. For clips longer than "
                   f"{TIMELINE_MIN_DURATION_S:.0f} s the app also shows who speaks when.")
        st.stop()
    return source, uploaded, fetched


def read_clip(source: str, uploaded: UploadedFile | None, fetched: FetchedAudio | None
              ) -> tuple[AudioClip | None, bytes, str, bool]:
    """(clip, data, name, long_upload): the clip decoded (None for a long upload, which is streamed),
    and the bytes and name that make its key."""
    long_upload = False
    if fetched is not None:
        clip = fetched.clip
        data = clip.samples[:clip.sample_rate].tobytes()  # with the address and length: this clip's key
        name = fetched.url + str(clip.samples.shape)
        st.caption(f":material/link: [{ui.md(fetched.title)}]({fetched.url}) · {ui.seconds(clip.duration_s)}")
    else:
        data, name = uploaded.getvalue(), uploaded.name
        long_upload = source == "Upload clips" and is_long(data)  # streamed, never decoded whole
        clip = None if long_upload else ui.decode(uploaded)
        if clip is None and not long_upload:
            st.stop()
        if source == "Upload clips":
            st.audio(data)
    return clip, data, name, long_upload


def render_preparation(analysis: Analysis) -> None:
    # TensorFlow (and matplotlib): imported once the model, which needs them too, has loaded.
    from speakerid.app import plots

    prepared = analysis.prepared
    st.markdown("##### 1 · Preparing the audio")
    decoded, trimmed, final = prepared.stages[0], prepared.stage("trim"), prepared.stages[-1]
    cols = st.columns(4)
    cols[0].metric("Input", ui.compact_duration(decoded.duration_s), help=decoded.note)
    cols[1].metric("Trimmed", ui.compact_duration(trimmed.duration_s), help=trimmed.note)
    cols[2].metric("Speech kept", ui.compact_duration(final.duration_s),
                   delta=f"-{ui.compact_duration(max(trimmed.duration_s - final.duration_s, 0))} silence",
                   delta_color="off", help=prepared.stage("silence").note)
    cols[3].metric("Sample rate", f"{final.sample_rate / 1000:g} kHz",
                   help=prepared.stage("resample").note)
    ui.show(plots.pipeline_waveforms(prepared), ui.LEFT_COLUMN_PX)
    with st.expander("Every stage"):
        st.dataframe([{"stage": s.name, "output": ui.seconds(s.duration_s), "what happened": s.note}
                      for s in prepared.stages], hide_index=True, width="stretch")


def render_features(analysis: Analysis, encoder: Encoder) -> None:
    st.markdown("##### 2 · What the encoder sees")
    count = len(analysis.windows)
    longest = max(b - a for a, b in analysis.windows)
    text = (f"one window of {ui.seconds(longest)}" if count == 1
            else f"{count} windows of {ui.seconds(longest)}, embeddings averaged")
    render_front_ends(analysis, encoder)
    st.caption(f"The encoder reads the speech in {text}: the coloured bars above the image.")


def render_front_ends(analysis: Analysis, encoder: Encoder) -> None:
    """One spectrogram per network's front end (a fused model has two), each labelled with the
    network that reads it; several are offered as tabs."""
    from speakerid.app import plots
    from speakerid.app.analysis import front_ends

    parts = front_ends(analysis.features, encoder)
    places = st.tabs([f"Read by {part.reader}" for part in parts]) if len(parts) > 1 else [st.container()]
    for place, part in zip(places, parts):
        with place:
            ui.show(plots.spectrogram(part.features, analysis.frames_per_second, analysis.windows,
                                      title=f"{part.description}, read by {part.reader}"), ui.LEFT_COLUMN_PX)


def render_long_preparation(summary: RecordingSummary) -> None:
    """A long recording's preparation: its figures and its envelope (nothing longer is kept)."""
    from speakerid.app import plots

    st.markdown("##### 1 · Preparing the audio")
    cols = st.columns(4)
    cols[0].metric("Input", ui.compact_duration(summary.duration_s),
                   help=f"{summary.channels} channel(s), {summary.input_rate} Hz")
    cols[1].metric("Trimmed", ui.compact_duration(summary.trimmed_s),
                   help="kept {:.1f}-{:.1f} s".format(*summary.trim))
    cols[2].metric("Speech kept", ui.compact_duration(summary.speech_s),
                   delta=f"-{ui.compact_duration(max(summary.trimmed_s - summary.speech_s, 0))} silence",
                   delta_color="off", help=f"{len(summary.spans)} segment(s) of speech")
    cols[3].metric("Sample rate", f"{summary.sample_rate / 1000:g} kHz")
    ui.show(plots.waveform(summary.overview, summary.overview_rate, kept=summary.speech_on_input(),
                           title=f"input, mono at {summary.sample_rate} Hz: {ui.seconds(summary.duration_s)}",
                           removed_label="trimmed ends and silence"), ui.LEFT_COLUMN_PX)


def render_long_features(summary: RecordingSummary) -> None:
    st.caption("A long recording is read, prepared and embedded a block at a time, so that its length "
               "does not decide the memory it needs; the encoder's windows are averaged as for a short clip.")


def analyse_long_upload(data: bytes, filename: str, gallery: Gallery, key: str, trim_ends: bool) -> None:
    """Stream the upload once (verdict, timeline, envelope) and keep only what the page shows."""
    from speakerid.longform import summarise_recording
    from speakerid.voices import find_voices

    bar = st.progress(0.0, text="Reading the recording…")

    def progress(stage: str, done: float, total: float) -> None:
        bar.progress(min(done / max(total, 1e-9), 1.0),
                     text=f"{LONG_STAGES[stage]}: {done:.0f} of {total:.0f}")

    try:
        summary = summarise_recording(data, gallery, filename, top_k=5, timeline=True,
                                      progress=progress, trim_ends=trim_ends)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(ui.without_name(str(exc), filename), icon=":material/error:")
        st.stop()
    bar.empty()
    st.session_state["identify_result"] = (key, summary)
    st.session_state["identify_timeline"] = (key, find_voices(summary.timeline, gallery))


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
    bar = st.progress(0.0, text="Identifying the clip window by window…")
    try:
        timeline = find_voices(identify_timeline(
            analysis.prepared, encoder, gallery,
            original_duration_s=clip.duration_s,
            progress=lambda done, total: bar.progress(
                done / max(total, 1), text=f"Identifying window {done} of {total}…")), gallery)
    except SpeakerIDError as exc:
        bar.empty()
        st.error(f"The timeline could not be computed: {exc}", icon=":material/error:")
        st.stop()
    bar.empty()
    st.session_state["identify_timeline"] = (key, timeline)
    return timeline


def render_verdict(analysis: Analysis, speakers: list[SpeakerInfo], encoder: Encoder,
                   timeline: Timeline | None) -> None:
    """The answer in words and one probability (``timeline``: who speaks when, for a clip long
    enough); how it was decided, for whoever asks."""
    found = analysis.identification
    best = found.best
    closest = next((s for s in speakers if best is not None and s.name == best.name), None)
    said = verdict.decide(found, analysis.speech_s, closest, timeline)
    st.markdown("##### Verdict")
    with st.container(border=True, key="verdict"):
        icon = {"match": ":green[:material/check_circle:]", "unknown": ":orange[:material/help:]",
                "empty": ":material/group_off:", "several": ":blue[:material/groups:]"}[said.kind]
        st.markdown(f"### {icon} {ui.md(said.headline)}")
        if said.kind == "empty":
            st.caption("Enrol speakers in the Gallery first; then this clip can be identified.")
            return
        details = ([x for x in (closest.gender, closest.party) if x]
                   if said.kind == "match" and closest is not None else [])
        if details:
            st.caption(" · ".join(ui.md(x) for x in details))
        st.markdown(ui.md(said.summary))
        if not said.voices and best.llr is not None:
            st.caption(ui.md(f"Evidence: {verdict.evidence_line(best.llr)} (see How this was decided)"))
        if analysis.left_out:
            text = verdict.left_out_text(analysis.left_out)
            st.caption(ui.md(f"{text[:1].upper()}{text[1:]}, as asked."))
        if said.voices:
            st.markdown("\n".join(f"- {ui.md(verdict.voice_line(voice))}" for voice in said.voices))
        if said.advice:
            st.info("**A close call.** What would settle it:\n"
                    + "\n".join(f"- {ui.md(line)}" for line in said.advice), icon=":material/lightbulb:")
        with st.expander("How this was decided"):
            for paragraph in verdict.explain(found, analysis.speech_s, closest,
                                             encoder.calibration.false_accept_rate, said.voices):
                st.markdown(ui.md(paragraph))
            st.caption(f"For specialists: {ui.md(encoder.calibration.method)}")
    render_matches(found)


def render_matches(found: Identification) -> None:
    """Every ranked voice with the probability that it is the one in the clip, names in full."""
    st.markdown("##### Top matches")
    with st.container(key="matches"):
        for match in found.matches:
            named = ":green[:material/check_circle:] " if match.score >= found.threshold else ""
            st.markdown(f"{named}**{ui.md(match.name)}** · {verdict.percent(match.probability)}")
            st.progress(min(max(match.probability, 0.0), 1.0))
    st.caption("Each bar: the probability that the voice in the clip is that person's. "
               ":material/check_circle: close enough to be named.")


def analyse(clip: AudioClip | None, long_upload: bool, data: bytes, filename: str, key: str,
            encoder: Encoder, gallery: Gallery, speakers: list[SpeakerInfo], trim_ends: bool
            ) -> Analysis | RecordingSummary:
    """Every step of the analysis drawn as it runs (or from the session, for a clip seen before), the
    verdict beside it; what it found. ``trim_ends``: leave out a long recording's ends."""
    from speakerid.app.analysis import STEPS, analyse_steps

    left, right = st.columns([3, 2], gap="large")
    renderers = {"prepare": render_preparation, "features": lambda shown: render_features(shown, encoder)}
    if long_upload:
        renderers = {"prepare": render_long_preparation, "features": render_long_features}
        if st.session_state.get("identify_result", (None,))[0] != key:
            with left:
                analyse_long_upload(data, filename, gallery, key, trim_ends)
    cached = st.session_state.get("identify_result")
    if cached is not None and cached[0] == key:
        analysis = cached[1]
        with left:
            for step in ("prepare", "features"):
                renderers[step](analysis)
        with right:
            render_verdict(analysis, speakers, encoder,
                           clip_timeline(analysis, clip, long_upload, key, encoder, gallery))
    else:
        with left:
            status = st.status("Analysing the clip…", expanded=True)
            try:
                for step, analysis in analyse_steps(clip, encoder, gallery, top_k=5, trim_ends=trim_ends):
                    status.write(f":material/check: {STEPS[step]} ({analysis.timings[step]:.2f} s)")
                    if step in renderers:
                        renderers[step](analysis)
                    elif step == "identify":
                        with right:
                            render_verdict(analysis, speakers, encoder,
                                           clip_timeline(analysis, clip, long_upload, key, encoder, gallery))
            except SpeakerIDError as exc:
                status.update(label="The clip could not be identified", state="error", expanded=False)
                st.error(ui.without_name(str(exc), clip.name), icon=":material/error:")
                st.stop()
            except Exception as exc:  # never show a stack trace to the user
                log.exception("analysis failed")
                status.update(label="Something went wrong", state="error", expanded=False)
                st.error(f"The clip could not be analysed ({type(exc).__name__}: {exc}).",
                         icon=":material/error:")
                st.stop()
            status.update(label=f"Analysed in {sum(analysis.timings.values()):.1f} s", state="complete",
                          expanded=False)
        st.session_state["identify_result"] = (key, analysis)
    return analysis


def render_voice_enrolment(timeline: Timeline, clip: AudioClip | None, gallery: Gallery) -> None:
    """A name field per voice found in the clip: its segments become that speaker's enrolment clips."""
    from speakerid.voices import enroll_voice, found_voices, voice_clips

    voices = found_voices(timeline)
    if not voices:
        return
    st.markdown("###### Voices nobody enrolled")
    if not ui.may(EDITOR):
        st.caption(_("{voices}: heard in the clip, matching nobody in the gallery. An editor can enrol "
                     "them.").format(voices=", ".join(voices)))
        return
    if clip is None:  # a long recording: streamed, its audio is not kept
        st.caption(f"{', '.join(voices)}: heard in the recording, matching nobody in the gallery. A "
                   "recording this long is not kept in memory, so its voices cannot be enrolled from "
                   "here: cut a few minutes around a voice and upload that, or enrol a clip of it in "
                   "the Gallery.")
        return
    st.caption("Each voice below was heard in the clip but matches nobody in the gallery. Listen, "
               "name it and enrol it: its segments are kept as enrolment clips.")
    for index, voice in enumerate(voices):
        try:
            clips = voice_clips(clip, timeline, voice)
        except SpeakerIDError as exc:
            st.caption(f"**{voice}**: {exc}.")
            continue
        speech = sum(c.duration_s for c in clips)
        with st.form(key=f"voice_form_{index}", border=True):
            st.markdown(f"**{voice}** · {len(clips)} segment(s), {ui.seconds(speech)}")
            longest = max(clips, key=lambda c: c.duration_s)
            st.audio(longest.samples.mean(axis=1), sample_rate=longest.sample_rate)
            name = st.text_input("Name", key=f"voice_name_{index}", placeholder="Who is this?")
            if st.form_submit_button("Enrol this voice", key=f"voice_enrol_{index}"):
                try:
                    info = enroll_voice(gallery, clip, timeline, voice, name)
                except SpeakerIDError as exc:
                    st.error(f"{voice} could not be enrolled: {exc}", icon=":material/error:")
                else:
                    ui.flash(f"Enrolled **{ui.md(info.name)}** from {voice}: {len(clips)} clip(s).")
                    st.rerun()


def who_speaks_when(analysis: Analysis | RecordingSummary, clip: AudioClip | None, long_upload: bool,
                    key: str, encoder: Encoder, gallery: Gallery) -> None:
    """The timeline of a long enough clip, with a form to enrol each voice nobody enrolled."""
    from speakerid.app import charts

    st.divider()
    st.markdown("##### Who speaks when")
    ui.show_flash()
    timeline = clip_timeline(analysis, clip, long_upload, key, encoder, gallery)
    st.vega_lite_chart(charts.timeline(timeline, title=f"{len(timeline.segments)} segment(s) in "
                                                    f"{ui.seconds(timeline.duration_s)}",
                                       left_out=analysis.left_out),
                       width="stretch", key="timeline_chart")
    st.caption("Hover a bar for its times; scroll on the chart to zoom, drag to pan, double-click "
               "to see the whole clip again." + (" Shaded: left out, as asked." if analysis.left_out else ""))
    totals = timeline.speaking_time()
    st.dataframe(
        [{"from": ui.clock(s.start_s), "to": ui.clock(s.end_s), "speaker": s.label or "unknown",
          **({"score": None, "probability": ""} if s.label is None or not math.isfinite(s.probability)
             else {"score": round(s.score, 2), "probability": verdict.percent(s.probability)})}
         for s in timeline.segments],
        hide_index=True, width="stretch")
    st.caption("Probability: that the segment is the named person's; for a voice nobody enrolled, "
               "that its segments are all one voice.")
    st.caption("Speaking time: " + " · ".join(f"{name or 'unknown'} {ui.seconds(t)}"
                                              for name, t in totals.items()))
    render_voice_enrolment(timeline, clip, gallery)


def render_evidence_download(analysis: Analysis | RecordingSummary, timeline: Timeline | None,
                             clip: AudioClip | None, data: bytes, uploaded: UploadedFile | None,
                             fetched: FetchedAudio | None, gallery: Gallery) -> None:
    """One click: the evidence report (speakerid.app.evidence), built when the button is pressed
    (from plain values: the download may be served outside this script run)."""
    from speakerid.app import evidence

    def page() -> str:
        if clip is None:  # a long upload, streamed
            facts = evidence.ClipFacts(uploaded.name, evidence.sha256_of(data), "the upload",
                                       analysis.input_rate, analysis.channels, analysis.duration_s)
            return evidence.evidence_html(facts, evidence.summary_findings(analysis, timeline), gallery)
        if fetched is not None:
            facts = evidence.ClipFacts(fetched.url, evidence.decoded_sha256(clip), evidence.DECODED,
                                       clip.sample_rate, clip.channels, clip.duration_s, fetched.title)
        else:
            facts = evidence.ClipFacts(uploaded.name or "recording", evidence.sha256_of(data), "the upload",
                                       clip.sample_rate, clip.channels, clip.duration_s)
        return evidence.evidence_html(facts, evidence.analysis_findings(analysis, timeline), gallery)

    st.download_button("Evidence report", page, "speakerid-evidence.html", "text/html",
                       key="evidence_download", icon=":material/description:", on_click="ignore",
                       help="One HTML page to attach to a story: the clip's sha256, the verdict, what "
                            "the app heard, the scores against each enrolment clip, the model and its "
                            "calibration, and the caveats. Opens offline; prints to PDF.")


def main() -> None:
    """The page: a clip chosen, analysed step by step, its verdict, and who speaks when."""
    ui.ensure_app_frame()
    speakers = page_header()
    trim_ends = trim_ends_option()
    source, uploaded, fetched = choose_clip(speakers, trim_ends)
    clip, data, name, long_upload = read_clip(source, uploaded, fetched)
    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)
    gallery_signature = ";".join(f"{s.name}:{s.clips}" for s in speakers)
    key = ui.digest(data, name, ui.model_location()[0], str(ui.model_location()[1]),
                    gallery_signature, str(trim_ends))
    analysis = analyse(clip, long_upload, data, name, key, encoder, gallery, speakers, trim_ends)
    if analysis.identification.best is not None:  # an empty gallery: nothing to report
        render_evidence_download(analysis, clip_timeline(analysis, clip, long_upload, key, encoder, gallery),
                                 clip, data, uploaded, fetched, gallery)
    if long_upload or clip.duration_s >= TIMELINE_MIN_DURATION_S:
        who_speaks_when(analysis, clip, long_upload, key, encoder, gallery)


main()
