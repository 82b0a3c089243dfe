"""Numbers and durations in the reader's language: Nepali digits and words, English as before."""

import pytest

from speakerid import i18n, numerals


@pytest.fixture
def nepali():
    i18n.set_language("ne")
    yield
    i18n.set_language("en")


def test_english_durations_are_unchanged():
    assert [numerals.duration(s) for s in (12.34, 245, 3725)] == ["12.3 s", "4 min 05 s", "1 h 02 min"]
    assert numerals.number(1234, ",") == "1,234" and numerals.percent(0.42) == "42%"


def test_nepali_has_its_own_digits_and_words(nepali):
    assert numerals.duration(65) == "१ मिनेट ५ सेकेन्ड"
    assert numerals.duration(12.34) == "१२.३ सेकेन्ड"
    assert numerals.duration(3725) == "१ घण्टा २ मिनेट"
    assert numerals.rough_duration(17 * 60) == "१७ मिनेट"
    assert numerals.number(1234, ",") == "१,२३४" and numerals.percent(0.42) == "४२%"


def test_the_language_comes_from_gettexts_variables():
    assert i18n.language_from_environment({"LANG": "ne_NP.UTF-8"}) == "ne"
    assert i18n.language_from_environment({"LANGUAGE": "fr:ne", "LANG": "en_GB.UTF-8"}) == "ne"
    assert i18n.language_from_environment({"LC_ALL": "en_US.UTF-8", "LANG": "ne_NP"}) == "en"
    assert i18n.language_from_environment({"LANG": "C.UTF-8"}) is None
