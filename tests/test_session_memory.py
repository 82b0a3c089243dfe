"""What a session keeps that is large (speakerid_ui.session_memory) is released once the session's
browser has gone, and only then; a script run without a server (AppTest) releases nothing."""

from __future__ import annotations

import pytest

from speakerid_ui import session_memory


class FakeRuntime:
    """The server's view of its sessions: which are connected."""

    def __init__(self, active: set[str]) -> None:
        self.active = active

    def is_active_session(self, session: str) -> bool:
        return session in self.active


@pytest.fixture
def runtime(monkeypatch):
    fake = FakeRuntime({"open tab", "closed tab"})
    monkeypatch.setattr(session_memory.Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(session_memory.Runtime, "instance", classmethod(lambda cls: fake))
    monkeypatch.setattr(session_memory, "_kept", {})
    return fake


def test_an_ended_sessions_large_values_are_released_and_the_others_kept(runtime):
    open_tab = {"identify_result": "analysis", "identify_source": "Upload clips"}
    closed_tab = {"identify_result": "analysis", "identify_figures": "figures",
                  "identify_source": "Upload clips"}
    session_memory._kept.update({"open tab": (open_tab, {"identify_result"}),
                                 "closed tab": (closed_tab, {"identify_result", "identify_figures"})})
    assert session_memory.release_ended_sessions() == 0  # both still connected
    runtime.active.discard("closed tab")
    assert session_memory.release_ended_sessions() == 1
    assert closed_tab == {"identify_source": "Upload clips"}  # small widget values stay
    assert open_tab == {"identify_result": "analysis", "identify_source": "Upload clips"}
    assert list(session_memory._kept) == ["open tab"]
    assert session_memory.release_ended_sessions() == 0  # released once


def test_a_key_the_session_deleted_itself_is_no_error(runtime):
    state: dict[str, str] = {}
    session_memory._kept["closed tab"] = (state, {"identify_batch"})
    runtime.active.clear()
    assert session_memory.release_ended_sessions() == 1 and state == {}


def test_without_a_server_nothing_is_released(monkeypatch):
    monkeypatch.setattr(session_memory.Runtime, "exists", classmethod(lambda cls: False))
    monkeypatch.setattr(session_memory, "_kept", {"any": ({"identify_result": 1}, {"identify_result"})})
    assert session_memory.release_ended_sessions() == 0 and session_memory._kept["any"][0]
