"""The Gallery page's History tab with AppTest: a removal is listed with the signed-in person's name
and undone from there, the speaker back with every clip."""

from __future__ import annotations

from test_app import app_env, enrol, model_loaded, open_app, rerun, speakers, texts, wav, weights  # noqa: F401
from test_app_roles import sign_in, visit

from speakerid import Gallery, paths
from speakerid.app import accounts
from speakerid.gallery.history import os_user
from speakerid_ui.formatting import md


def test_a_removed_speaker_is_listed_with_who_removed_them_and_comes_back_by_undo():
    enrol("Alice", wav(0, 6.0))
    enrol("Bob", wav(1, 6.0))
    enrol("Bob", wav(1, 5.0, seed=2))
    with Gallery(paths.gallery_path()) as gallery:
        clips_before = [c.samples.tobytes() for c in gallery.clip_audio("Bob")]
    accounts.add_account("Ada Admin", "a long enough password", "admin")  # the first account is an admin's
    accounts.add_account("Eva Editor", "a long enough password", "editor")
    at = sign_in(visit(), "Eva Editor", "a long enough password")
    if not model_loaded():
        rerun(at)
    at.switch_page("pages/gallery.py")
    rerun(at)
    at.selectbox(key="edit_speaker").set_value("Bob")
    at.button(key="remove_ask").click()
    rerun(at)
    at.button(key="remove_yes").click()
    rerun(at)
    assert set(speakers()) == {"Alice"}

    shown = texts(at)
    assert md("removed Bob (2 clips)") in shown and "Eva Editor" in shown
    assert md("added 1 clip to Bob") in shown and md(os_user()) in shown  # enrolled through the library
    with Gallery(paths.gallery_path()) as gallery:
        removal = gallery.history(limit=1)[0]
    at.button(key=f"history_undo_{removal.id}").click()
    rerun(at)
    assert f"Undid change {removal.id}: " + md("removed Bob (2 clips)") in texts(at)
    assert speakers()["Bob"].clips == 2
    with Gallery(paths.gallery_path()) as gallery:
        assert [c.samples.tobytes() for c in gallery.clip_audio("Bob")] == clips_before
        undo = gallery.history(limit=1)[0]
    assert (undo.user, undo.undoes) == ("Eva Editor", removal.id)
    assert f"undone by change {undo.id}" in texts(at)
    assert f"history_undo_{removal.id}" not in [button.key for button in at.button]


def test_an_undo_that_conflicts_says_why_and_changes_nothing():
    enrol("Alice", wav(0, 6.0))
    at = open_app("gallery")
    with Gallery(paths.gallery_path()) as gallery:
        gallery.rename("Alice", "Alice Rai")
        renamed = gallery.history(limit=1)[0].id
    enrol("Alice", wav(2, 6.0))
    rerun(at)
    at.button(key=f"history_undo_{renamed}").click()
    rerun(at)
    assert f"Change {renamed} cannot be undone: the name Alice is taken now." in at.error[0].value
    assert set(speakers()) == {"Alice", "Alice Rai"}
