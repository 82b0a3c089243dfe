"""The Gallery page's Calibrate tab with AppTest, on a refit that must not be used: the page says why
and offers no button to use it (the accepted case is in test_app.py)."""

from __future__ import annotations

from test_app import ROOT, app_env, open_app, rerun, texts, wav, weights  # noqa: F401 (fixtures)

from speakerid import Gallery, load_model, paths
from speakerid.audio import decode_bytes


def test_a_refused_refit_shows_its_reason_and_no_button_to_use_it(monkeypatch):
    shipped = ROOT / "weights"  # synthetic voices score far above its threshold against each other
    monkeypatch.setenv("SPEAKERID_WEIGHTS", str(shipped))
    with Gallery(paths.gallery_path(), load_model(shipped)) as gallery:
        for speaker in reversed(range(10)):
            gallery.enroll(f"Speaker {speaker}", [decode_bytes(wav(speaker, 5.0, seed), f"{seed}.wav")
                                                  for seed in (0, 1)])
    at = open_app("gallery")
    at.button(key="calibrate_fit").click()
    rerun(at)
    shown = texts(at)
    assert "On this gallery's own clips, now: " in shown and "let in (threshold 3.318)" in shown
    assert "This refit cannot be used: the refit threshold " in shown
    assert "outside the 1%-99%" in shown
    buttons = [button.key for button in at.button]
    assert "calibrate_fit" in buttons and "calibrate_apply" not in buttons
    assert "the model’s own" in shown
