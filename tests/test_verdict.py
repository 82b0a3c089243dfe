"""The verdict in words: answer phrases by probability band, close calls and their advice, the
plain-language explanation, several voices in one clip. Pure Python: no model, no Streamlit."""

from __future__ import annotations

import math
import re

import pytest

from speakerid import verdict
from speakerid.gallery import SpeakerInfo
from speakerid.i18n import in_language
from speakerid.results import Identification, Match, Segment, Timeline
from speakerid.verdict import decide, distinct, explain, in_short, percent

THRESHOLD = 3.61
JARGON = ("as-norm", "cohort", "logistic", "prior", "calibrat", "embedding", "cosine", "threshold")


def found(*matches: tuple[str, float, float], threshold: float = THRESHOLD) -> Identification:
    return Identification([Match(name, score, p) for name, score, p in matches], threshold)


def enrolled(name: str, clips: int, seconds: float) -> SpeakerInfo:
    return SpeakerInfo(name, None, None, None, clips, seconds)


@pytest.mark.parametrize("probability, words", [
    (0.999, "almost certain"), (0.95, "very likely"), (0.8, "likely"), (0.6, "possible")])
def test_a_name_leads_with_how_sure_it_is(probability, words):
    said = decide(found(("Pushpa Kamal Dahal", 5.0, probability), ("Sher Bahadur Deuba", 1.0, 0.01)), 12.0)
    assert said.kind == "match" and said.headline == f"Pushpa Kamal Dahal: {words}"
    assert said.summary == f"{percent(probability)} probability that this is Pushpa Kamal Dahal's voice."
    assert bool(said.advice) == (words == "possible")  # only a weak match is a close call


def test_an_unknown_voice_names_the_closest_and_says_whether_it_was_close():
    near = decide(found(("Ram Thapa", 3.2, 0.3)), 4.0, enrolled("Ram Thapa", 3, 60.0))
    assert near.kind == "unknown"
    assert near.headline == "Unknown speaker: closest is Ram Thapa, not close enough"
    assert near.advice[0].startswith("A longer clip of this voice: this one has 4.0 s of speech")
    assert "Another enrolment clip of Ram Thapa" in near.advice[1]
    far = decide(found(("Ram Thapa", 0.4, 0.001)), 4.0)
    assert far.headline == "Unknown speaker: nobody enrolled sounds like this (closest: Ram Thapa)"
    assert far.summary == "under 1% probability that this is Ram Thapa's voice." and not far.advice


def test_a_score_just_under_the_threshold_is_a_close_call_whatever_its_probability():
    said = decide(found(("Sita Rai", THRESHOLD - 0.05, 0.05)), 20.0)
    assert "not close enough" in said.headline
    assert said.advice[0] == "Another clip of this voice, from a different recording."


def test_a_thin_enrolment_is_the_first_thing_to_fix():
    said = decide(found(("Sita Rai", 3.5, 0.4)), 15.0, enrolled("Sita Rai", 1, 8.0))
    assert said.advice[0].startswith("Another enrolment clip of Sita Rai")
    assert said.advice[0].endswith("so far 1 clip and 8 s of speech.")


def test_nobody_enrolled():
    said = decide(found(), 5.0)
    assert said.kind == "empty" and said.headline == "Nobody to compare with"
    assert "Nobody is enrolled" in explain(found(), 5.0)[0]


def test_the_explanation_gives_the_numbers_in_plain_words():
    text = " ".join(explain(found(("Ram Thapa", 4.2, 0.93), ("Sita Rai", 0.1, 0.0)), 7.4,
                            enrolled("Ram Thapa", 2, 24.0), false_accept_rate=0.01))
    assert "score of 4.20" in text and "from a score of 3.61" in text and "names Ram Thapa" in text
    assert "1% of comparisons between two different people" in text and "93%" in text
    assert "7.4 s" in text and "Ram Thapa is enrolled with 2 clips and 24 s of speech" in text
    assert not [word for word in JARGON if word in text.casefold()]
    below = " ".join(explain(found(("Ram Thapa", 3.6071, 0.49)), 7.4))
    assert "score of 3.607" in below and "from a score of 3.610" in below and "names nobody" in below


def test_numbers_never_read_wrong():
    assert (percent(0.996), percent(0.004), percent(0.5)) == ("over 99%", "under 1%", "50%")
    assert distinct(4.2, 3.61) == ("4.20", "3.61")
    assert distinct(3.6148, 3.6149) == ("3.6148", "3.6149")
    assert distinct(3.61, 3.61) == ("3.61", "3.61")


def timeline_of(*turns: tuple[float, float, str | None, str | None, float]) -> Timeline:
    """A timeline from (start, end, enrolled name, found voice, probability) turns."""
    return Timeline([Segment(a, b, name, 1.0, p, 2, voice) for a, b, name, voice, p in turns], [],
                    THRESHOLD, max(b for _, b, *_ in turns), 0.0)


def test_several_voices_each_with_a_real_share_are_said_as_such():
    conversation = timeline_of((0, 12, "Ram Thapa", None, 0.9), (12, 25, None, "Voice A", 0.8),
                               (25, 33, "Ram Thapa", None, 0.7), (33, 39, "Sita Rai", None, 0.95),
                               (39, 40, None, None, 0.01))
    said = decide(found(("Ram Thapa", 4.2, 0.93)), 30.0, None, conversation)
    assert said.kind == "several" and not said.advice
    # Sita Rai speaks 6 s of 40: 15 %, the least share that counts; the unknown second is no voice
    assert said.headline == ("Several voices: Ram Thapa (0:00-0:12, 0:25-0:33), Voice A (0:12-0:25), "
                             "Sita Rai (0:33-0:39)")
    assert in_short(found(("Ram Thapa", 4.2, 0.93)), conversation) == "s" + said.headline[1:]
    ram, voice_a, _ = said.voices
    assert (ram.seconds, ram.probability, ram.enrolled) == (20, pytest.approx(0.8), True)
    assert verdict.voice_line(ram) == "Ram Thapa: 20.0 s, 80% probability that this is Ram Thapa's voice"
    assert verdict.voice_line(voice_a) == ("Voice A: 13.0 s, a voice nobody enrolled (80% probability "
                                           "that its turns are one voice)")
    text = " ".join(explain(found(("Ram Thapa", 4.2, 0.93)), 30.0, voices=said.voices))
    assert "heard 3 voices" in text and "for one voice the app would name Ram Thapa" in text
    assert not [word for word in JARGON if word in text.casefold()]


@pytest.mark.parametrize("turns", [
    ((0, 34, "Ram Thapa", None, 0.9), (34, 40, None, "Voice A", 0.8), (40, 240, "Ram Thapa", None, 0.9)),
    ((0, 20, "Ram Thapa", None, 0.9), (20, 24.5, None, "Voice A", 0.8)),  # 18 % but under 5 s
    ((0, 20, "Ram Thapa", None, 0.9), (20, 40, None, None, 0.1)),  # an unknown stretch is no voice
])
def test_one_voice_with_a_little_of_another_stays_one_voice(turns):
    timeline = timeline_of(*turns)
    assert verdict.several_voices(timeline) == []
    said = decide(found(("Ram Thapa", 4.2, 0.93)), 30.0, None, timeline)
    assert said == decide(found(("Ram Thapa", 4.2, 0.93)), 30.0)  # exactly as without a timeline
    assert in_short(found(("Ram Thapa", 4.2, 0.93)), timeline) == "Ram Thapa"


def test_many_turns_are_counted_and_an_unknown_confidence_is_left_out():
    turns = [(10.0 * i, 10.0 * i + 8, None, "Voice A" if i % 2 else "Voice B", math.nan) for i in range(10)]
    voices = verdict.several_voices(timeline_of(*turns))
    assert verdict.several_voices_text(voices) == (
        "several voices: Voice B (0:00-0:08, 0:20-0:28, 0:40-0:48 and 2 more turns), "
        "Voice A (0:10-0:18, 0:30-0:38, 0:50-0:58 and 2 more turns)")
    assert voices[0].probability is None and verdict.voice_line(voices[0]).endswith("nobody enrolled")
    assert (verdict.clock(72.9), verdict.clock(3725.0)) == ("1:12", "1:02:05")


def test_a_likelihood_ratio_is_written_in_the_readers_digits():
    assert (verdict.likelihood_ratio(4.9), verdict.likelihood_ratio(-1.6)) == ("79 000", "1/40")
    with in_language("ne"):
        assert (verdict.likelihood_ratio(4.9), verdict.likelihood_ratio(-1.6)) == ("७९ ०००", "१/४०")


def test_a_several_voices_verdict_is_in_the_readers_digits_and_names_keep_theirs():
    """Nepali: times, seconds, shares and counts in Devanagari digits; a name's own digits stay."""
    conversation = timeline_of((0, 12, "Reader 198", None, 0.9), (12, 25, None, "Voice A", 0.8),
                               (25, 33, "Reader 198", None, 0.7), (33, 39, "सीता राई", None, 0.95))
    with in_language("ne"):
        said = decide(found(("Reader 198", 4.2, 0.93)), 30.0, None, conversation)
        ram = said.voices[0]
        assert "Reader 198 (०:००-०:१२, ०:२५-०:३३)" in said.headline
        assert "१५%" in said.summary and verdict.voice_line(ram).startswith("Reader 198: २०.० ")
        assert "८०%" in verdict.voice_line(ram)
        text = " ".join(explain(found(("Reader 198", 4.2, 0.93)), 30.0, voices=said.voices))
    left = text.replace("Reader 198", "").replace("4.20", "").replace("3.61", "")  # name, score, threshold
    assert not re.search(r"[0-9]", left), text
