"""What a page keeps in a session's state that is large (an analysis with its audio, its figures),
released as soon as the session's browser has gone.

Streamlit keeps a closed session's state for two minutes (in case the browser reconnects) and drops
it only when its session store is next touched; with journalists opening and closing tabs all day,
every analysis of every closed tab stayed in memory meanwhile. Here a session's large values are
deleted, at the next script run of any session that keeps or looks for one, once its browser has
gone (a session that does reconnect analyses its clip again)."""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

_lock = threading.Lock()
_kept: dict[str, tuple[Any, set[str]]] = {}  # session id -> (its session state, the large keys kept there)


def keep(key: str, value: Any) -> None:
    """``st.session_state[key] = value``, deleted once this session has ended."""
    st.session_state[key] = value
    context = get_script_run_ctx()
    if context is not None:
        with _lock:
            _kept.setdefault(context.session_id, (context.session_state, set()))[1].add(key)
    release_ended_sessions()


def release_ended_sessions() -> int:
    """Delete what ended sessions kept with :func:`keep`; how many sessions had ended."""
    if not Runtime.exists():  # a script run without a server (AppTest): no session ends
        return 0
    runtime = Runtime.instance()
    with _lock:
        ended = [session for session in _kept if not runtime.is_active_session(session)]
        released = [_kept.pop(session) for session in ended]
    for state, keys in released:
        for key in keys:
            with suppress(KeyError):
                del state[key]
    return len(released)
