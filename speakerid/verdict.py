"""The verdict in words, for people who are not speaker-recognition experts.

The decision itself is the gallery's: a name only when the closest voice's score reaches the
threshold (see :class:`~speakerid.results.Identification`). This module says it in one sentence with
one number people understand (the calibrated probability that the clip and the closest enrolled voice
share a speaker), says what would settle a close call, and explains the decision without jargon.
Plain text throughout: the caller escapes it for its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .gallery import SpeakerInfo
    from .results import Identification

BANDS = ((0.99, "almost certain"), (0.9, "very likely"), (0.7, "likely"))  # a name below: "possible"
CLOSE_CALL_PROBABILITY = 0.2  # an unknown voice at least this probable may still be the closest
CLOSE_CALL_MARGIN = 0.1  # a score this share of the threshold's size under it is a close call too
STEADY_SPEECH_S = 10.0  # speech in a clip from which scores vary little
ENROLLED_ENOUGH = (2, 30.0)  # clips and seconds of speech: fewer and another enrolment clip helps


@dataclass(frozen=True)
class Verdict:
    """What the page leads with: the answer, its probability, and advice for a close call."""

    kind: Literal["match", "unknown", "empty"]  # a name, an unknown speaker, nobody to compare with
    headline: str  # "Pushpa Kamal Dahal: very likely"
    summary: str = ""  # the probability in a sentence
    advice: list[str] = field(default_factory=list)  # what would settle a close call; empty otherwise


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


def decide(identification: Identification, speech_s: float, closest: SpeakerInfo | None = None
           ) -> Verdict:
    """The verdict for a clip with ``speech_s`` seconds of speech; ``closest``: the enrolment of
    the closest voice, which the advice mentions when it is thin."""
    best = identification.best
    if best is None:
        return Verdict("empty", "Nobody to compare with")
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
            false_accept_rate: float | None = None) -> list[str]:
    """How the decision was made, paragraph by paragraph, for a reader without the jargon.
    ``false_accept_rate``: the share of different-speaker test comparisons that reach the threshold."""
    best = identification.best
    if best is None:
        return ["Nobody is enrolled yet, so there was no voice to compare this clip with."]
    named = best.score >= identification.threshold
    score, threshold = distinct(best.score, identification.threshold)
    tested = (f"{percent(false_accept_rate)} of comparisons between two different people reach it"
              if false_accept_rate is not None else
              "comparisons between two different people rarely reach it")
    paragraphs = [
        "The app turned the speech in this clip into a voiceprint: a list of numbers that describes "
        "how the voice sounds, not what it says. It compared that voiceprint with the voiceprint of "
        "every enrolled speaker. Each comparison gives a score: the more alike the two voices, the "
        "higher the score.",
        f"The closest voice is {best.name}'s, with a score of {score}. For this clip the app names a "
        f"speaker only from a score of {threshold}. That line was set by testing the model on many "
        f"voices it had never heard: {tested}. "
        + (f"{score} reaches it, so the app names {best.name}." if named
           else f"{score} is below it, so the app names nobody."),
        "On those test voices, comparisons that scored like this one were the same person with a "
        f"probability of {percent(best.probability)}: the number shown above. It is strong evidence "
        "when it is high, not proof; for recordings unlike the test ones (a noisy crowd, a poor phone "
        "line) treat it with more caution.",
    ]
    enrolment = f" {best.name} is enrolled with {enrolled(closest)}." if closest is not None else ""
    paragraphs.append(
        f"What moves the score: the amount of speech (this clip has {speech_s:.1f} s once silence "
        "is removed), how much of each person is enrolled, and the recording: the same person on a "
        f"phone line and on television scores lower than two television clips of them.{enrolment}")
    return paragraphs
