"""The Streamlit side of speakerid: the frame around the pages (navigation, sidebar, access gate),
the cached model and gallery, friendly errors, onboarding, small widgets and text formatting, one
module each; the pages use them through the names below (``import speakerid_ui as ui``).

Presentation only: everything computed comes from the ``speakerid`` package. Nothing here imports
TensorFlow: it is imported in a background thread (:mod:`speakerid_ui.resources`), so the first
page draws in about the time of any Streamlit page, and pages wait for the model only where they
use it.
"""

# streamlit-webrtc (the Live page) must be imported before TensorFlow: its SRTP library crashes the
# process when it initialises after TensorFlow has loaded. Every page imports this package first.
import streamlit_webrtc  # noqa: F401, I001

from speakerid_ui.access_gate import may, require_role
from speakerid_ui.batch_table import show_batch_table
from speakerid_ui.demo import demo_example
from speakerid_ui.errors import refusals_note
from speakerid_ui.formatting import clock, compact_duration, md, seconds, without_name
from speakerid_ui.frame import app_frame, ensure_app_frame, run_page
from speakerid_ui.ice import ice_servers
from speakerid_ui.onboarding import onboarding
from speakerid_ui.resources import (
    clear_model_cache,
    digest,
    load_encoder,
    loaded_encoder,
    model_location,
    open_gallery,
    require_encoder,
    require_gallery,
    require_speakers,
)
from speakerid_ui.widgets import (
    AUDIO_TYPES,
    LEFT_COLUMN_PX,
    data_roots_help,
    decode,
    download_progress,
    flash,
    link_field,
    link_input,
    show,
    show_flash,
)

__all__ = [
    "AUDIO_TYPES", "LEFT_COLUMN_PX", "app_frame", "clear_model_cache", "clock", "compact_duration",
    "data_roots_help", "decode", "demo_example", "digest", "download_progress", "ensure_app_frame", "flash",
    "ice_servers", "link_field", "link_input", "load_encoder", "loaded_encoder", "may", "md",
    "model_location", "onboarding", "open_gallery", "refusals_note", "require_encoder", "require_gallery",
    "require_role", "require_speakers", "run_page", "seconds", "show", "show_batch_table", "show_flash",
    "without_name",
]
