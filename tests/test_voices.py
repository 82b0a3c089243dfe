"""Voices nobody enrolled, found in a timeline: clustering, smoothing, turn edges and enrolment.

The conversation test speaks eight turns by four espeak-ng voices (two enrolled, two not) with
pauses of 0.5-0.9 s, embeds it with the shipped fast model (``weights/fast``) and scores the
result against the script: how many turns get the right label, how far segment edges are from the
turns' edges, and which voices were found. Without espeak-ng the voices come from tests/synthetic.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from synthetic import synth_voice

from speakerid import SpeakerIDError
from speakerid.audio import AudioClip, from_array
from speakerid.gallery import Gallery
from speakerid.i18n import in_language
from speakerid.results import Segment, Timeline, WindowResult
from speakerid.scoring import Calibration, unit
from speakerid.timeline import TimeMap, identify_timeline
from speakerid.voice_labels import shown_voice, typed_voice, voice_label
from speakerid.voices import (
    cluster_windows,
    compare_with_script,
    enroll_voice,
    find_voices,
    found_voices,
    majority_vote,
    merge_groups,
    refine_cuts,
    voice_clips,
)

FAST_MODEL = Path(__file__).resolve().parents[1] / "weights" / "fast"
ESPEAK_VOICES = ("en+f4", "en+m3", "en+klatt", "en+steph")  # the fast model tells these apart
ENROLLED = ESPEAK_VOICES[:2]
ENROL_TEXT = ("The committee met on Tuesday to discuss the budget for the coming year. Several "
              "members raised questions about the cost of the new road through the valley.")
TURNS = ("We will publish the full report next week, after the ministry has reviewed it.",
         "Nobody expected the vote to be so close, but the result is clear now.",
         "Farmers in the south say the rain came late and the harvest was poor.",
         "The minister promised that schools would reopen before the festival season.")
ORDER = (0, 2, 1, 3, 0, 2, 3, 1)  # who speaks each turn: an enrolled voice, then a new one, ...
PAUSES_S = (0.6, 0.9, 0.5, 0.7, 0.8, 0.6, 0.9, 0.5)


def speak(voice: str, text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's ``voice`` saying ``text``, or a synthetic voice of about that length without it."""
    if shutil.which("espeak-ng") is None:
        index = ESPEAK_VOICES.index(voice)
        return synth_voice(index, len(text) / 14.0, 16000, seed=len(text), pauses=False), 16000
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
                         capture_output=True, check=True, timeout=60).stdout
    signal, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return signal, rate


@pytest.fixture(scope="module")
def fast_encoder():
    from speakerid import load_model

    return load_model(FAST_MODEL)


@pytest.fixture(scope="module")
def conversation() -> tuple[AudioClip, list[tuple[float, float, str]], dict[str, AudioClip]]:
    """The clip, its script (start, end, voice) and the enrolment clip of each enrolled voice."""
    parts, script, position, rate = [], [], 0.0, 16000
    for turn, (speaker, pause) in enumerate(zip(ORDER, PAUSES_S)):
        signal, rate = speak(ESPEAK_VOICES[speaker], TURNS[turn % len(TURNS)])
        parts += [np.zeros(int(pause * rate), np.float32), signal]
        position += pause
        script.append((position, position + len(signal) / rate, ESPEAK_VOICES[speaker]))
        position += len(signal) / rate
    parts.append(np.zeros(rate // 2, np.float32))
    enrolment = {}
    for voice in ENROLLED:
        signal, enrol_rate = speak(voice, ENROL_TEXT)
        enrolment[voice] = from_array(signal, enrol_rate, f"{voice}.wav")
    return from_array(np.concatenate(parts), rate, "debate.wav"), script, enrolment


@pytest.fixture()
def gallery(tmp_path, fast_encoder, conversation):
    with Gallery(tmp_path / "g.sqlite", fast_encoder) as opened:
        for voice, clip in conversation[2].items():
            opened.enroll(voice, clip)
        yield opened


def voices_timeline(clip: AudioClip, gallery: Gallery):
    prepared = gallery.encoder.prepare(clip)
    timeline = identify_timeline(prepared, gallery.encoder, gallery,
                                 original_duration_s=clip.duration_s)
    return find_voices(timeline, gallery)


def test_a_conversation_names_the_enrolled_and_finds_each_new_voice(conversation, gallery):
    clip, script, _ = conversation
    timeline = voices_timeline(clip, gallery)
    result = compare_with_script(timeline.segments, script, ENROLLED)
    print(f"\nsegments: {len(timeline.segments)} found, {len(script)} spoken, {result.right} right; "
          f"mean edge error {result.edge_error_s:.2f} s; voices found {found_voices(timeline)} "
          f"for {sorted(result.voice_of)}")
    assert len(timeline.segments) == len(script)
    assert result.right == len(script)
    assert result.edge_error_s < 1.0
    assert found_voices(timeline) == ["Voice A", "Voice B"]  # one per unenrolled voice, in order
    assert sorted(result.voice_of) == sorted(ESPEAK_VOICES[2:])
    assert {s.speaker for s in timeline.segments} == {*ENROLLED, None}
    assert set(timeline.speaking_time()) == {*ENROLLED, "Voice A", "Voice B"}


def test_a_found_voice_is_enrolled_in_one_step_and_then_named(conversation, gallery):
    clip, script, _ = conversation
    timeline = voices_timeline(clip, gallery)
    clips = voice_clips(clip, timeline, "Voice A")
    assert len(clips) == 2 and all(c.sample_rate == clip.sample_rate for c in clips)
    info = enroll_voice(gallery, clip, timeline, "Voice A", "The Moderator")
    assert info.clips == 2 and info.seconds > 4
    again = voices_timeline(clip, gallery)
    assert found_voices(again) == ["Voice A"]  # the other new voice is now the only one
    renamed = [(a, b, "The Moderator" if v == ESPEAK_VOICES[2] else v) for a, b, v in script]
    result = compare_with_script(again.segments, renamed, [*ENROLLED, "The Moderator"])
    assert result.right == len(script) and result.edge_error_s < 1.0
    assert sum(s.speaker == "The Moderator" for s in again.segments) == 2


def test_enrolling_a_voice_that_is_not_there_is_refused(conversation, gallery):
    clip = conversation[0]
    timeline = voices_timeline(clip, gallery)
    with pytest.raises(SpeakerIDError, match="no 'Voice Q'"):
        enroll_voice(gallery, clip, timeline, "Voice Q", "Somebody")
    assert "Somebody" not in gallery


def test_voice_labels_run_from_a_to_z_then_two_letters():
    assert [voice_label(i) for i in (0, 1, 25, 26, 27)] == [
        "Voice A", "Voice B", "Voice Z", "Voice AA", "Voice AB"]


def test_clustering_finds_the_number_of_voices_from_the_threshold():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16)
    vectors = np.concatenate([c + 0.15 * rng.standard_normal((5, 16)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = cluster_windows(vectors @ vectors.T, threshold=0.5)
    assert len(set(groups)) == 3
    assert all(len(set(groups[i * 5:(i + 1) * 5])) == 1 for i in range(3))
    assert len(set(cluster_windows(vectors @ vectors.T, threshold=-1.0))) == 1
    assert list(cluster_windows(np.ones((1, 1)), 0.5)) == [0]


def test_windows_over_a_pause_do_not_make_two_people_taking_turns_one_voice():
    # A, B, A take turns of 4.5 s at pauses the silence stage removed; 3 s windows every 1.5 s,
    # and the two windows over a pause hold both voices. The voices score 0.3, under the
    # threshold of 0.5, but those two windows pull the groups' means to 0.59.
    a, b = np.array([1.0, 0.0]), np.array([0.3, np.sqrt(1 - 0.09)])
    both = unit(a + b)
    embeddings = np.stack([a, a, both, b, b, both, a, a])
    windows = [WindowResult(1.5 * i, 1.5 * i + 3.0, None, None, 0.0, 0.0) for i in range(8)]
    gallery = SimpleNamespace(encoder=SimpleNamespace(score_matrix=lambda x, y: unit(x) @ unit(y).T),
                              calibration=Calibration(threshold=0.5))
    groups = [[0, 1, 2, 6, 7], [3, 4, 5]]

    def merged(time_map: TimeMap) -> list[list[int]]:
        return merge_groups(groups, Timeline([], windows, 0.5, 15.0, 13.5, embeddings, time_map), gallery)

    assert merged(TimeMap([(0.0, 4.5), (5.2, 9.7), (10.4, 14.9)])) == groups
    assert merged(TimeMap([(0.0, 13.5)])) == [list(range(8))]  # no pause: nothing says who is whom


def test_majority_vote_removes_flicker_but_keeps_turns():
    assert majority_vote(list("AABAAA"), radius=1) == list("AAAAAA")
    assert majority_vote(list("AAABBB"), radius=1) == list("AAABBB")
    assert majority_vote(["A", None, "A", "A", "B"], radius=2)[1] == "A"


def test_a_turn_change_moves_to_where_the_scores_cross_and_onto_a_pause():
    a, b = np.eye(2, 4)[0], np.eye(2, 4)[1]
    # window centres every 1 s; the voice changes at 4.3 s: windows mix the two voices near it
    centres = np.arange(0.5, 9.5, 1.0)
    weights = np.clip((centres - 4.3) / 3 + 0.5, 0, 1)[:, None]
    embeddings = (1 - weights) * a + weights * b
    labels = ["A" if w < 0.5 else "B" for w in weights[:, 0]]
    bounds = [0.0, *(centres[:-1] + 0.5), 9.0]
    refined = refine_cuts(labels, embeddings, centres, bounds)
    assert refined[labels.index("B")] == pytest.approx(4.3, abs=0.05)
    assert refined == sorted(refined)
    snapped = refine_cuts(labels, embeddings, centres, bounds, pauses=[2.0, 4.9])
    assert snapped[labels.index("B")] == pytest.approx(4.9)


def test_a_timeline_without_embeddings_is_returned_unchanged(gallery):
    from speakerid.timeline import Timeline

    bare = Timeline([], [], 0.5, 10.0, 8.0, None, TimeMap([(0.0, 8.0)]))
    assert find_voices(bare, gallery) is bare


def test_the_cli_saves_and_enrols_found_voices(tmp_path, conversation, gallery, capsys):
    from speakerid.cli import main

    clip = conversation[0]
    path = tmp_path / "debate.wav"
    sf.write(str(path), clip.samples, clip.sample_rate)
    options = ["--weights", str(FAST_MODEL), "--gallery", str(tmp_path / "g.sqlite")]
    assert main(["timeline", str(path), *options, "--enroll", "Voice Q=Nobody"]) == 2
    assert "Voice Q not found" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["timeline", str(path), *options, "--save-voices", str(tmp_path / "voices"),
                 "--enroll", "Voice B = Jane Doe", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["voices"] == ["Voice A", "Voice B"]
    assert [e["name"] for e in report["enrolled"]] == ["Jane Doe"] and "Jane Doe" in gallery
    saved = sorted((tmp_path / "voices" / "voice-a").glob("*.wav"))
    assert [str(p) for p in saved] == report["saved"]["Voice A"] and len(saved) == 2
    assert main(["enroll", "--name", "Sam", *options, *map(str, saved)]) == 0
    assert main(["timeline", str(path), *options]) == 0
    out = capsys.readouterr().out
    assert "voices nobody enrolled: none" in out and "Sam" in out and "Jane Doe" in out


def test_found_voices_are_shown_in_the_language_in_use_and_typed_in_either():
    """The label stays "Voice A" (JSON, reports, files); people read "आवाज A" in Nepali and may type
    either form."""
    from speakerid.cli.speaker_commands import describe_timeline, voice_and_name

    timeline = Timeline([Segment(0.0, 6.0, "Bob", 0.8, 0.9, 4),
                         Segment(6.0, 12.0, None, 0.7, 0.8, 4, "Voice A")], [], 0.5, 12.0, 12.0)
    with in_language("ne"):
        shown = describe_timeline(timeline)
        assert voice_and_name("आवाज A=Jane Doe") == ("Voice A", "Jane Doe")
        assert shown_voice("Voice AB") == "आवाज AB"
        assert (shown_voice("Voice 17"), typed_voice("आवाज १७")) == ("आवाज १७", "Voice 17")  # the archive's
    assert "आवाज A" in shown and "Voice A" not in shown and "बोलेको समय: Bob" in shown
    assert shown_voice("Voice AB") == "Voice AB" and shown_voice("Bob") == "Bob" and shown_voice(None) is None
    assert voice_and_name(" voice  b = Jane") == ("Voice B", "Jane")
    assert "speaking time: Bob 0:06, Voice A 0:06" in describe_timeline(timeline)
