"""Identify many clips in one go (files, folders, links, uploads) and write one report row each.

A newsroom gets recordings by the folder; a batch must run unattended, so a clip that fails is
recorded with its reason and the batch goes on. The CLI's ``identify`` and the Identify page's
several-uploads table both run :func:`identify_batch` and write :func:`write_report`; ``identify
--json`` prints the same rows (:func:`report_bytes`), failures included.

A row's ``verdict`` is :func:`speakerid.verdict.in_short`: a name, "unknown speaker", "empty
gallery", "error", or for a clip whose timeline hears several voices (see :mod:`speakerid.verdict`)
"several voices: Ann (0:00-0:12), ...", with ``speaker``, ``score``, ``probability`` and ``llr`` null (they
would be those of all the voices mixed) and ``voices`` listing each voice's name, seconds and
probability (a found "Voice A"'s: that its turns are one voice). A found voice's segments carry its
own numbers too, never the nearest enrolled person's; an unknown stretch's segment has none.
``left_out`` lists the ends of a long recording left out when asked (``trim_ends``), else null.
``llr`` is the best match's log10 likelihood ratio (:meth:`speakerid.scoring.Calibration.log10_lr`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpeakerIDError
from ..fetch import DEFAULT_LIMITS, DownloadProgress, FetchedAudio, FetchLimits, is_link
from ..i18n import _
from ..inputs import WHOLE, Input, Span, audio_of, expand, label, load_input
from ..longform import StageProgress, is_long, summarise_recording
from ..results import Progress, Timeline
from ..timeline import TIMELINE_MIN_DURATION_S, identify_timeline
from ..verdict import in_short, left_out, several_voices
from ..voices import find_voices

if TYPE_CHECKING:
    from ..gallery import Gallery
    from ..results import Identification

log = logging.getLogger(__name__)

REPORT_FORMATS = (".csv", ".json")
REPORT_COLUMNS = ("input", "title", "verdict", "speaker", "score", "probability", "llr", "voices", "speech_s",
                  "duration_s", "threshold", "error", "matches", "segments", "left_out")
NESTED_COLUMNS = ("voices", "matches", "segments", "left_out")  # lists: JSON text in the CSV


@dataclass(frozen=True)
class ClipResult:
    """One input's outcome: its identification, or the reason it failed (``error``)."""

    input: str
    identification: Identification | None = None
    title: str | None = None  # the page's title, for a link
    speech_s: float | None = None
    duration_s: float | None = None
    timeline: Timeline | None = None  # for clips long enough to have one, when asked for
    error: str | None = None
    left_out: tuple[Span, ...] = ()  # the ends of a long recording left out, when asked (trim_ends)

    def row(self) -> dict[str, Any]:
        """The report's row (see the module doc): the verdict in words, the best match's score and
        probability, the voices of a several-voices verdict, the ranked matches and, for a clip
        long enough, the timeline's segments (start, end, speaker, voice, score, probability)."""
        found = self.identification
        if found is None:
            return {**dict.fromkeys(REPORT_COLUMNS), "input": self.input, "title": self.title,
                    "verdict": _("error"), "speech_s": _rounded(self.speech_s),
                    "duration_s": _rounded(self.duration_s), "error": self.error, "left_out": None}
        voices = several_voices(self.timeline)
        best = None if voices else found.best
        return {"input": self.input, "title": self.title, "verdict": in_short(found, self.timeline),
                "speaker": None if voices else found.speaker,
                "score": _number(best.score) if best else None,
                "probability": _number(best.probability) if best else None,
                "llr": _number(best.llr) if best else None,
                "voices": [{"name": v.name, "seconds": round(v.seconds, 2),
                            "probability": _number(v.probability)} for v in voices] or None,
                "speech_s": _rounded(self.speech_s), "duration_s": _rounded(self.duration_s),
                "threshold": _number(found.threshold), "error": self.error,
                "matches": [{"name": m.name, "score": _number(m.score),
                             "probability": _number(m.probability), "llr": _number(m.llr)}
                            for m in found.matches],
                "segments": None if self.timeline is None else [
                    {"start_s": round(s.start_s, 2), "end_s": round(s.end_s, 2), "speaker": s.speaker,
                     "voice": s.voice, **{key: None if s.label is None else _number(value)
                                          for key, value in (("score", s.score),
                                                             ("probability", s.probability))}}
                    for s in self.timeline.segments],
                "left_out": [{"start_s": round(a, 2), "end_s": round(b, 2)}
                             for a, b in self.left_out] or None}


def check_report_path(path: str | Path) -> Path:
    """Refuse a report name whose format is unknown, before hours of work are spent."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_FORMATS:
        raise SpeakerIDError(_("{name}: the report must end in .csv or .json").format(name=path.name))
    if not path.parent.is_dir():
        raise SpeakerIDError(_("{folder}: no such folder for the report").format(folder=path.parent))
    return path


def identify_batch(inputs: Sequence[Input], gallery: Gallery, top_k: int = 5, span: Span = WHOLE,
                   limits: FetchLimits = DEFAULT_LIMITS, timeline: bool = True,
                   progress: Progress | None = None,
                   download_progress: DownloadProgress | None = None,
                   stage_progress: StageProgress | None = None, trim_ends: bool = False
                   ) -> Iterator[ClipResult]:
    """Identify every input (folders expanded) in order, yielding each result as it is ready;
    ``progress(done, total)`` after each. With ``timeline``, clips long enough also get who
    speaks when. A long recording file is streamed in bounded memory (:mod:`speakerid.longform`),
    ``stage_progress`` following its stages. ``trim_ends``: leave out the first and last minute of
    recordings over 5 minutes (the result's ``left_out`` says which parts)."""
    items = expand(inputs)
    for done, item in enumerate(items, start=1):
        try:
            if _streamable(item, span):
                result = _identify_long(item, gallery, top_k, timeline, stage_progress, trim_ends)
            else:
                result = _identify_one(item, gallery, top_k, span, limits, timeline, download_progress,
                                       trim_ends)
        except SpeakerIDError as exc:
            result = ClipResult(label(item), error=str(exc))
        except Exception as exc:  # a bug must not lose the rest of an unattended batch
            log.exception("identifying %s failed", label(item))
            result = ClipResult(label(item), error=f"unexpected {type(exc).__name__}: {exc}")
        yield result
        if progress is not None:
            progress(done, len(items))


def report_bytes(results: Sequence[ClipResult], suffix: str) -> bytes:
    """The report in the format named by ``suffix`` (.csv: the lists as JSON text columns).

    Names keep their own characters ("पुष्पकमल दाहाल", not ``\\u092a...``) in both formats, and the
    CSV starts with a UTF-8 byte-order mark: without it Excel reads the file in the system's
    legacy code page and shows Devanagari as mojibake."""
    rows = [result.row() for result in results]
    if suffix.lower() == ".json":
        return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, **{key: "" if row[key] is None else json.dumps(row[key], ensure_ascii=False)
                                   for key in NESTED_COLUMNS}})
    return text.getvalue().encode("utf-8-sig")


def write_report(results: Sequence[ClipResult], path: str | Path) -> Path:
    """Write the report to ``path`` (.csv or .json); written whole, so a reader never sees half."""
    path = check_report_path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(report_bytes(results, path.suffix))
    partial.replace(path)
    return path


def _streamable(item: Input, span: Span) -> bool:
    """A local file, used whole, long enough to be streamed rather than decoded at once."""
    return (isinstance(item, str | Path) and not is_link(item) and span == WHOLE
            and Path(item).is_file() and is_long(item))


def _identify_long(path: str | Path, gallery: Gallery, top_k: int, with_timeline: bool,
                   progress: StageProgress | None, trim_ends: bool) -> ClipResult:
    summary = summarise_recording(path, gallery, None, top_k, with_timeline, progress, trim_ends)
    timeline = find_voices(summary.timeline, gallery) if summary.timeline is not None else None
    return ClipResult(label(path), summary.identification, None, summary.speech_s, summary.duration_s,
                      timeline, left_out=tuple(left_out(summary.trim, summary.duration_s)))


def _identify_one(item: Input, gallery: Gallery, top_k: int, span: Span, limits: FetchLimits,
                  with_timeline: bool, download_progress: DownloadProgress | None,
                  trim_ends: bool) -> ClipResult:
    loaded = load_input(item, span, limits, download_progress)
    clip = audio_of(loaded)
    title = loaded.title if isinstance(loaded, FetchedAudio) else None
    encoder = gallery.encoder
    prepared = encoder.prepare(clip, trim_ends)
    found = gallery.identify_embedding(encoder.embed_prepared(prepared), top_k, prepared.speech_s)
    timeline = None
    if with_timeline and found.best is not None and clip.duration_s >= TIMELINE_MIN_DURATION_S:
        timeline = find_voices(identify_timeline(prepared, encoder, gallery,
                                                 original_duration_s=clip.duration_s), gallery)
    return ClipResult(label(item), found, title, prepared.speech_s, clip.duration_s, timeline,
                      left_out=tuple(left_out(prepared.stage("trim").kept[0], clip.duration_s)))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _number(value: float | None) -> float | None:
    """A score or probability for the report: 4 decimals; None for none or NaN (not valid JSON)."""
    return None if value is None or not math.isfinite(value) else round(float(value), 4)
