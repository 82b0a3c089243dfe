"""The app reads typed server folders only inside its data roots (``paths.inside_data_roots``)."""

from __future__ import annotations

import os

import pytest

from speakerid import SpeakerIDError, paths


@pytest.fixture
def roots(tmp_path, monkeypatch):
    first, second = tmp_path / "data", tmp_path / "more"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv(paths.DATA_ROOTS_VARIABLE, os.pathsep.join([str(first), "", str(second)]))
    return first, second


def test_the_default_root_is_data_in_the_app_home(speakerid_home, monkeypatch):
    monkeypatch.delenv(paths.DATA_ROOTS_VARIABLE, raising=False)
    assert paths.data_roots() == [(speakerid_home / "data").resolve()]
    assert (speakerid_home / "data").is_dir()
    assert paths.inside_data_roots(speakerid_home / "data" / "speakers") == \
        (speakerid_home / "data" / "speakers").resolve()


def test_folders_inside_any_root_are_accepted(roots):
    first, second = roots
    assert paths.data_roots() == [first.resolve(), second.resolve()]
    assert paths.inside_data_roots(first) == first.resolve()
    assert paths.inside_data_roots(str(second / "a" / "b")) == (second / "a" / "b").resolve()
    assert paths.inside_data_roots(first / "x" / ".." / "y") == (first / "y").resolve()


@pytest.mark.parametrize("escape", ["/etc", "{first}/../more-secret", "{first}-other", "{first}/../../..",
                                    "~", "relative/path"])
def test_folders_outside_are_refused_in_one_sentence(roots, escape):
    first, _ = roots
    typed = escape.format(first=first)
    with pytest.raises(SpeakerIDError) as refused:
        paths.inside_data_roots(typed)
    message = str(refused.value)
    assert message.startswith(f"{typed} is outside the folders this app may read")
    assert str(first.resolve()) in message and paths.DATA_ROOTS_VARIABLE in message


def test_a_symlink_out_of_a_root_is_refused(roots, tmp_path):
    first, _ = roots
    outside = tmp_path / "private"
    outside.mkdir()
    (first / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SpeakerIDError, match="outside the folders"):
        paths.inside_data_roots(first / "link" / "speakers")
