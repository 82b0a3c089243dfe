"""Live: who is speaking right now, from the microphone, updated every second or two.

The browser's microphone reaches the server over WebRTC (streamlit-webrtc). Each audio frame is
only queued (a sink on the media thread); the identifier's worker threads take the frames in
batches and identify at most once per hop, and the page redraws what they found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from streamlit_webrtc import AudioSinkTrack, WebRtcMode, webrtc_streamer

import speakerid_ui as ui
from speakerid import SpeakerIDError, numerals, verdict
from speakerid.app.live import BUFFER_S, HOP_S, LiveIdentifier
from speakerid.i18n import _
from speakerid_ui.language import follow_session_language

if TYPE_CHECKING:
    from speakerid.gallery import Gallery
    from speakerid.models.encoder import Encoder

LEVEL_FLOOR_DB = -60.0  # the level meter's empty end


def session_identifier(encoder: Encoder, gallery: Gallery) -> LiveIdentifier:
    """This session's identifier, kept across reruns; a new one, warmed up, when the model changed."""
    model_key = ui.model_location()
    identifier: LiveIdentifier | None = st.session_state.get("live_identifier")
    if identifier is None or st.session_state.get("live_model") != model_key:
        if identifier is not None:
            identifier.stop()
        identifier = LiveIdentifier(encoder, gallery)
        identifier.warm_up()  # while the page is read and the microphone connects
        st.session_state["live_identifier"] = identifier
        st.session_state["live_model"] = model_key
        # one sink per identifier, kept across reruns: streamlit-webrtc attaches each new stream to it
        st.session_state["live_sink"] = AudioSinkTrack(identifier.push_frame)
    return identifier


def listen(identifier: LiveIdentifier, ice_servers: list[dict]) -> bool:
    """The microphone's WebRTC stream into the identifier, its workers running while it plays;
    whether it plays."""
    try:
        ctx = webrtc_streamer(
            key="live-microphone",
            mode=WebRtcMode.SENDONLY,
            sink_audio_track=st.session_state["live_sink"],
            media_stream_constraints={"audio": True, "video": False},
            rtc_configuration={"iceServers": ice_servers},
            translations={"start": _("Start listening"), "stop": _("Stop")},
        )
    except Exception as exc:  # no browser session (e.g. a scripted run): say so instead of failing
        st.warning(_("The microphone stream is not available in this session ({problem}).").format(
            problem=type(exc).__name__), icon=":material/mic_off:")
        ctx = None
    playing = bool(ctx is not None and ctx.state.playing)
    if playing and not st.session_state.get("live_was_playing"):
        identifier.reset()  # a new session starts with an empty buffer; the last result stays after Stop
    st.session_state["live_was_playing"] = playing
    if playing:
        identifier.start()
    else:
        identifier.stop()
        st.caption(_("Press **Start listening** and allow the microphone. Speak, or play a recording near "
                     "the microphone; the current speaker appears below."))
    return playing


def current_speaker(identifier: LiveIdentifier, playing: bool) -> None:
    """What the workers found; redrawn every second while listening (only reads, never computes)."""
    follow_session_language()  # a fragment's rerun skips the frame
    if playing:
        identifier.start()  # again if they stopped for want of audio
    if identifier.problem:
        st.error(identifier.problem, icon=":material/error:")
    latest = identifier.latest
    heard = identifier.received_s
    with st.container(border=True, key="live_now"):
        if latest is None:
            st.markdown("### :gray[:material/hearing: {}]".format(
                _("Waiting for audio…") if not heard else _("Listening…")))
        elif latest.identification is None:
            st.markdown("### :gray[:material/hearing: {}]".format(_("Listening…")))
            st.caption(latest.message)
        elif latest.speaker is not None:
            best = latest.identification.best
            st.markdown(f"### :green[:material/record_voice_over:] {ui.md(latest.speaker)}")
            st.caption(_("score {score} · probability {probability} · {speech} s of speech").format(
                score=numerals.number(best.score, ".2f"), probability=verdict.percent(best.probability),
                speech=numerals.number(latest.speech_s, ".1f")))
        else:
            best = latest.identification.best
            st.markdown("### :orange[:material/help:] " + _("Unknown speaker"))
            st.caption(latest.message if best is None else
                       _("closest: {name}, score {score} (threshold {threshold})").format(
                           name=ui.md(best.name), score=numerals.number(best.score, ".2f"),
                           threshold=numerals.number(latest.identification.threshold, ".2f")))
        cols = st.columns(3)
        cols[0].metric(_("Heard"), ui.seconds(heard), help=_("Seconds of audio received since Start"))
        level = identifier.level_db() if heard else LEVEL_FLOOR_DB
        with cols[1]:
            st.caption(_("Input level"))
            st.progress(min(max(1 - level / LEVEL_FLOOR_DB, 0.0), 1.0),
                        text=f"{level:.0f} dBFS" if level > LEVEL_FLOOR_DB else _("silent"))
        cols[2].metric(_("Last update"),
                       _("at {seconds} s").format(seconds=numerals.number(latest.at_s, ".0f"))
                       if latest is not None else "—",
                       help=_("Seconds of audio heard when the speaker was last identified"))


    history = [r for r in identifier.history if r.identification is not None and r.identification.best]
    if len(history) >= 2:  # drawn by the browser: a figure drawn here every second would slow the stream
        st.caption(_("Best score over time, against the threshold"))
        seconds, best, threshold = _("seconds"), _("best score"), _("threshold")
        st.line_chart({seconds: [r.at_s for r in history],
                       best: [r.identification.best.score for r in history],
                       threshold: [r.identification.threshold for r in history]},
                      x=seconds, y=[best, threshold], height=180)


def main() -> None:
    """The page: the microphone, then the current speaker, redrawn every second while listening."""
    ui.ensure_app_frame()
    st.title(_("Live"))
    st.caption(_("Identify continuously from the microphone: the app listens to the last {buffer} s "
                 "and updates the current speaker every {hop} s when it hears enough speech.").format(
                     buffer=numerals.number(BUFFER_S, ".0f"), hop=numerals.number(HOP_S, "g")))

    encoder = ui.require_encoder()
    gallery = ui.require_gallery(encoder)
    if len(gallery) == 0:
        ui.onboarding("live")
    try:
        ice_servers = ui.ice_servers()
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()

    identifier = session_identifier(encoder, gallery)
    playing = listen(identifier, ice_servers)
    st.fragment(current_speaker, run_every=1.0 if playing else None)(identifier, playing)


main()
