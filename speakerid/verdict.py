"""The verdict in words, for people who are not speaker-recognition experts.

The decision itself is the gallery's: a name only when the closest voice's score reaches the
threshold (see :class:`~speakerid.results.Identification`). This module says it in one sentence with
one number people understand (the calibrated probability that the clip and the closest enrolled voice
share a speaker), says what would settle a close call, and explains the decision without jargon.
Plain text throughout: the caller escapes it for its own markup.

Several voices. A clip with a timeline (20 s or more, see
:data:`~speakerid.timeline.TIMELINE_MIN_DURATION_S`) in which two or more voices each hold a real
share of the speech is not put down to one person: its verdict is "Several voices: Ann (0:00-0:12,
0:25-0:33), Bob (0:12-0:25), Voice A (0:33-0:51)". A voice (an enrolled name, or a voice nobody
enrolled found by :mod:`speakerid.voices`) counts when its segments make at least
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

from . import numerals
from .i18n import N_, _, ngettext
from .results import UNKNOWN_SPEAKER
from .voice_labels import shown_voice

if TYPE_CHECKING:
    from .results import Identification, Segment, SpeakerInfo, Timeline

# the words are shown through _ (in the reader's language)
BANDS = ((0.99, N_("almost certain")), (0.9, N_("very likely")), (0.7, N_("likely")))
POSSIBLE = N_("possible")  # a name below the bands
CLOSE_CALL_PROBABILITY = 0.2  # an unknown voice at least this probable may still be the closest
CLOSE_CALL_MARGIN = 0.1  # a score this share of the threshold's size under it is a close call too
STEADY_SPEECH_S = 10.0  # speech in a clip from which scores vary little
ENROLLED_ENOUGH = (2, 30.0)  # clips and seconds of speech: fewer and another enrolment clip helps
SEVERAL_VOICES_SHARE = 0.15  # a voice speaks in a verdict from this share of the timeline's seconds
SEVERAL_VOICES_MIN_S = 5.0  # ... and from this many seconds
TURNS_SHOWN = 3  # a voice's turns listed in the verdict; the rest are counted
# The ENFSI guideline's verbal scale for likelihood ratios (2015), by log10 LR: support from 1 up.
SUPPORT = ((6.0, N_("extremely strong")), (4.0, N_("very strong")), (3.0, N_("strong")),
           (2.0, N_("moderately strong")), (1.0, N_("moderate")), (0.0, N_("weak")))


@dataclass(frozen=True)
class Voice:
    """One voice with a real share of a clip's speech (see the module doc)."""

    name: str  # an enrolled name, or a found voice's "Voice A"
    seconds: float
    turns: list[tuple[float, float]]  # its segments' (start, end) in the clip, in order
    probability: float | None  # enrolled: that these turns are that person's; found: that they are
    enrolled: bool             # one voice (see speakerid.voices); None: not known


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
        return _("over 99%")
    if probability < 0.01:
        return _("under 1%")
    return numerals.percent(probability)


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
    return numerals.digits(f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
                           else f"{rest // 60}:{rest % 60:02d}")


def likelihood_ratio(log10_lr: float) -> str:
    """A likelihood ratio as people read it, to two figures: "1 300", or "1/40" for one under 1
    (in the language's digits)."""
    ratio = 10 ** abs(log10_lr)
    if ratio >= 1e6:
        return _("over a million") if log10_lr >= 0 else _("under one in a million")
    shown = f"{float(f'{ratio:.2g}'):,.0f}".replace(",", " ") if ratio >= 10 else f"{ratio:.1f}"
    return numerals.digits(shown if log10_lr >= 0 else f"1/{shown}")


def evidence_strength(log10_lr: float) -> str:
    """The ENFSI verbal scale: "moderately strong support for the same speaker"."""
    word = _(next(word for floor, word in SUPPORT if abs(log10_lr) >= floor))
    if log10_lr >= 0:
        return _("{strength} support for the same speaker").format(strength=word)
    return _("{strength} support for different speakers").format(strength=word)


def evidence_line(log10_lr: float) -> str:
    """ "likelihood ratio 1 200 (log10 LR +3.1): strong support for the same speaker"."""
    return _("likelihood ratio {ratio} (log10 LR {log10_lr:+.1f}): {strength}").format(
        ratio=likelihood_ratio(log10_lr), log10_lr=log10_lr, strength=evidence_strength(log10_lr))


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
        return shown + (ngettext(" and {count} more turn", " and {count} more turns", more).format(
            count=numerals.number(more))
                        if more > 0 else "")

    return _("several voices: {voices}").format(
        voices=", ".join(f"{shown_voice(v.name)} ({turns(v)})" for v in voices))


def voice_line(voice: Voice) -> str:
    """One voice of a several-voices verdict: how long it speaks and how sure the name is."""
    said = _("{name}: {seconds} s").format(name=shown_voice(voice.name),
                                           seconds=numerals.number(voice.seconds, ".1f"))
    if voice.enrolled:
        return said + ("" if voice.probability is None else
                       _(", {chance} probability that this is {name}'s voice").format(
                           chance=percent(voice.probability), name=voice.name))
    return said + _(", a voice nobody enrolled") + (
        "" if voice.probability is None else
        _(" ({chance} probability that its turns are one voice)").format(chance=percent(voice.probability)))


def in_short(identification: Identification, timeline: Timeline | None = None) -> str:
    """The verdict in a few words, for the CLI and the report's rows: a name, "unknown speaker",
    "empty gallery", or "several voices: ..." (the page's headline in the same words)."""
    voices = several_voices(timeline)
    if identification.best is None:
        return _("empty gallery")
    if voices:
        return several_voices_text(voices)
    return identification.speaker or _(UNKNOWN_SPEAKER)


def decide(identification: Identification, speech_s: float, closest: SpeakerInfo | None = None,
           timeline: Timeline | None = None) -> Verdict:
    """The verdict for a clip with ``speech_s`` seconds of speech; ``closest``: the enrolment of
    the closest voice, which the advice mentions when it is thin; ``timeline``: who speaks when,
    for a clip long enough to have one (several voices are said as such)."""
    best = identification.best
    if best is None:
        return Verdict("empty", _("Nobody to compare with"))
    voices = several_voices(timeline)
    if voices:
        text = several_voices_text(voices)
        return Verdict("several", text[:1].upper() + text[1:],
                       _("{count} voices each speak for at least {share} of the clip's speech, so no "
                         "one person is named for all of it.").format(
                             count=numerals.number(len(voices)),
                             share=numerals.percent(SEVERAL_VOICES_SHARE)),
                       voices=voices)
    summary = _("{chance} probability that this is {name}'s voice.").format(
        chance=percent(best.probability), name=best.name)
    if best.score >= identification.threshold:
        strength = _(next((word for floor, word in BANDS if best.probability >= floor), POSSIBLE))
        close = best.probability < BANDS[-1][0]
        return Verdict("match", _("{name}: {strength}").format(name=best.name, strength=strength), summary,
                       settle(best.name, speech_s, closest) if close else [])
    close = (best.probability >= CLOSE_CALL_PROBABILITY
             or identification.threshold - best.score <= CLOSE_CALL_MARGIN * abs(identification.threshold))
    headline = (_("Unknown speaker: closest is {name}, not close enough") if close
                else _("Unknown speaker: nobody enrolled sounds like this (closest: {name})")).format(
                    name=best.name)
    return Verdict("unknown", headline, summary, settle(best.name, speech_s, closest) if close else [])


def settle(name: str, speech_s: float, closest: SpeakerInfo | None) -> list[str]:
    """What would make a close call clear, most useful first."""
    if speech_s < STEADY_SPEECH_S:
        clip = _("A longer clip of this voice: this one has {seconds} s of speech, and scores from "
                 "{steady} s or more vary much less.").format(seconds=numerals.number(speech_s, ".1f"),
                                                              steady=numerals.number(STEADY_SPEECH_S, ".0f"))
    else:
        clip = _("Another clip of this voice, from a different recording.")
    clips, seconds = ENROLLED_ENOUGH
    thin = closest is not None and (closest.clips < clips or closest.seconds < seconds)
    enrolment = (_("Another enrolment clip of {name}, recorded like this one (the same kind of microphone, "
                   "phone line or broadcast)").format(name=name)
                 + (_(": so far {enrolled}.").format(enrolled=enrolled(closest)) if thin else "."))
    return [enrolment, clip] if thin else [clip, enrolment]


def enrolled(info: SpeakerInfo) -> str:
    """How much of a speaker is enrolled: "1 clip and 8 s of speech"."""
    return ngettext("{count} clip and {seconds} s of speech",
                    "{count} clips and {seconds} s of speech", info.clips).format(
        count=numerals.number(info.clips), seconds=numerals.number(info.seconds, ".0f"))


def explain(identification: Identification, speech_s: float, closest: SpeakerInfo | None = None,
            false_accept_rate: float | None = None, voices: Sequence[Voice] = ()) -> list[str]:
    """How the decision was made, paragraph by paragraph, for a reader without the jargon.
    ``false_accept_rate``: the share of different-speaker test comparisons that reach the threshold;
    ``voices``: those of a several-voices verdict."""
    best = identification.best
    if best is None:
        return [_("Nobody is enrolled yet, so there was no voice to compare this clip with.")]
    several = [] if not voices else [_(
        "The app also followed the clip a few seconds at a time and heard {count} voices, each speaking "
        "for at least {share} of the speech and {seconds} s or more, so it does not put the clip "
        "down to one person: the timeline below shows each one's turns. What follows is how the clip as "
        "a whole, all its voices mixed, compares with the enrolled voices.").format(
            count=numerals.number(len(voices)), share=numerals.percent(SEVERAL_VOICES_SHARE),
            seconds=numerals.number(SEVERAL_VOICES_MIN_S, ".0f"))]
    named = best.score >= identification.threshold
    score, threshold = distinct(best.score, identification.threshold)
    tested = (_("{share} of comparisons between two different people reach it").format(
                  share=percent(false_accept_rate))
              if false_accept_rate is not None else
              _("comparisons between two different people rarely reach it"))
    outcome = (_("{score} reaches it, so for one voice the app would name {name}.") if named and voices
               else _("{score} reaches it, so the app names {name}.") if named
               else _("{score} is below it, so the app names nobody."))
    paragraphs = [
        *several,
        _("The app turned the speech in this clip into a voiceprint: a list of numbers that describes "
          "how the voice sounds, not what it says. It compared that voiceprint with the voiceprint of "
          "every enrolled speaker. Each comparison gives a score: the more alike the two voices, the "
          "higher the score."),
        _("The closest voice is {name}'s, with a score of {score}. For this clip the app names a speaker "
          "only from a score of {threshold}. That line was set by testing the model on many voices it had "
          "never heard: {tested}. ").format(name=best.name, score=score, threshold=threshold, tested=tested)
        + outcome.format(score=score, name=best.name),
        _("On those test voices, comparisons that scored like this one were the same person with a "
          "probability of {chance}: the number shown above. It is strong evidence when it is high, not "
          "proof; for recordings unlike the test ones (a noisy crowd, a poor phone line) treat it with "
          "more caution.").format(chance=percent(best.probability)),
    ]
    if best.llr is not None:
        paragraphs.append(likelihood_ratio_paragraph(best.name, best.llr))
    enrolment = (_(" {name} is enrolled with {enrolled}.").format(name=best.name, enrolled=enrolled(closest))
                 if closest is not None else "")
    paragraphs.append(_(
        "What moves the score: the amount of speech (this clip has {seconds} s once silence is "
        "removed), how much of each person is enrolled, and the recording: the same person on a phone "
        "line and on television scores lower than two television clips of them.").format(
            seconds=numerals.number(speech_s, ".1f"))
        + enrolment)
    return paragraphs


def likelihood_ratio_paragraph(name: str, log10_lr: float) -> str:
    """How strong the evidence is, as forensic speaker comparison reports it."""
    ratio = likelihood_ratio(log10_lr)
    likelier = (_("{ratio} times more likely if the clip is {name}'s voice than if it is someone else's")
                .format(ratio=ratio, name=name) if log10_lr >= 0 else
                _("{ratio} times more likely if the clip is someone else's voice than if it is {name}'s")
                .format(ratio=likelihood_ratio(-log10_lr), name=name))
    return _("Forensic speaker comparison states the strength of the evidence as a likelihood ratio: a "
             "score like this one is {likelier} (likelihood ratio {ratio}, log10 LR {log10_lr:+.1f}). On "
             "the verbal scale of the European Network of Forensic Science Institutes that is {strength}. "
             "Unlike the probability, it leaves out how likely it was beforehand that this person speaks: "
             "that is for whoever weighs the rest of the story.").format(
                 likelier=likelier, ratio=ratio, log10_lr=log10_lr, strength=evidence_strength(log10_lr))


def left_out(kept: tuple[float, float], duration_s: float) -> list[tuple[float, float]]:
    """The parts of a clip of ``duration_s`` outside the ``kept`` span (the ends a user asked to
    leave out of a long recording, see :func:`speakerid.preprocess.trim_span`)."""
    start, end = kept
    return [(a, b) for a, b in ((0.0, start), (end, duration_s)) if b - a > 1e-6]


def left_out_text(spans: Sequence[tuple[float, float]]) -> str:
    """ "the first and last minute were left out: 0:00-1:00 and 41:13-42:13"."""
    def amount(seconds: float) -> str:
        if abs(seconds - 60) < 0.5:
            return _("minute")
        return _("{seconds} s").format(seconds=numerals.number(seconds, ".0f"))

    if not spans:
        return ""
    first = [b - a for a, b in spans if a == 0.0]
    last = [b - a for a, b in spans if a > 0.0]
    times = _(" and ").join(f"{clock(a)}-{clock(b)}" for a, b in spans)
    if first and last and amount(first[0]) == amount(last[0]):
        return _("the first and last {amount} were left out: {times}").format(amount=amount(first[0]),
                                                                              times=times)
    parts = [*(_("the first {amount}").format(amount=amount(x)) for x in first),
             *(_("the last {amount}").format(amount=amount(x)) for x in last)]
    which = _(" and ").join(parts)
    return (_("{which} were left out: {times}") if len(parts) > 1 else _("{which} was left out: {times}")
            ).format(which=which, times=times)
