"""The bundled demo voices: enrolled once by ``gallery demo`` (or the app's button), and each example
clip identified rightly by the shipped model."""

from __future__ import annotations

import pytest

from speakerid import Encoder, Gallery, load_model, paths
from speakerid.cli import main
from speakerid.demo import DEMO_DIR, demo_examples, demo_voices, enrol_demo


def test_the_demo_is_small_licensed_and_has_an_unknown_voice():
    files = [p for p in DEMO_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 2_000_000
    notice = (DEMO_DIR / "NOTICE").read_text()
    assert "CC BY 4.0" in notice and "LibriSpeech" in notice
    for clip in [*(v.path for v in demo_voices()), *(e.path for e in demo_examples())]:
        assert clip.is_file() and clip.relative_to(DEMO_DIR).as_posix() in notice
    assert all(v.name.startswith("Demo reader ") for v in demo_voices())
    [unknown] = [e for e in demo_examples() if e.speaker is None]
    assert "unknown" in unknown.path.name
    assert {e.speaker for e in demo_examples()} - {None} == {v.name for v in demo_voices()}


@pytest.fixture(scope="module")
def shipped() -> Encoder:
    return load_model(paths.SHIPPED_WEIGHTS)


def test_the_shipped_model_names_each_demo_reader_and_not_the_unknown_one(shipped, tmp_path):
    with Gallery(tmp_path / "gallery.sqlite", shipped) as gallery:
        first = enrol_demo(gallery)
        assert first.enrolled == [v.name for v in demo_voices()] and first.present == []
        again = enrol_demo(gallery)
        assert again.enrolled == [] and again.present == first.enrolled
        assert len(gallery) == len(demo_voices())
        verdicts = {example.path.name: gallery.identify(example.path).speaker
                    for example in demo_examples()}
    assert verdicts == {example.path.name: example.speaker for example in demo_examples()}


def test_gallery_demo_enrols_once_and_says_so_the_second_time(untrained_encoder, tmp_path, capsys):
    weights = ["--weights", str(untrained_encoder.save(tmp_path / "model"))]
    assert main(["gallery", "demo", *weights]) == 0
    out = capsys.readouterr().out
    assert f"enrolled {len(demo_voices())} demo voice(s): Demo reader 1" in out
    assert "assets/demo/examples" in out
    assert main(["gallery", "demo", *weights]) == 0
    out = capsys.readouterr().out
    assert "already enrolled: Demo reader 1" in out and "enrolled 4" not in out
    with Gallery() as gallery:
        assert [s.name for s in gallery.speakers()] == [v.name for v in demo_voices()]
        assert gallery.speaker(demo_voices()[0].name).gender == "female"
