"""The clips a caller gives, made ready for the gallery: decoded, checked and embedded before any
write starts (a long file is streamed, never decoded whole)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import AudioClip
from ..errors import SpeakerIDError
from ..fetch import FetchedAudio
from ..i18n import _
from ..longform import LongRecording, is_long
from .clip_storage import ClipInput, as_clip, storable_audio
from .rows import StoredClip

if TYPE_CHECKING:
    from ..models.base import SpeakerModel as Encoder


def embed_inputs(encoder: Encoder, clips: Sequence[ClipInput] | ClipInput) -> list[StoredClip]:
    """Decode, check and embed every clip (raises before anything is written)."""
    items = [clips] if isinstance(clips, str | Path | AudioClip | FetchedAudio) else list(clips)
    if not items:
        raise SpeakerIDError(_("no clips given: enrolment needs at least one recording"))
    result = []
    for item in items:
        clip = as_clip(item)
        prepared = encoder.prepare(clip)
        audio, rate = storable_audio(clip)
        source, url = (item.title, item.url) if isinstance(item, FetchedAudio) else (clip.name, None)
        result.append(StoredClip(source or "clip", prepared.speech_s, rate,
                                 encoder.embed_prepared(prepared), audio, url))
    return result


def embed_one(encoder: Encoder, clip: ClipInput, trim_ends: bool = False) -> tuple[np.ndarray, float]:
    """The clip's embedding and its seconds of speech; a long file is streamed, not decoded whole
    (``trim_ends``: see :meth:`speakerid.models.base.SpeakerModel.prepare`)."""
    if not isinstance(clip, AudioClip) and is_long(clip):
        with LongRecording(clip, encoder, trim_ends=trim_ends) as recording:
            return recording.embedding(), recording.speech_s
    prepared = encoder.prepare(as_clip(clip), trim_ends)
    return encoder.embed_prepared(prepared), prepared.speech_s
