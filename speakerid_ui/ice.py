"""The STUN/TURN servers for the Live page's WebRTC connection (UI only: streamlit-webrtc takes them)."""

from __future__ import annotations

import json
import os

from speakerid import SpeakerIDError

ICE_SERVERS_ENV = "SPEAKERID_ICE_SERVERS"


def ice_servers() -> list[dict]:
    """The STUN/TURN servers for the Live page's WebRTC connection, from ``SPEAKERID_ICE_SERVERS``
    (a JSON list of RTCIceServer objects: ``[{"urls": "turn:host:3478", "username": ...,
    "credential": ...}]``); none by default, enough when the browser and the app share a machine
    or a network without NAT between them."""
    text = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not text:
        return []
    try:
        servers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpeakerIDError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc.msg} at character {exc.pos})"
                             ) from None
    if not isinstance(servers, list) or not all(
            isinstance(s, dict) and isinstance(s.get("urls"), str | list) for s in servers):
        raise SpeakerIDError(f'{ICE_SERVERS_ENV} must be a JSON list of servers like '
                             f'[{{"urls": "stun:stun.example.org:3478"}}]')
    return servers
