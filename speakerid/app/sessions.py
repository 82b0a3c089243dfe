"""Staying signed in across a page reload: a signed, expiring token the browser keeps in a cookie.

A token names who signed in (``""`` for the one shared password), carries a fingerprint of the
password hash they signed in with (a new password, or a removed account, ends every session made
with the old one), when it expires, and a random id (so that signing out ends that one session).
It is signed with HMAC-SHA256 under a key made once per server and kept in ``secrets/session.key``
(mode 0600) in the app's home; deleting that file signs everyone out.

No Streamlit here; times are passed in, so nothing here reads a clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import paths

SESSION_LIFETIME_S = 12 * 3600  # a working day: signing in once a shift, never staying in for days
KEY_BYTES = 32
KEY_FILE = "session.key"


@dataclass(frozen=True)
class Session:
    """What a valid token says: who, with which password hash (its fingerprint), until when."""

    name: str
    fingerprint: str
    expires: float
    token_id: str

    def made_with(self, password_hash: str) -> bool:
        return hmac.compare_digest(self.fingerprint, fingerprint(password_hash))


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def issue_token(name: str, password_hash: str, now: float, key: bytes,
                lifetime_s: float = SESSION_LIFETIME_S) -> str:
    """A token for ``name``, signed in with ``password_hash`` at ``now`` (seconds since the epoch)."""
    claims = {"n": name, "f": fingerprint(password_hash), "e": int(now + lifetime_s),
              "j": secrets.token_urlsafe(12)}
    body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"{body}.{_b64(_signature(body, key))}"


def read_token(token: str | None, now: float, key: bytes) -> Session | None:
    """The session ``token`` stands for, or None when it is missing, forged, damaged or expired."""
    if not token or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    try:
        if not hmac.compare_digest(_unb64(signature), _signature(body, key)):
            return None
        claims = json.loads(_unb64(body))
        session = Session(str(claims["n"]), str(claims["f"]), float(claims["e"]), str(claims["j"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


def session_key(path: Path | None = None) -> bytes:
    """This server's signing key, made (random, mode 0600) the first time it is asked for."""
    path = path or paths.secrets_dir() / KEY_FILE
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) >= KEY_BYTES:
            return key
        path.unlink()  # empty or cut short (a crash while it was written): a new key, nobody in yet
        return session_key(path)
    with os.fdopen(handle, "wb") as out:
        key = secrets.token_bytes(KEY_BYTES)
        out.write(key)
    return key


class SignedOut:
    """The tokens signed out of before they expire, remembered by this server process until they
    would have expired (signing out also deletes the browser's cookie)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, session: Session, now: float) -> None:
        with self._lock:
            self._until = {j: t for j, t in self._until.items() if t > now}
            self._until[session.token_id] = session.expires

    def __contains__(self, session: Session) -> bool:
        with self._lock:
            return session.token_id in self._until


def _signature(body: str, key: bytes) -> bytes:
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
