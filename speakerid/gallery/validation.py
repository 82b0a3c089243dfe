"""Whether a gallery file from elsewhere can be trusted: every row and blob checked as this package
would have written it, before anything of it is imported."""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from ..config import LIMITS
from ..errors import SpeakerIDError
from ..fetch import is_link
from ..i18n import _
from .aliases import clean_alias
from .clip_storage import (
    EMBEDDING_DTYPE,
    FLAC_HEADER_BYTES,
    FLAC_MAGIC,
    MAX_STORED_AUDIO_BYTES,
    MAX_STORED_RATE,
    MAX_STORED_S,
    as_vector,
)
from .names import MAX_NAME_CHARS, MAX_TEXT_CHARS, clean_name, clean_text
from .rows import DETAIL_FIELDS
from .schema import READABLE_VERSIONS, check_schema, has_table, url_column

if TYPE_CHECKING:
    from ..models.base import SpeakerModel as Encoder


def validate_gallery(conn: sqlite3.Connection, label: Path, encoder: Encoder) -> None:
    """Refuse a file that is not an intact speakerid gallery (of either readable format). Vectors
    that claim to come from ``encoder`` must have its size (the others are re-embedded)."""
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise SpeakerIDError(_("{label} is damaged ({check})").format(label=label, check=check))
        check_schema(conn, label, READABLE_VERSIONS)
        _validate_speakers(conn, label)
        if has_table(conn, "aliases"):
            _validate_aliases(conn, label)
        encoder_id = conn.execute("SELECT value FROM meta WHERE key = 'encoder_id'").fetchone()
        _validate_clips(conn, label, encoder_id[0] if encoder_id else None,
                        (encoder.encoder_id, encoder.model_config.embedding_dim))
    except sqlite3.DatabaseError as exc:
        raise SpeakerIDError(_("{label} is damaged or not a speakerid gallery ({exc})").format(
            label=label, exc=exc)) from exc


def _validate_speakers(conn: sqlite3.Connection, label: Path) -> None:
    """Names must be valid (they are stored in their clean form on import: an older format kept
    runs of spaces) and details stored as this module would have stored them."""
    for name, *details in conn.execute("SELECT name, gender, party, notes FROM speakers"):
        try:
            valid = bool(clean_name(name)) and all(
                clean_text(value, field) == value for field, value in zip(DETAIL_FIELDS, details))
        except SpeakerIDError as exc:
            raise SpeakerIDError(_("{label} holds an invalid speaker: {exc}").format(
                label=label, exc=exc)) from None
        if not valid:
            raise SpeakerIDError(_("{label} holds an invalid speaker {name!r}").format(
                label=label, name=name))


def _validate_aliases(conn: sqlite3.Connection, label: Path) -> None:
    """Each alias stored as :func:`~.aliases.add_alias` stores it, for a speaker of the file."""
    for alias, name in conn.execute(
            "SELECT a.alias, s.name FROM aliases a LEFT JOIN speakers s ON s.id = a.speaker_id"):
        try:
            valid = name is not None and clean_alias(alias) == alias
        except SpeakerIDError as exc:
            raise SpeakerIDError(_("{label} holds an invalid alias: {exc}").format(
                label=label, exc=exc)) from None
        if not valid:
            raise SpeakerIDError(_("{label} holds an invalid alias {alias!r}").format(
                label=label, alias=alias))


def _validate_clips(conn: sqlite3.Connection, label: Path, encoder_id: str | None,
                    ours: tuple[str, int]) -> None:
    """Every clip row sound; the vectors of the file's encoder of one size, those claiming to be
    from ours (id, dimension) of its size. A clip a re-enrolment refused keeps a vector from an
    earlier encoder: it is re-embedded on import like any other vector not from ours."""
    dims = set()
    url = url_column(conn)
    rows = conn.execute(
        f"SELECT c.id, s.name, c.source, {url}, c.speech_s, c.sample_rate, c.encoder_id, c.embedding, "
        f"length(c.audio), substr(c.audio, 1, {FLAC_HEADER_BYTES}) "
        "FROM clips c LEFT JOIN speakers s ON s.id = c.speaker_id")
    for clip_id, name, source, url_value, speech_s, rate, clip_encoder, embedding, size, head in rows:
        problem = (_clip_problem(name, source, speech_s, rate, clip_encoder, encoder_id)
                   or _url_problem(url_value)
                   or _vector_problem(embedding, ours[1] if clip_encoder == ours[0] else None)
                   or _audio_problem(size, head, rate))
        if problem:
            raise SpeakerIDError(_("{label} is damaged: clip {clip_id}: {problem}").format(
                label=label, clip_id=clip_id, problem=problem))
        if clip_encoder == encoder_id:
            dims.add(len(embedding))
    if len(dims) > 1:
        raise SpeakerIDError(_("{label} is damaged: its embeddings have different sizes").format(label=label))


def _url_problem(url: Any) -> str | None:
    """Why a stored web address cannot be trusted (a page link would show it), or None."""
    if url is None or (isinstance(url, str) and len(url) <= MAX_TEXT_CHARS and is_link(url)):
        return None
    return "invalid web address"


def _clip_problem(name: Any, source: Any, speech_s: Any, rate: Any, clip_encoder: Any,
                  encoder_id: str | None) -> str | None:
    """Why a stored clip row cannot be trusted, or None."""
    if name is None:
        return "it belongs to no speaker"
    if not isinstance(source, str) or len(source) > MAX_TEXT_CHARS:
        return "invalid source name"
    if not isinstance(speech_s, int | float) or not math.isfinite(speech_s) or speech_s < 0:
        return "invalid seconds of speech"
    if not isinstance(rate, int) or not 1000 <= rate <= MAX_STORED_RATE:
        return "invalid sample rate"
    if encoder_id is None:
        return "the gallery does not say which encoder made its vectors"
    if not isinstance(clip_encoder, str) or not clip_encoder or len(clip_encoder) > MAX_NAME_CHARS:
        return "invalid encoder id"
    return None


def _vector_problem(embedding: Any, dim: int | None) -> str | None:
    """Why a stored embedding cannot be used, or None; ``dim``: the size it must have, if known."""
    itemsize = EMBEDDING_DTYPE.itemsize
    if (not isinstance(embedding, bytes) or not embedding or len(embedding) % itemsize
            or len(embedding) > LIMITS["embedding_dim"][1] * itemsize):
        return "invalid embedding"
    if dim is not None and len(embedding) != dim * itemsize:
        return f"its embedding has {len(embedding) // itemsize} values; this encoder makes {dim}"
    if not np.all(np.isfinite(as_vector(embedding))):
        return "embedding is not finite"
    return None


def _audio_problem(size: Any, head: Any, rate: int) -> str | None:
    """Why stored audio is not what :func:`~speakerid.gallery.clip_storage.storable_audio` writes
    (judged from its size and FLAC header: ``head`` is the blob's start), or None."""
    if not isinstance(head, bytes) or head[:len(FLAC_MAGIC)] != FLAC_MAGIC or not isinstance(size, int):
        return "stored audio is not FLAC"
    if size > MAX_STORED_AUDIO_BYTES:
        return f"stored audio of {size} bytes; speakerid stores at most {MAX_STORED_AUDIO_BYTES}"
    try:
        info = sf.info(io.BytesIO(head))
    except Exception:  # libsndfile reports damage in many ways
        return "stored audio is not FLAC"
    if info.samplerate != rate or info.channels != 1:
        return "stored audio is not mono at its recorded sample rate"
    if not 0 < info.frames <= (MAX_STORED_S + 1) * rate:
        return f"stored audio is empty or longer than {MAX_STORED_S:g} s"
    return None
