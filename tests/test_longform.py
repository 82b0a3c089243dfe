"""Long recordings streamed block by block give what the whole-file path gives, in bounded memory.

The blocks are made tiny here (a few hundred samples or frames), so a one-minute clip crosses
hundreds of block boundaries: a sample lost or read twice at any of them would shift the speech
spans, the frame count or the features.
"""

from __future__ import annotations

import dataclasses
import json
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from synthetic import synth_voice

from speakerid import longform, spill
from speakerid.audio import audio_blocks, load_audio
from speakerid.config import PipelineConfig, PreprocessConfig, ecapa_pipeline
from speakerid.errors import SpeakerIDError
from speakerid.gallery import Gallery
from speakerid.longform import LongRecording, identify_recording
from speakerid.models.encoder import Encoder
from speakerid.models.loader import load_model
from speakerid.models.networks import ModelConfig
from speakerid.timeline import identify_timeline

RATE = 44100
# trimming starts at 30 s here (300 s in the shipped models), so a short clip exercises it
TRIMMED = PreprocessConfig(trim_min_duration_s=30.0, trim_head_s=3.0, trim_tail_s=4.0)


def conversation(seconds_each: float, turns: int, rate: int = RATE) -> np.ndarray:
    """Three synthetic voices taking turns, as a (frames, 2) stereo signal."""
    mono = np.concatenate([synth_voice(turn % 3, seconds_each, rate, seed=turn) for turn in range(turns)])
    return np.stack([mono, 0.7 * mono], axis=1)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of odd sizes, so that every stage's boundaries fall in awkward places."""
    monkeypatch.setattr(longform, "BLOCK_SAMPLES", 7919)
    monkeypatch.setattr(longform, "FEATURE_BLOCK_FRAMES", 97)
    monkeypatch.setattr(longform, "EMBED_BATCH", 3)
    monkeypatch.setattr(longform, "TIMELINE_BATCH", 5)
    monkeypatch.setattr(longform, "VAD_BLOCK_FRAMES", 101)


def small_encoder(pipeline: PipelineConfig) -> Encoder:
    return Encoder.create(ModelConfig(channels=(8, 16, 16, 32), blocks=(1, 1, 1, 1), embedding_dim=64),
                          pipeline)


def test_blocks_join_to_the_whole_decoded_file(tmp_path):
    path = tmp_path / "talk.wav"
    sf.write(path, conversation(3.0, 3), RATE, subtype="PCM_16")
    blocks = list(audio_blocks(path, block_frames=1001))
    assert max(len(b.samples) for b in blocks) <= 1001
    assert np.array_equal(np.concatenate([b.samples for b in blocks]), load_audio(path).samples)


@pytest.mark.parametrize("pipeline", [
    PipelineConfig(preprocess=TRIMMED),
    dataclasses.replace(ecapa_pipeline(), preprocess=TRIMMED),  # fbank: floored under the clip's peak
], ids=["log_mel", "fbank"])
def test_streamed_recording_matches_the_whole_file(tmp_path, tiny_blocks, pipeline):
    path = tmp_path / "talk.wav"
    sf.write(path, conversation(8.0, 5), RATE, subtype="PCM_16")
    encoder = small_encoder(pipeline)
    clip = load_audio(path)
    prepared = encoder.prepare(clip, trim_ends=True)
    features = encoder.features(prepared)
    with Gallery(tmp_path / "gallery.sqlite", encoder) as gallery:
        for voice in range(2):
            gallery.enroll(f"voice {voice}", _clip(voice))
        whole = identify_timeline(prepared, encoder, gallery, original_duration_s=clip.duration_s)
        with LongRecording(path, encoder, trim_ends=True) as recording:
            assert recording.trim == prepared.stage("trim").kept[0] == (3.0, 36.0)
            assert recording.spans == prepared.stage("silence").kept
            assert recording.speech_s == prepared.speech_s
            assert recording.frame_count == len(features)
            streamed = recording.features(0, recording.frame_count)
            np.testing.assert_allclose(streamed, features, atol=1e-3)
            embedding = recording.embedding()
            timeline = recording.timeline(gallery)
    assert float(np.dot(embedding, encoder.embed_features(features))) > 0.99999
    assert [w.speaker for w in timeline.windows] == [w.speaker for w in whole.windows]
    np.testing.assert_allclose([w.score for w in timeline.windows], [w.score for w in whole.windows],
                               atol=1e-4)
    assert [(s.speaker, round(s.start_s, 3), round(s.end_s, 3)) for s in timeline.segments] == \
        [(s.speaker, round(s.start_s, 3), round(s.end_s, 3)) for s in whole.segments]
    assert timeline.duration_s == pytest.approx(clip.duration_s)


def test_a_long_recording_keeps_its_ends_unless_asked(tmp_path):
    """The first/last-minute cut is the method's rule for training data, not for identification."""
    path = tmp_path / "talk.wav"
    sf.write(path, conversation(8.0, 5), RATE, subtype="PCM_16")
    encoder = small_encoder(PipelineConfig(preprocess=TRIMMED))
    with LongRecording(path, encoder) as whole, LongRecording(path, encoder, trim_ends=True) as cut:
        assert whole.trim == (0.0, 40.0) and whole.trimmed_s == pytest.approx(40.0)
        assert cut.trim == (3.0, 36.0) and cut.speech_s < whole.speech_s


def _clip(voice: int):
    from speakerid.audio import from_array

    return from_array(synth_voice(voice, 8.0, 16000, seed=voice), 16000)


def test_identify_recording_streams_long_files_only(tmp_path, monkeypatch, untrained_encoder):
    path = tmp_path / "talk.wav"
    sf.write(path, conversation(4.0, 4)[:, 0], RATE)
    opened = []
    monkeypatch.setattr(longform.LongRecording, "close",
                        lambda self: opened.append(self.speech_s) or None)
    with Gallery(tmp_path / "gallery.sqlite", untrained_encoder) as gallery:
        gallery.enroll("voice 0", _clip(0))
        short, _ = identify_recording(path, gallery)
        assert not opened  # 16 s: decoded whole, exactly as Gallery.identify does
        assert short.to_dict() == gallery.identify(path).to_dict()
        monkeypatch.setattr(longform, "STREAM_MIN_DURATION_S", 10.0)
        stages = []
        found, timeline = identify_recording(path, gallery, timeline=True,
                                             progress=lambda stage, done, total: stages.append(stage))
    assert opened and found.best.name == "voice 0" and timeline.segments
    assert list(dict.fromkeys(stages)) == ["decode", "speech", "features", "embed", "timeline"]


def test_silent_long_file_is_refused_in_one_sentence(tmp_path, untrained_encoder):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(RATE * 20, np.float32), RATE)
    with pytest.raises(SpeakerIDError, match="no speech found"):
        LongRecording(path, untrained_encoder)


def test_memory_does_not_grow_with_the_length_of_the_file(tmp_path, tiny_blocks, monkeypatch,
                                                           untrained_encoder):
    """Python/NumPy's peak while a recording is streamed, embedded and drawn is the same for 1 and
    4 minutes of stereo 48 kHz audio (the whole-file path holds the decoded file, 92 MB for 4
    minutes, several times); no read of the spilled signal or features asks for more than a block."""
    monkeypatch.setattr(longform, "BLOCK_SAMPLES", 1 << 15)
    monkeypatch.setattr(longform, "FEATURE_BLOCK_FRAMES", 1000)
    reads = []
    read = spill.Spill.read
    monkeypatch.setattr(spill.Spill, "read", lambda self, start, count: reads.append(count)
                        or read(self, start, count))
    turn = conversation(20.0, 3, 48000)
    peaks = {}
    for minutes in (1, 4):
        path = tmp_path / f"talk{minutes}.wav"
        sf.write(path, np.tile(turn, (minutes, 1)), 48000, subtype="PCM_16")
        tracemalloc.start()
        try:
            with LongRecording(path, untrained_encoder) as recording:
                recording.embedding()
                recording.overview()
            peaks[minutes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    decoded_4_min = 4 * 60 * 48000 * 2 * 4
    assert peaks[4] < peaks[1] + 2_000_000, peaks
    assert peaks[4] < decoded_4_min / 4, peaks
    # the largest reads: a block of the signal (32 768 samples) or of VAD frames (101 x 480)
    assert max(reads) <= 101 * 480


def test_cli_prints_who_speaks_when_in_a_streamed_file(tmp_path, monkeypatch, capsys):
    from speakerid.cli import main

    model = small_encoder(PipelineConfig()).save(tmp_path / "model")
    with Gallery(tmp_path / "gallery.sqlite", load_model(model)) as gallery:
        gallery.enroll("voice 0", _clip(0))
    path = tmp_path / "talk.wav"
    sf.write(path, conversation(4.0, 4)[:, 0], RATE)
    monkeypatch.setattr(longform, "STREAM_MIN_DURATION_S", 10.0)
    common = [str(path), "--weights", str(model), "--gallery", str(tmp_path / "gallery.sqlite")]
    assert main(["identify", *common, "--timeline", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["segments"] and "windows" not in row
    assert row["duration_s"] == pytest.approx(16.0)
    assert main(["identify", *common, "--timeline"]) == 0
    assert "speaking time: " in capsys.readouterr().out
