"""The verdict in words, for people who are not speaker-recognition experts.

The decision itself is the gallery's: a name only when the closest voice's score reaches the
threshold (see :class:`~speakerid.gallery.Identification`). This module says it in one sentence with
one number people understand (the calibrated probability that the clip and the closest enrolled voice
share a speaker), says what would settle a close call, and explains the decision without jargon.
Plain text throughout: the caller escapes it for its own markup.

Several voices. A clip with a timeline (20 s or more, see
:data:`~speakerid.app.timeline.TIMELINE_MIN_DURATION_S`) in which two or more voices each hold a real
share of the speech is not put down to one person: its verdict is "Several voices: Ann (0:00-0:12,
0:25-0:33), Bob (0:12-0:25), Voice A (0:33-0:51)". A voice (an enrolled name, or a voice nobody
enrolled found by :mod:`speakerid.app.voices`) counts when its segments make at least
``SEVERAL_VOICES_SHARE`` (15 %) of the seconds the timeline attributes, unknown stretches included,
and at least ``SEVERAL_VOICES_MIN_S`` (5 s): a cough or a one-word interjection does not make a clip
a conversation. A shorter clip has no timeline, so its verdict is always about one voice.
:func:`decide` (the page) and :func:`in_short` (CLI, batch rows and JSON) say it in the same words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .app.timeline import Segment, Timeline
    from .gallery import Identification, SpeakerInfo

BANDS = ((0.99, "almost certain"), (0.9, "very likely"), (0.7, "likely"))  # a name below: "possible"
CLOSE_CALL_PROBABILITY = 0.2  # an unknown voice at least this probable may still be the closest
CLOSE_CALL_MARGIN = 0.1  # a score this share of the threshold's size under it is a close call too
STEADY_SPEECH_S = 10.0  # speech in a clip from which scores vary little
ENROLLED_ENOUGH = (2, 30.0)  # clips and seconds of speech: fewer and another enrolment clip helps
SEVERAL_VOICES_SHARE = 0.15  # a voice speaks in a verdict from this share of the timeline's seconds
SEVERAL_VOICES_MIN_S = 5.0  # ... and from this many seconds
TURNS_SHOWN = 3  # a voice's turns listed in the verdict; the rest are counted
# The ENFSI guideline's verbal scale for likelihood ratios (2015), by log10 LR: support from 1 up.
SUPPORT = ((6.0, "extremely strong"), (4.0, "very strong"), (3.0, "strong"), (2.0, "moderately strong"),
           (1.0, "moderate"), (0.0, "weak"))


@dataclass(frozen=True)
class Voice:
    """One voice with a real share of a clip's speech (see the module doc)."""

    name: str  # an enrolled name, or a found voice's "Voice A"
    seconds: float
    turns: list[tuple[float, float]]  # its segments' (start, end) in the clip, in order
    probability: float | None  # enrolled: that these turns are that person's; found: that they are
    enrolled: bool             # one voice (see speakerid.app.voices); None: not known


@dataclass(frozen=True)
class Verdict:
    """What the page leads with: the answer, its probability, and advice for a close call."""

    kind: Literal["match", "unknown", "empty", "several"]  # several: a conversation (module doc)
    headline: str  # "Pushpa Kamal Dahal: very likely"
    summary: str = ""  # the probability in a sentence
    advice: list[str] = field(default_factory=list)  # what would settle a close call; empty otherwise
    voices: list[Voice] = field(default_factory=list)  # who speaks, for a several-voices verdict


def percent(probability: float) -> str:
    """A probability as people read it, never a false "100%" or "0%"."""
    if probability > 0.99:
        return "over 99%"
    if probability < 0.01:
        return "under 1%"
    return f"{probability:.0%}"


def distinct(score: float, threshold: float) -> tuple[str, str]:
    """Both numbers with two decimals, or more where two would show a score under the threshold
    as equal to it."""
    for digits in (2, 3, 4):
        shown = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if (shown[0] == shown[1]) == (score == threshold):
            return shown
    return shown


def clock(seconds: float) -> str:
    """A time in a clip: m:ss, or h:mm:ss from an hour."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def likelihood_ratio(log10_lr: float) -> str:
    """A likelihood ratio as people read it, to two figures: "1 300", or "1/40" for one under 1."""
    ratio = 10 ** abs(log10_lr)
    if ratio >= 1e6:
        return "over a million" if log10_lr >= 0 else "under one in a million"
    shown = f"{float(f'{ratio:.2g}'):,.0f}".replace(",", " ") if ratio >= 10 else f"{ratio:.1f}"
    return shown if log10_lr >= 0 else f"1/{shown}"


def evidence_strength(log10_lr: float) -> str:
    """The ENFSI verbal scale: "moderately strong support for the same speaker"."""
    word = next(word for floor, word in SUPPORT if abs(log10_lr) >= floor)
    side = "the same speaker" if log10_lr >= 0 else "different speakers"
    return f"{word} support for {side}"


def evidence_line(log10_lr: float) -> str:
    """ "likelihood ratio 1 200 (log10 LR +3.1): strong support for the same speaker"."""
    return (f"likelihood ratio {likelihood_ratio(log10_lr)} (log10 LR {log10_lr:+.1f}): "
            f"{evidence_strength(log10_lr)}")


def several_voices(timeline: Timeline | None) -> list[Voice]:
    """The voices with a real share of ``timeline``'s speech, in the order they first speak, when
    there are two or more of them (see the module doc); else none."""
    if timeline is None:
        return []
    total = sum(s.duration_s for s in timeline.segments)
    voices = []
    for name in dict.fromkeys(s.label for s in timeline.segments if s.label is not None):
        turns = [s for s in timeline.segments if s.label == name]
        seconds = sum(s.duration_s for s in turns)
        if seconds >= SEVERAL_VOICES_MIN_S and seconds >= SEVERAL_VOICES_SHARE * total:
            voices.append(Voice(name, float(seconds), [(float(s.start_s), float(s.end_s)) for s in turns],
                                _probability(turns), turns[0].speaker is not None))
    return voices if len(voices) >= 2 else []


def _probability(turns: Sequence[Segment]) -> float | None:
    """The turns' probability, window-weighted; None where a found voice's is not known (NaN)."""
    windows = sum(s.windows for s in turns)
    value = sum(s.probability * s.windows for s in turns) / windows if windows else math.nan
    return float(value) if math.isfinite(value) else None


def several_voices_text(voices: Sequence[Voice]) -> str:
    """ "several voices: Ann (0:00-0:12, 0:25-0:33), Bob (0:12-0:25), Voice A (0:33-0:51)"."""
    def turns(voice: Voice) -> str:
        shown = ", ".join(f"{clock(a)}-{clock(b)}" for a, b in voice.turns[:TURNS_SHOWN])
        more = len(voice.turns) - TURNS_SHOWN
        return shown + (f" and {more} more turn{'s' if more != 1 else ''}" if more > 0 else "")

    return "several voices: " + ", ".join(f"{v.name} ({turns(v)})" for v in voices)


def voice_line(voice: Voice) -> str:
    """One voice of a several-voices verdict: how long it speaks and how sure the name is."""
    said = f"{voice.name}: {voice.seconds:.1f} s"
    if voice.enrolled:
        return said + ("" if voice.probability is None else
                       f", {percent(voice.probability)} probability that this is {voice.name}'s voice")
    return said + ", a voice nobody enrolled" + (
        "" if voice.probability is None else
        f" ({percent(voice.probability)} probability that its turns are one voice)")


def in_short(identification: Identification, timeline: Timeline | None = None) -> str:
    """The verdict in a few words, for the CLI and the report's rows: a name, "unknown speaker",
    "empty gallery", or "several voices: ..." (the page's headline in the same words)."""
    voices = several_voices(timeline)
    if identification.best is None:
        return "empty gallery"
    if voices:
        return several_voices_text(voices)
    return identification.speaker or "unknown speaker"


def decide(identification: Identification, speech_s: float, closest: SpeakerInfo | None = None,
           timeline: Timeline | None = None) -> Verdict:
    """The verdict for a clip with ``speech_s`` seconds of speech; ``closest``: the enrolment of
    the closest voice, which the advice mentions when it is thin; ``timeline``: who speaks when,
    for a clip long enough to have one (several voices are said as such)."""
    best = identification.best
    if best is None:
        return Verdict("empty", "Nobody to compare with")
    voices = several_voices(timeline)
    if voices:
        text = several_voices_text(voices)
        return Verdict("several", text[:1].upper() + text[1:],
                       f"{len(voices)} voices each speak for at least {SEVERAL_VOICES_SHARE:.0%} of "
                       f"the clip's speech, so no one person is named for all of it.", voices=voices)
    chance = percent(best.probability)
    if best.score >= identification.threshold:
        strength = next((word for floor, word in BANDS if best.probability >= floor), "possible")
        close = best.probability < BANDS[-1][0]
        return Verdict("match", f"{best.name}: {strength}",
                       f"{chance} probability that this is {best.name}'s voice.",
                       settle(best.name, speech_s, closest) if close else [])
    close = (best.probability >= CLOSE_CALL_PROBABILITY
             or identification.threshold - best.score <= CLOSE_CALL_MARGIN * abs(identification.threshold))
    headline = (f"Unknown speaker: closest is {best.name}, not close enough" if close
                else f"Unknown speaker: nobody enrolled sounds like this (closest: {best.name})")
    return Verdict("unknown", headline, f"{chance} probability that this is {best.name}'s voice.",
                   settle(best.name, speech_s, closest) if close else [])


def settle(name: str, speech_s: float, closest: SpeakerInfo | None) -> list[str]:
    """What would make a close call clear, most useful first."""
    if speech_s < STEADY_SPEECH_S:
        clip = (f"A longer clip of this voice: this one has {speech_s:.1f} s of speech, and scores "
                f"from {STEADY_SPEECH_S:.0f} s or more vary much less.")
    else:
        clip = "Another clip of this voice, from a different recording."
    clips, seconds = ENROLLED_ENOUGH
    thin = closest is not None and (closest.clips < clips or closest.seconds < seconds)
    enrolment = (f"Another enrolment clip of {name}, recorded like this one (the same kind of "
                 "microphone, phone line or broadcast)" + (f": so far {enrolled(closest)}." if thin else "."))
    return [enrolment, clip] if thin else [clip, enrolment]


def enrolled(info: SpeakerInfo) -> str:
    """How much of a speaker is enrolled: "1 clip and 8 s of speech"."""
    return f"{info.clips} clip{'s' if info.clips != 1 else ''} and {info.seconds:.0f} s of speech"


def explain(identification: Identification, speech_s: float, closest: SpeakerInfo | None = None,
            false_accept_rate: float | None = None, voices: Sequence[Voice] = ()) -> list[str]:
    """How the decision was made, paragraph by paragraph, for a reader without the jargon.
    ``false_accept_rate``: the share of different-speaker test comparisons that reach the threshold;
    ``voices``: those of a several-voices verdict."""
    best = identification.best
    if best is None:
        return ["Nobody is enrolled yet, so there was no voice to compare this clip with."]
    several = [] if not voices else [
        f"The app also followed the clip a few seconds at a time and heard {len(voices)} voices, "
        f"each speaking for at least {SEVERAL_VOICES_SHARE:.0%} of the speech and "
        f"{SEVERAL_VOICES_MIN_S:.0f} s or more, so it does not put the clip down to one person: the "
        "timeline below shows each one's turns. What follows is how the clip as a whole, all its "
        "voices mixed, compares with the enrolled voices."]
    named = best.score >= identification.threshold
    score, threshold = distinct(best.score, identification.threshold)
    tested = (f"{percent(false_accept_rate)} of comparisons between two different people reach it"
              if false_accept_rate is not None else
              "comparisons between two different people rarely reach it")
    paragraphs = [
        *several,
        "The app turned the speech in this clip into a voiceprint: a list of numbers that describes "
        "how the voice sounds, not what it says. It compared that voiceprint with the voiceprint of "
        "every enrolled speaker. Each comparison gives a score: the more alike the two voices, the "
        "higher the score.",
        f"The closest voice is {best.name}'s, with a score of {score}. For this clip the app names a "
        f"speaker only from a score of {threshold}. That line was set by testing the model on many "
        f"voices it had never heard: {tested}. "
        + (f"{score} reaches it, so for one voice the app would name {best.name}." if named and voices
           else f"{score} reaches it, so the app names {best.name}." if named
           else f"{score} is below it, so the app names nobody."),
        "On those test voices, comparisons that scored like this one were the same person with a "
        f"probability of {percent(best.probability)}: the number shown above. It is strong evidence "
        "when it is high, not proof; for recordings unlike the test ones (a noisy crowd, a poor phone "
        "line) treat it with more caution.",
    ]
    if best.llr is not None:
        paragraphs.append(likelihood_ratio_paragraph(best.name, best.llr))
    enrolment = f" {best.name} is enrolled with {enrolled(closest)}." if closest is not None else ""
    paragraphs.append(
        f"What moves the score: the amount of speech (this clip has {speech_s:.1f} s once silence "
        "is removed), how much of each person is enrolled, and the recording: the same person on a "
        f"phone line and on television scores lower than two television clips of them.{enrolment}")
    return paragraphs


def likelihood_ratio_paragraph(name: str, log10_lr: float) -> str:
    """How strong the evidence is, as forensic speaker comparison reports it."""
    ratio = likelihood_ratio(log10_lr)
    likelier = (f"{ratio} times more likely if the clip is {name}'s voice than if it is someone else's"
                if log10_lr >= 0 else
                f"{likelihood_ratio(-log10_lr)} times more likely if the clip is someone else's voice "
                f"than if it is {name}'s")
    return (f"Forensic speaker comparison states the strength of the evidence as a likelihood ratio: a "
            f"score like this one is {likelier} (likelihood ratio {ratio}, log10 LR {log10_lr:+.1f}). "
            f"On the verbal scale of the European Network of Forensic Science Institutes that is "
            f"{evidence_strength(log10_lr)}. Unlike the probability, it leaves out how likely it was "
            "beforehand that this person speaks: that is for whoever weighs the rest of the story.")


def left_out(kept: tuple[float, float], duration_s: float) -> list[tuple[float, float]]:
    """The parts of a clip of ``duration_s`` outside the ``kept`` span (the ends a user asked to
    leave out of a long recording, see :func:`speakerid.preprocess.trim_span`)."""
    start, end = kept
    return [(a, b) for a, b in ((0.0, start), (end, duration_s)) if b - a > 1e-6]


def left_out_text(spans: Sequence[tuple[float, float]]) -> str:
    """ "the first and last minute were left out: 0:00-1:00 and 41:13-42:13"."""
    def amount(seconds: float) -> str:
        return "minute" if abs(seconds - 60) < 0.5 else f"{seconds:.0f} s"

    if not spans:
        return ""
    first = [b - a for a, b in spans if a == 0.0]
    last = [b - a for a, b in spans if a > 0.0]
    if first and last and amount(first[0]) == amount(last[0]):
        which = f"the first and last {amount(first[0])} were"
    else:
        parts = [*(f"the first {amount(x)}" for x in first), *(f"the last {amount(x)}" for x in last)]
        which = " and ".join(parts) + (" were" if len(parts) > 1 else " was")
    return f"{which} left out: " + " and ".join(f"{clock(a)}-{clock(b)}" for a, b in spans)
