"""Several voices said plainly, and found voices with their own numbers, everywhere a verdict shows.

A conversation of six turns by three espeak-ng voices (two enrolled, one not; synthetic stand-ins
without espeak-ng) on the shipped fast model (``weights/fast``): the library's verdict, the batch
row in JSON and CSV, and the CLI's text and ``--json`` all say "several voices", name the voice
nobody enrolled "Voice A", and give it how surely its turns are one voice, never the probability of
the enrolled person nearest to it.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
import soundfile as sf
from test_voices import ENROL_TEXT, ESPEAK_VOICES, FAST_MODEL, TURNS, speak

from speakerid.app.batch import identify_batch, report_bytes
from speakerid.audio import from_array
from speakerid.cli import main
from speakerid.gallery import Gallery
from speakerid.timeline import identify_timeline
from speakerid.verdict import clock, decide, in_short
from speakerid.voices import find_voices

ENROLLED = ESPEAK_VOICES[:2]  # en+f4, en+m3
ORDER = (0, 2, 1, 0, 2, 1)  # an enrolled voice, the new one, the other enrolled one, twice
SPEAKERS = [ESPEAK_VOICES[0], "Voice A", ESPEAK_VOICES[1]]  # in the order they first speak


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The conversation's WAV and a gallery (on the fast model) with the two enrolled voices."""
    from speakerid import load_model

    folder = tmp_path_factory.mktemp("several")
    parts, rate = [], 16000
    for turn, speaker in enumerate(ORDER):
        signal, rate = speak(ESPEAK_VOICES[speaker], TURNS[turn % len(TURNS)])
        parts += [np.zeros(int(0.7 * rate), np.float32), signal]
    conversation = folder / "three.wav"
    sf.write(conversation, np.concatenate([*parts, np.zeros(rate // 2, np.float32)]), rate)
    with Gallery(folder / "g.sqlite", load_model(FAST_MODEL)) as gallery:
        for voice in ENROLLED:
            signal, enrol_rate = speak(voice, ENROL_TEXT)
            gallery.enroll(voice, from_array(signal, enrol_rate, f"{voice}.wav"))
    return {"conversation": conversation, "gallery": folder / "g.sqlite"}


@pytest.fixture()
def gallery(files):
    from speakerid import load_model

    with Gallery(files["gallery"], load_model(FAST_MODEL)) as opened:
        yield opened


def test_the_library_says_several_voices_and_each_ones_turns(files, gallery):
    from speakerid.audio import load_audio

    clip = load_audio(files["conversation"])
    assert clip.duration_s > 20  # long enough for a timeline
    prepared = gallery.encoder.prepare(clip)
    found = gallery.identify_embedding(gallery.encoder.embed_prepared(prepared), 5, prepared.speech_s)
    timeline = find_voices(identify_timeline(prepared, gallery.encoder, gallery,
                                             original_duration_s=clip.duration_s), gallery)
    said = decide(found, prepared.speech_s, None, timeline)
    print(f"\n{said.headline}\n{said.summary}")
    assert said.kind == "several" and said.headline.startswith("Several voices: ")
    assert [v.name for v in said.voices] == SPEAKERS
    assert all(len(v.turns) == 2 and v.seconds > 5 for v in said.voices)
    assert said.headline == "Several voices: " + ", ".join(
        f"{v.name} ({', '.join(f'{clock(a)}-{clock(b)}' for a, b in v.turns)})" for v in said.voices)
    assert in_short(found, timeline) == "s" + said.headline[1:]
    assert [v.enrolled for v in said.voices] == [True, False, True]
    assert said.voices[1].probability > 0.5  # its turns are surely one voice
    # without a timeline (a clip under 20 s has none) the verdict is about one voice, as it was
    alone = decide(found, prepared.speech_s)
    assert alone.kind in ("match", "unknown") and not alone.voices
    assert in_short(found) == (found.speaker or "unknown speaker")


def test_a_found_voices_segments_carry_its_own_confidence(files, gallery):
    from speakerid.audio import load_audio

    clip = load_audio(files["conversation"])
    timeline = find_voices(identify_timeline(gallery.encoder.prepare(clip), gallery.encoder, gallery,
                                             original_duration_s=clip.duration_s), gallery)
    found = [s for s in timeline.segments if s.voice == "Voice A"]
    assert len(found) == 2 and all(s.speaker is None for s in found)
    # one voice's own number on each of its segments, high: not the nearest enrolled person's,
    # which is low over the same stretch (its windows matched nobody)
    assert len({(s.score, s.probability) for s in found}) == 1 and found[0].probability > 0.5
    nearest = [w.probability for w in timeline.windows if w.speaker is None]
    assert nearest and max(nearest) < 0.5
    result = next(identify_batch([files["conversation"]], gallery))
    segments = [s for s in result.row()["segments"] if s["voice"] == "Voice A"]
    assert [s["probability"] for s in segments] == [round(found[0].probability, 4)] * 2


def test_the_batch_row_in_json_and_csv(files, gallery):
    [result] = identify_batch([files["conversation"]], gallery)
    row = json.loads(report_bytes([result], ".json"))[0]
    assert row["verdict"].startswith("several voices: ") and row["speaker"] is None
    assert row["score"] is None and row["probability"] is None  # not the voices mixed
    assert [v["name"] for v in row["voices"]] == SPEAKERS
    assert all(set(v) == {"name", "seconds", "probability"} and v["seconds"] > 5 for v in row["voices"])
    voice_a = row["voices"][1]
    assert voice_a["probability"] == next(s["probability"] for s in row["segments"]
                                          if s["voice"] == "Voice A")
    [csv_row] = csv.DictReader(io.StringIO(report_bytes([result], ".csv").decode("utf-8-sig")))
    assert csv_row["verdict"] == row["verdict"] and csv_row["speaker"] == ""
    assert json.loads(csv_row["voices"]) == row["voices"]
    assert json.loads(csv_row["segments"]) == row["segments"]


def test_the_cli_says_several_voices_in_text_and_json(files, tmp_path, capsys):
    options = ["--weights", str(FAST_MODEL), "--gallery", str(files["gallery"])]
    conversation = str(files["conversation"])
    assert main(["identify", conversation, *options, "--timeline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{conversation}: several voices: {ESPEAK_VOICES[0]} (0:0")
    assert [line.split(":")[0].strip() for line in lines[1:4]] == SPEAKERS
    assert "a voice nobody enrolled (" in lines[2] and "that its turns are one voice" in lines[2]
    assert lines[4] == "  the whole clip, all voices mixed:"
    voice_lines = [line for line in lines if re.match(r"  \d:\d\d-\d:\d\d  Voice A  ", line)]
    assert len(voice_lines) == 2  # its two turns, with its own number and no enrolled person's
    assert all(line.endswith(")") and "one voice:" in line and "probability" not in line
               for line in voice_lines)
    report = tmp_path / "r.json"
    assert main(["identify", conversation, *options, "--json", "--report", str(report)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == json.loads(report.read_text())
    assert rows[0]["verdict"] == lines[0].split(": ", 1)[1] and rows[0]["speaker"] is None
    assert [v["name"] for v in rows[0]["voices"]] == SPEAKERS
    assert all(0 < v["probability"] <= 1 for v in rows[0]["voices"])
