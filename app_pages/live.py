"""Live: who is speaking right now, from the microphone, updated every second or two."""

from __future__ import annotations

import sys

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError, plots
from speakerid.live import BUFFER_S, HOP_S, LiveIdentifier

st.title("Live")
st.caption(f"Identify continuously from the microphone: the app listens to the last {BUFFER_S:.0f} s "
           f"and updates the current speaker every {HOP_S:g} s when it hears enough speech.")

encoder = ui.require_encoder()
gallery = ui.require_gallery(encoder)
if len(gallery) == 0:
    ui.onboarding("live")

model_key = ui.model_location()
identifier: LiveIdentifier | None = st.session_state.get("live_identifier")
if identifier is None or st.session_state.get("live_model") != model_key:
    identifier = LiveIdentifier(encoder, gallery)
    st.session_state["live_identifier"] = identifier
    st.session_state["live_model"] = model_key


def on_audio(frame):
    """Runs on the WebRTC media thread for every 20 ms frame: only buffers it."""
    identifier.push_frame(frame)
    return frame


if "streamlit_webrtc" not in sys.modules and "tensorflow" in sys.modules:
    # importing it now would crash the server (see app.py): it must come before TensorFlow
    st.error("The microphone component was not loaded at start-up; restart the app with "
             "`streamlit run app.py`.", icon=":material/error:")
    st.stop()
try:
    from streamlit_webrtc import WebRtcMode, webrtc_streamer
except ImportError:  # a dependency of the app: reported, not raised
    st.error("The live page needs the streamlit-webrtc package (pip install -r requirements.txt).",
             icon=":material/error:")
    st.stop()

try:
    ctx = webrtc_streamer(
        key="live-microphone",
        mode=WebRtcMode.SENDONLY,
        audio_frame_callback=on_audio,
        media_stream_constraints={"audio": True, "video": False},
        rtc_configuration={"iceServers": []},  # the browser and the app are on one machine or LAN
        translations={"start": "Start listening", "stop": "Stop"},
    )
except Exception as exc:  # no browser session (e.g. a scripted run): say so instead of failing
    st.warning(f"The microphone stream is not available in this session ({type(exc).__name__}).",
               icon=":material/mic_off:")
    ctx = None
playing = bool(ctx is not None and ctx.state.playing)
if playing and not st.session_state.get("live_was_playing"):
    identifier.reset()  # a new session starts with an empty buffer; the last result stays after Stop
st.session_state["live_was_playing"] = playing
if not playing:
    st.caption("Press **Start listening** and allow the microphone. Speak, or play a recording near "
               "the microphone; the current speaker appears below.")


@st.fragment(run_every=1.0 if playing else None)
def current_speaker() -> None:
    try:
        identifier.update()
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    latest = identifier.latest
    heard = identifier.received_s
    with st.container(border=True):
        if latest is None:
            st.markdown("### :gray[:material/hearing: Waiting for audio…]" if not heard else
                        "### :gray[:material/hearing: Listening…]")
        elif latest.identification is None:
            st.markdown("### :gray[:material/hearing: Listening…]")
            st.caption(latest.message)
        elif latest.speaker is not None:
            best = latest.identification.best
            st.markdown(f"### :green[:material/record_voice_over:] {ui.md(latest.speaker)}")
            st.caption(f"score {best.score:.2f} · probability {best.probability:.0%} · "
                       f"{latest.speech_s:.1f} s of speech")
        else:
            best = latest.identification.best
            st.markdown("### :orange[:material/help:] Unknown speaker")
            st.caption(latest.message if best is None else
                       f"closest: {ui.md(best.name)}, score {best.score:.2f} "
                       f"(threshold {latest.identification.threshold:.2f})")
        cols = st.columns(3)
        cols[0].metric("Heard", ui.seconds(heard))
        level = identifier.level_db() if heard else None
        cols[1].metric("Input level", f"{level:.0f} dBFS" if level is not None and level > -100 else "—")
        cols[2].metric("Last update", f"at {latest.at_s:.0f} s" if latest is not None else "—",
                       help="Seconds of audio heard when the speaker was last identified")
    history = [r for r in identifier.history if r.identification is not None and r.identification.best]
    if len(history) >= 2:
        ui.show(plots.live_history([r.at_s for r in history],
                                   [r.identification.best.score for r in history],
                                   history[-1].identification.threshold, [r.speaker for r in history]))


current_speaker()
