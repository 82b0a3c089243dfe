"""An evidence report a journalist can attach to a story file: one self-contained HTML page.

A verdict that goes to print must be checkable later: which file, exactly (its sha256), which
model and calibration, what the app heard and drew, how the clip scored against each enrolment clip
of the person named, and what weakens the result. :func:`evidence_html` writes all of it into one
page with its styles inline and its figures as ``data:`` URIs, so it opens anywhere offline and
prints to PDF (``@media print``). Every piece of text from outside (names, file names, titles,
notes) is HTML-escaped. The CLI's ``identify --evidence DIR`` and the Identify page's download
button both build it here, in the language in use when it is made.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..audio import AudioClip
from ..calibration_text import say_method
from ..fetch import DEFAULT_LIMITS, FetchedAudio, FetchLimits, is_link
from ..i18n import N_, _, current_language
from ..inputs import WHOLE, Input, audio_of, label, load_input
from ..inputs import Span as InputSpan
from ..numerals import number
from ..verdict import (
    STEADY_SPEECH_S,
    clock,
    decide,
    evidence_line,
    explain,
    left_out_text,
    likelihood_ratio,
    percent,
    several_voices,
    voice_line,
)
from ..voice_labels import shown_voice

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..gallery import Gallery
    from ..longform import RecordingSummary
    from ..models.base import SpeakerModel
    from ..results import Identification, Timeline
    from .analysis import Analysis

Span = tuple[float, float]

TELEPHONE_RATE = 8000  # a recording at this rate or lower carries nothing above 4 kHz
TELEPHONE_CUTOFF_HZ = 4000.0
TELEPHONE_SHARE = 0.002  # of the speech's energy above 4 kHz: under it, the sound came through a phone
# What is hashed (ClipFacts.hashed): the file, an upload's bytes, or the decoded audio when the file's
# bytes are not at hand; translated where the report shows them.
FILE = N_("the file")
UPLOAD = N_("the upload")
DECODED = N_("the decoded audio (32-bit float samples)")
GALLERY_FEW_SPEAKERS = 30  # a gallery refit on fewer rests on far fewer trials than the model's own


@dataclass(frozen=True)
class ClipFacts:
    """What identifies the clip itself: its source and a hash of exactly what was analysed."""

    source: str  # a path, a link or an upload's name
    sha256: str
    hashed: str  # what the hash is of: FILE, UPLOAD or DECODED
    sample_rate: int  # of the original
    channels: int
    duration_s: float
    title: str | None = None  # the page's title, for a link


@dataclass(frozen=True)
class Findings:
    """What the app found in the clip, ready to be reported."""

    identification: Identification
    speech_s: float
    embedding: np.ndarray | None  # the clip's; None where it was not kept (a streamed recording)
    timeline: Timeline | None
    telephone_band: bool
    left_out: list[Span] = field(default_factory=list)
    figures: list[tuple[str, Figure]] = field(default_factory=list)  # (caption, figure)


@dataclass(frozen=True)
class EnrolmentScore:
    """The clip against one enrolment clip of the person named."""

    source: str
    url: str | None
    speech_s: float
    score: float
    log10_lr: float | None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_telephone_band(original_rate: int, speech: np.ndarray | None, rate: int) -> bool:
    """Whether the clip sounds as through a phone line: recorded at 8 kHz or less, or its speech
    (at ``rate``) carrying under 0.2 % of its energy above 4 kHz."""
    if original_rate <= TELEPHONE_RATE:
        return True
    if speech is None or len(speech) < 2 or rate <= 2 * TELEPHONE_CUTOFF_HZ:
        return False
    power = np.abs(np.fft.rfft(np.asarray(speech, dtype=np.float64))) ** 2
    frequencies = np.fft.rfftfreq(len(speech), 1.0 / rate)
    total = power.sum()
    return bool(total > 0 and power[frequencies > TELEPHONE_CUTOFF_HZ].sum() / total < TELEPHONE_SHARE)


def enrolment_scores(gallery: Gallery, name: str, embedding: np.ndarray, speech_s: float
                     ) -> list[EnrolmentScore]:
    """The clip's score (and likelihood ratio, for a clip of ``speech_s`` seconds of speech)
    against each of ``name``'s enrolment clips, in enrolment order."""
    names, vectors = gallery.clip_embeddings()
    own = vectors[[i for i, n in enumerate(names) if n == name]]
    if len(own) == 0:
        return []
    scores = gallery.encoder.score_matrix(np.asarray(embedding)[None], own)[0]
    calibration = gallery.calibration.for_duration(speech_s)
    return [EnrolmentScore(source.source, source.url, source.speech_s, float(score),
                           calibration.supported_log10_lr(float(score)))
            for source, score in zip(gallery.clip_sources(name), scores)]


def caveats(findings: Findings, gallery: Gallery) -> list[str]:
    """What weakens this result, in words: little speech, a telephone band, several voices, a
    threshold refit on a small gallery."""
    notes = []
    if findings.speech_s < STEADY_SPEECH_S:
        notes.append(_("Little speech: {seconds:.1f} s once silence is removed. Scores from under "
                       "{steady:.0f} s of speech vary more, so the numbers are less certain.").format(
                           seconds=findings.speech_s, steady=STEADY_SPEECH_S))
    if findings.telephone_band:
        notes.append(_("Telephone band: the clip carries little or no sound above 4 kHz (as through a "
                       "phone line, or recorded at 8 kHz). A clip and an enrolment recorded through "
                       "different channels score lower than two alike, so a miss is likelier."))
    voices = several_voices(findings.timeline)
    if voices:
        notes.append(_("Several voices: {count} voices each hold a real share of the speech. The "
                       "whole-clip numbers mix them; the timeline says who speaks when.").format(
                           count=len(voices)))
    speakers = len(gallery.speakers())
    if gallery.calibration != gallery.encoder.calibration and speakers < GALLERY_FEW_SPEAKERS:
        notes.append(_("Gallery calibration on few speakers: the threshold was refit on this gallery's "
                       "own {count} speakers, far fewer trials than the model's own calibration.").format(
                           count=speakers))
    return notes


def model_facts(model: SpeakerModel) -> list[tuple[str, str]]:
    """The model's name, fingerprint, sha256 of its files and provenance (from its config.json), in
    the language in use."""
    facts = [(_("name"), type(model).__name__ + f" ({model.model_config.backbone})"),
             (_("version (fingerprint of weights and pipeline)"), model.encoder_id)]
    folder = model.path
    if folder is None or not Path(folder).is_dir():
        return [*facts, (_("files"), _("not saved to disk"))]
    facts.append((_("sha256 of its files"), folder_sha256(Path(folder))))
    facts.append((_("folder"), str(folder)))
    config = Path(folder) / "config.json"
    data = json.loads(config.read_text()) if config.is_file() else {}
    if "recipe" in data:
        facts.append((_("recipe"), str(data["recipe"])))
    for member in data.get("fusion", {}).get("members", []):
        facts.append((_("member {path}").format(path=member.get("path")),
                      _("weight {weight}").format(weight=member.get("weight"))))
    if "provenance" in data:
        facts.append((_("provenance"), json.dumps(data["provenance"], ensure_ascii=False)))
    if "calibrated_on" in data:
        facts.append((_("calibrated on"), _("{count} held-out speakers").format(
            count=len(data["calibrated_on"]))))
    return facts


def folder_sha256(folder: Path) -> str:
    """One sha256 over every file under ``folder`` (relative names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        _hash_file(digest, path)
    return digest.hexdigest()


def figure_uri(figure: Figure) -> str:
    """A figure as a PNG ``data:`` URI, so the page needs no other file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def evidence_html(clip: ClipFacts, findings: Findings, gallery: Gallery,
                  created: datetime | None = None) -> str:
    """The whole report as one HTML page (see the module doc)."""
    from . import plots

    found = findings.identification
    best = found.best
    speakers = {s.name: s for s in gallery.speakers()}
    closest = speakers.get(best.name) if best is not None else None
    said = decide(found, findings.speech_s, closest, findings.timeline)
    created = created or datetime.now(UTC)
    figures = list(findings.figures)
    if findings.timeline is not None:
        figures.append((_("Who speaks when (the parts left out, as asked, shaded grey)")
                        if findings.left_out else _("Who speaks when"),
                        plots.timeline(findings.timeline, left_out=findings.left_out)))
    verdict_lines = [said.summary, *(voice_line(v) for v in said.voices)]
    if best is not None and best.llr is not None and not said.voices:
        verdict_lines.append(_("Evidence: {evidence}.").format(evidence=evidence_line(best.llr)))
    if findings.left_out:
        text = left_out_text(findings.left_out)
        verdict_lines.append(_("{left_out}, as asked.").format(left_out=f"{text[:1].upper()}{text[1:]}"))
    notes = caveats(findings, gallery)
    sections = [
        "<h1>" + _e(_("Voice identification: evidence report")) + "</h1><p class=meta>"
        + _e(_("Written {when} by speakerid {version}").format(
            when=created.strftime("%Y-%m-%d %H:%M UTC"), version=__version__)) + "</p>",
        f"<section class=verdict><h2>{_e(said.headline)}</h2>"
        + "".join(f"<p>{_e(line)}</p>" for line in verdict_lines if line) + "</section>",
        _heading(_("Caveats")) + (_list(notes) if notes else _paragraph(_(
            "None of the usual ones applies (little speech, telephone band, several voices, a gallery "
            "calibration on few speakers)."))),
        _heading(_("The clip")) + _table([
            (_e(_("source")), _link(clip.source)),
            *([(_e(_("title")), _e(clip.title))] if clip.title else []),
            (_e(_("sha256 of {what}").format(what=_(clip.hashed))), f"<code>{_e(clip.sha256)}</code>"),
            (_e(_("length")), _e(clock(clip.duration_s)) + f" ({clip.duration_s:.2f} s)"),
            (_e(_("original sample rate")), _e(_("{rate} Hz, {channels} channel(s)").format(
                rate=clip.sample_rate, channels=clip.channels))),
            (_e(_("speech analysed")), f"{findings.speech_s:.1f} s"),
        ]),
        _heading(_("How this was decided")) + "".join(
            _paragraph(p) for p in explain(found, findings.speech_s, closest,
                                           gallery.calibration.false_accept_rate, said.voices)),
        _matches_section(found),
        _enrolment_section(gallery, findings, best.name if best is not None else None),
        _heading(_("Threshold and calibration")) + _table([
            (_e(_("threshold for this clip")), _e(_(
                "{threshold:.3f} (for {seconds:.1f} s of speech and {count} enrolled speakers)").format(
                    threshold=found.threshold, seconds=findings.speech_s, count=len(speakers)))),
            (_e(_("calibration in use")), _e(_("refit on this gallery's own voices")
             if gallery.calibration != gallery.encoder.calibration else _("the model's own"))),
            (_e(_("how it was fitted")), _e(say_method(gallery.calibration.method))),
            (_e(_("likelihood ratios stated")), _e(_ratio_bounds(
                gallery.calibration.for_duration(findings.speech_s).llr_bounds))),
        ]),
        _heading(_("The model")) + _table([(_e(k), _e(v)) for k, v in model_facts(gallery.encoder)]),
        _heading(_("What the app heard")) + "".join(
            f"<figure><img alt=\"{_e(caption)}\" src=\"{figure_uri(figure)}\">"
            f"<figcaption>{_e(caption)}</figcaption></figure>" for caption, figure in figures),
        _segments_section(findings.timeline),
        f"<footer>speakerid {_e(__version__)} · " + _e(_(
            "software version, model fingerprint and sha256 above identify exactly what produced this "
            "page.")) + "</footer>",
    ]
    return (f"<!DOCTYPE html><html lang={current_language()}><head><meta charset=utf-8><title>"
            + _e(_("Evidence: {source}").format(source=clip.source)) + f"</title><style>{STYLE}</style>"
            "</head><body>" + "\n".join(s for s in sections if s) + "</body></html>\n")


def write_evidence(page: str, folder: Path, source: str) -> Path:
    """Write ``page`` into ``folder`` as ``<source's name>-evidence.html`` (a number added where a
    file of that name is already there, so no report overwrites another)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(source.rstrip("/")).stem)[:80]
    path, number = folder / f"{stem or 'clip'}-evidence.html", 1
    while path.exists():
        number += 1
        path = folder / f"{stem or 'clip'}-evidence-{number}.html"
    path.write_text(page, encoding="utf-8")
    return path


def _matches_section(found: Identification) -> str:
    rows = "".join(f"<tr><td>{rank}</td><td>{_e(m.name)}</td><td>{m.score:.3f}</td>"
                   f"<td>{_e(percent(m.probability))}</td><td>{_llr(m.llr)}</td></tr>"
                   for rank, m in enumerate(found.matches, start=1))
    return (_heading(_("Ranked matches")) + "<table>"
            + _header_row("#", _("enrolled voice"), _("score"), _("probability"), "log10 LR")
            + f"{rows}</table>")


def _enrolment_section(gallery: Gallery, findings: Findings, name: str | None) -> str:
    if name is None:
        return ""
    heading = _heading(_("Against each enrolment clip of {name}").format(name=name))
    if findings.embedding is None:
        return heading + _paragraph(_("Not available: a recording this long is streamed and its "
                                      "voiceprint is not kept."))
    rows = "".join(
        f"<tr><td>{i}</td><td>{_link(s.url) if s.url else ''}{' ' if s.url else ''}{_e(s.source)}</td>"
        f"<td>{s.speech_s:.1f} s</td><td>{s.score:.3f}</td><td>{_llr(s.log10_lr)}</td></tr>"
        for i, s in enumerate(enrolment_scores(gallery, name, findings.embedding, findings.speech_s), 1))
    return (heading + _paragraph(_("The verdict compares the clip with the average of these clips; each "
                                   "one on its own shows whether they agree.")) + "<table>"
            + _header_row("#", _("enrolment clip"), _("speech"), _("score"), "log10 LR")
            + f"{rows}</table>")


def _segments_section(timeline: Timeline | None) -> str:
    if timeline is None:
        return ""
    rows = "".join(f"<tr><td>{_e(clock(s.start_s))}-{_e(clock(s.end_s))}</td>"
                   f"<td>{_e(shown_voice(s.label) or _('unknown'))}</td>"
                   f"<td>{'' if s.speaker is None else _e(percent(s.probability))}</td></tr>"
                   for s in timeline.segments)
    return (_heading(_("Who speaks when")) + "<table>"
            + _header_row(_("time"), _("voice"), _("probability")) + f"{rows}</table>")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _heading(text: str) -> str:
    return f"<h2>{_e(text)}</h2>"


def _paragraph(text: str) -> str:
    return f"<p>{_e(text)}</p>"


def _header_row(*cells: str) -> str:
    return "<tr>" + "".join(f"<th>{_e(cell)}</th>" for cell in cells) + "</tr>"


def _link(source: str) -> str:
    """A link as a link (http and https only), anything else as text."""
    if source.startswith(("http://", "https://")):
        return f"<a href=\"{_e(source)}\">{_e(source)}</a>"
    return _e(source)


def _ratio_bounds(bounds: tuple[float, float] | None) -> str:
    """What the calibration's trials let a report state (:meth:`Calibration.supported_log10_lr`)."""
    if bounds is None:
        return _("as fitted (the calibration does not say on how many trials)")
    return _("from {low} to {high}: no ratio beyond what its {same} same-speaker and {different} "
             "different-speaker trials can support").format(
                 low=likelihood_ratio(bounds[0]), high=likelihood_ratio(bounds[1]),
                 same=number(round(10 ** -bounds[0])), different=number(round(10 ** bounds[1])))


def _llr(value: float | None) -> str:
    return _("n/a") if value is None else f"{value:+.2f}"


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """Two columns of already-escaped HTML."""
    return "<table class=facts>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


STYLE = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;max-width:60rem;
margin:2rem auto;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #d9dee3}
.meta,footer{color:#7b8794;font-size:.85rem}footer{margin-top:2rem}
.verdict{border:2px solid #2563eb;border-radius:.5rem;padding:.2rem 1rem;background:#f5f8ff}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d9dee3;padding:.3rem .5rem;text-align:left;vertical-align:top}
table.facts th{width:16rem;background:#f7f8fa;font-weight:600}
code{font-size:.8rem;word-break:break-all}
figure{margin:1rem 0}img{max-width:100%}figcaption{color:#7b8794;font-size:.85rem}
@media print{body{margin:0;max-width:none;font-size:10pt}a{color:inherit}
figure,table,tr,.verdict{break-inside:avoid}h2{break-after:avoid}}
"""


def analysis_findings(analysis: Analysis, timeline: Timeline | None) -> Findings:
    """The findings of a clip analysed step by step (the Identify page's, :func:`evidence_for`)."""
    from . import plots

    prepared = analysis.prepared
    speech = prepared.stages[-1]
    return Findings(analysis.identification, analysis.speech_s, analysis.embedding, timeline,
                    is_telephone_band(analysis.clip.sample_rate, speech.signal, speech.sample_rate),
                    analysis.left_out,
                    [(_("The preparation stages: the input, what trimming and silence removal kept, and "
                        "the speech the encoder heard"), plots.pipeline_waveforms(prepared)),
                     (_("The log-mel spectrogram of the speech, with the encoder's windows above it"),
                      plots.spectrogram(analysis.features, analysis.frames_per_second, analysis.windows))])


def summary_findings(summary: RecordingSummary, timeline: Timeline | None) -> Findings:
    """The findings of a long recording streamed once (no spectrogram nor voiceprint is kept)."""
    from . import plots

    return Findings(summary.identification, summary.speech_s, None, timeline,
                    is_telephone_band(summary.input_rate, None, summary.sample_rate), summary.left_out,
                    [(_("The recording's envelope; the parts not heard as speech (or left out) shaded"),
                      plots.waveform(summary.overview, summary.overview_rate, kept=summary.speech_on_input(),
                                     removed_label="left out or silence"))])


def evidence_for(item: Input, gallery: Gallery, span: InputSpan = WHOLE, limits: FetchLimits = DEFAULT_LIMITS,
                 trim_ends: bool = False) -> tuple[ClipFacts, Findings]:
    """Load and analyse one input for its report (the CLI's ``identify --evidence``): a long local
    file streamed, anything else decoded whole; a file's own bytes hashed, else the decoded audio."""
    from ..longform import summarise_recording
    from ..timeline import TIMELINE_MIN_DURATION_S, identify_timeline
    from ..voices import find_voices
    from .analysis import analyse
    from .batch import _streamable

    if _streamable(item, span):
        path = Path(item)
        summary = summarise_recording(path, gallery, None, timeline=True, trim_ends=trim_ends)
        timeline = find_voices(summary.timeline, gallery) if summary.timeline is not None else None
        return (ClipFacts(str(item), file_sha256(path), FILE, summary.input_rate, summary.channels,
                          summary.duration_s), summary_findings(summary, timeline))
    loaded = load_input(item, span, limits)
    clip = audio_of(loaded)
    analysis = analyse(clip, gallery.encoder, gallery, trim_ends=trim_ends)
    timeline = None
    if analysis.identification.best is not None and clip.duration_s >= TIMELINE_MIN_DURATION_S:
        timeline = find_voices(identify_timeline(analysis.prepared, gallery.encoder, gallery,
                                                 original_duration_s=clip.duration_s), gallery)
    whole_file = isinstance(item, str | Path) and not is_link(item) and span == WHOLE
    facts = ClipFacts(label(item), file_sha256(Path(item)) if whole_file else decoded_sha256(clip),
                      FILE if whole_file else DECODED,
                      clip.sample_rate, clip.channels, clip.duration_s,
                      loaded.title if isinstance(loaded, FetchedAudio) else None)
    return facts, analysis_findings(analysis, timeline)


def file_sha256(path: Path) -> str:
    return _hash_file(hashlib.sha256(), path).hexdigest()


def _hash_file(digest: Any, path: Path) -> Any:
    """``digest`` updated with the file's bytes, a megabyte at a time."""
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest


def decoded_sha256(clip: AudioClip) -> str:
    return sha256_of(np.ascontiguousarray(clip.samples, dtype=np.float32).tobytes())
