"""The bundled demo voices (:mod:`speakerid.demo`) in the app: a first visit's button that enrols
them, and the Identify page's example clips of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.app.accounts import EDITOR
from speakerid.demo import demo_examples, demo_voices, enrol_demo
from speakerid_ui.access_gate import may
from speakerid_ui.formatting import md
from speakerid_ui.navigation import PAGES
from speakerid_ui.resources import require_encoder, require_gallery
from speakerid_ui.widgets import flash, show_flash

if TYPE_CHECKING:
    from speakerid.gallery import SpeakerInfo


@dataclass(frozen=True)
class ExampleClip:
    """A bundled example clip, read by the Identify page as it reads an upload."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def demo_offer(where: str) -> None:
    """A first visit's shortcut: enrol the bundled demo voices in one click, then go to Identify,
    where their example clips are one click away. Enrolling changes the gallery: editors only."""
    if not may(EDITOR):
        return
    st.markdown("**Nothing to record yet?** Enrol four demo voices (LibriSpeech readers) and try "
                "the example clips on the Identify page.")
    if not st.button("Try the demo voices", type="primary", icon=":material/play_circle:",
                     key=f"demo_enrol_{where}"):
        return
    gallery = require_gallery(require_encoder())
    try:
        with st.spinner("Enrolling the demo voices…"):
            done = enrol_demo(gallery)
    except SpeakerIDError as exc:
        st.error(f"The demo voices could not be enrolled: {exc}", icon=":material/error:")
        return
    flash(f"Enrolled {len(done.enrolled)} demo voices. Pick an example clip to identify it.")
    st.switch_page(PAGES["identify"])


def demo_example(speakers: list[SpeakerInfo]) -> ExampleClip | None:
    """"Try an example" buttons while demo voices are enrolled; the example picked (kept for the
    session), or None."""
    if not {s.name for s in speakers} & {voice.name for voice in demo_voices()}:
        return None
    show_flash()
    examples = demo_examples()
    st.caption("Or try an example clip of the demo voices:")
    for index, (column, example) in enumerate(zip(st.columns(len(examples)), examples)):
        if column.button(example.label, key=f"demo_example_{index}", width="stretch"):
            st.session_state["demo_example"] = example.path.name
    chosen = next((e for e in examples if e.path.name == st.session_state.get("demo_example")), None)
    if chosen is None:
        return None
    st.caption(f"Example: **{md(chosen.label)}**")
    return ExampleClip(chosen.path.name, chosen.path.read_bytes())
