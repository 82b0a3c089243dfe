"""The app's front door: ``speakerid_ui.frame.app_frame`` asks :func:`may_enter` before it draws any page
or the sidebar (on every run, deep links included), and calls :func:`turn_away` for a session that
may not, so nobody gets in by default. Who may come in, first rule that applies:

1. Accounts (``python -m speakerid app-user``, kept in ``secrets/accounts.json`` in the app's home):
   everyone signs in with their own name and password, and their role (viewer, editor, admin)
   decides what the pages offer them. A shared password, if one is set too, is not asked for.
2. A shared password hash in ``.streamlit/secrets.toml`` (``python -m speakerid app-password``): every
   browser session signs in with it, and may then do everything (one person, or a team that trusts
   itself).
3. Neither, server bound to this machine (``server.address = "localhost"``, the shipped
   ``.streamlit/config.toml``): open, with every right, as any program on one's own computer.
4. Neither, server on a network address: nothing is served but how to set up accounts or a password.

Signing in lasts :data:`speakerid.app.sessions.SESSION_LIFETIME_S` (12 h), a page reload included: a
signed token is kept in a browser cookie. Failed sign-ins are slowed down per name and per client
(:mod:`speakerid.app.throttle`).

Presentation only (the hashing, tokens and throttle are in :mod:`speakerid.app`); imports neither
TensorFlow nor the gallery.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

from speakerid import SpeakerIDError
from speakerid.app.access import HASH_KEY, SECRETS_SECTION, is_local_address, password_matches
from speakerid.app.accounts import ADMIN, Account, load_accounts, role_allows, signed_in_account
from speakerid.app.sessions import (
    SESSION_LIFETIME_S,
    Session,
    SignedOut,
    issue_token,
    read_token,
    session_key,
)
from speakerid.app.throttle import SignInThrottle
from speakerid.i18n import _
from speakerid_ui.formatting import md

# The signed-in account's name, for whatever records who did what (the gallery's history); absent
# without accounts (a shared password, or open on this computer).
SIGNED_IN_USER = "signed_in_user"
COOKIE = "speakerid_session"
_SESSION = "_signed_in_session"  # the Session this browser session signed in with (or read from its cookie)
_COOKIE_TO_WRITE = "_session_cookie_to_write"  # a token to put in the cookie on this run; "": delete it
_VISITOR = "_visitor"  # who this run is for, worked out once per run by may_enter
THROTTLE = SignInThrottle()
SIGNED_OUT = SignedOut()


@dataclass(frozen=True)
class Visitor:
    """Who is using this browser session: their role, and their account's name (None without
    accounts); ``session``: the sign-in it rests on (None when the app is open on this computer)."""

    role: str
    account: str | None = None
    session: Session | None = None


def may_enter() -> bool:
    """Whether this browser session may see the app (see the module's rules); remembers who it is
    for :func:`may` and the pages. A changed password or a removed account signs its sessions out."""
    _write_cookie()
    try:
        visitor = _current_visitor()
    except SpeakerIDError:  # a damaged accounts file: turn_away says so
        visitor = None
    st.session_state[_VISITOR] = visitor
    if visitor is not None and visitor.account is not None:
        st.session_state[SIGNED_IN_USER] = visitor.account
    else:
        st.session_state.pop(SIGNED_IN_USER, None)
    return visitor is not None


def may(role: str) -> bool:
    """Whether this session's person may do what ``role`` may (``"editor"``: change the gallery and
    the archive; ``"admin"``: accounts, models, training)."""
    visitor = st.session_state.get(_VISITOR)
    return visitor is not None and role_allows(visitor.role, role)


def require_role(role: str) -> None:
    """Stop the page, saying why, unless this session's person may do what ``role`` may."""
    if not may(role):
        st.warning(_("This page is for people with the {role} role. Ask an admin if you need it.").format(
            role=role_words(role)), icon=":material/lock:")
        st.stop()


def has_accounts() -> bool:
    """Whether this session signed in with an account (so the Accounts page applies)."""
    visitor = st.session_state.get(_VISITOR)
    return visitor is not None and visitor.account is not None


def turn_away() -> NoReturn:
    """Draw the sign-in form, or why the app is closed, and stop the script run."""
    try:
        accounts = load_accounts()
    except SpeakerIDError as exc:
        st.title("Speaker ID")
        st.error(_("Nobody can sign in: {why}.").format(why=exc), icon=":material/error:")
        st.stop()
    stored = configured_password_hash()
    if accounts:
        sign_in(_account_sign_in, named=True)
    elif stored is not None:
        sign_in(lambda name, password: _shared_sign_in(password, stored), named=False)
    else:
        refuse_without_password()
    st.stop()


def configured_password_hash() -> str | None:
    """The password hash from Streamlit's secrets, or None when none is set (or the file is unreadable)."""
    if not st.secrets.load_if_toml_exists():
        return None
    section = st.secrets.get(SECRETS_SECTION)
    stored = section.get(HASH_KEY) if section is not None else None
    return stored if isinstance(stored, str) and stored else None


def refuse_without_password() -> NoReturn:
    st.title(_("Speaker ID is closed"))
    st.error(_("**This server listens on the network, but nobody can sign in, so it serves nothing.** "
               "On the server, in the project folder, add accounts (`python -m speakerid app-user add "
               "NAME --role admin`) or set one shared password (`python -m speakerid app-password`, then "
               "restart the app); or serve it on this computer only (`server.address = \"localhost\"`, "
               "the default in `.streamlit/config.toml`)."), icon=":material/lock:")
    st.stop()


SignInCheck = Callable[[str, str], tuple[str, str] | None]


def sign_in(check: SignInCheck, named: bool) -> None:
    """The sign-in form (``named``: with a name field). ``check(name, password)`` gives the
    account's name and password hash, or None for a wrong one; right, the session is signed in and
    the app redrawn; wrong, the next try may have to wait."""
    st.title("Speaker ID")
    with st.form("sign_in"):
        name = st.text_input(_("Name"), key="sign_in_name") if named else ""
        password = st.text_input(_("Password"), type="password", key="sign_in_password")
        submitted = st.form_submit_button(_("Sign in"), type="primary", icon=":material/login:",
                                          key="sign_in_submit")
    if not submitted:
        return
    keys = (f"name:{name.strip().casefold()}", f"client:{client_address()}")
    wait = THROTTLE.wait_s(*keys)
    if wait > 0:
        st.error(_("Too many failed sign-ins: wait {seconds} s before the next try.").format(
            seconds=math.ceil(wait)), icon=":material/timer:")
        return
    try:
        signed_in = check(name, password)
    except SpeakerIDError as exc:
        st.error(_("Nobody can sign in: {why}.").format(why=exc), icon=":material/error:")
        return
    if signed_in is None:
        wait = THROTTLE.failed(*keys)
        wrong = _("Wrong name or password.") if named else _("Wrong password.")
        st.error(wrong if wait <= 0 else " ".join(
            [wrong, _("Wait {seconds} s before the next try.").format(seconds=math.ceil(wait))]),
            icon=":material/lock:")
        return
    THROTTLE.succeeded(*keys)
    start_session(*signed_in)
    st.rerun()


def _account_sign_in(name: str, password: str) -> tuple[str, str] | None:
    account: Account | None = signed_in_account(name, password)
    return (account.name, account.password_hash) if account is not None else None


def _shared_sign_in(password: str, stored: str) -> tuple[str, str] | None:
    return ("", stored) if password_matches(password, stored) else None


def start_session(name: str, password_hash: str) -> None:
    """Mark this browser session signed in, and have the browser keep it across reloads."""
    token = issue_token(name, password_hash, time.time(), session_key())
    st.session_state[_SESSION] = read_token(token, time.time(), session_key())
    st.session_state[_COOKIE_TO_WRITE] = token


def sign_out() -> None:
    """End this session's sign-in here and in the browser's cookie (a button's callback)."""
    session = st.session_state.pop(_SESSION, None)
    if session is not None:
        SIGNED_OUT.add(session, time.time())
    st.session_state[_COOKIE_TO_WRITE] = ""


def sidebar_account() -> None:
    """Who is signed in, and the way out ("Signed in as NAME (role) · Sign out")."""
    visitor: Visitor | None = st.session_state.get(_VISITOR)
    if visitor is None or visitor.session is None:
        return  # open on this computer: nobody signs in
    with st.sidebar:
        who = (_("Signed in as **{name}** ({role})").format(name=md(visitor.account),
                                                             role=role_words(visitor.role))
               if visitor.account is not None else _("Signed in with the shared password"))
        st.caption(who)
        st.button(_("Sign out"), key="sign_out", type="tertiary", icon=":material/logout:",
                     on_click=sign_out)


def role_words(role: str) -> str:
    return {"viewer": _("viewer"), "editor": _("editor"), "admin": _("admin")}[role]


def client_address() -> str:
    """Where this browser connects from, for slowing down guessing per client. Behind a reverse
    proxy on this machine, the address the proxy passes on (``X-Forwarded-For``'s last entry,
    which the proxy itself added); a header from anywhere else is not trusted."""
    peer = st.context.ip_address  # None for a browser on this computer
    peer = peer if isinstance(peer, str) else None  # (AppTest gives a stand-in object)
    if peer is None or is_local_address(peer):
        forwarded = st.context.headers.get("X-Forwarded-For") or st.context.headers.get("X-Real-Ip")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return peer or "this computer"


def _current_visitor() -> Visitor | None:
    accounts = load_accounts()
    session = _current_session()
    if accounts:
        account = accounts.get(session.name.casefold()) if session is not None else None
        if account is None or not session.made_with(account.password_hash):
            return None
        return Visitor(account.role, account.name, session)
    stored = configured_password_hash()
    if stored is not None:
        valid = session is not None and session.name == "" and session.made_with(stored)
        return Visitor(ADMIN, None, session) if valid else None
    return Visitor(ADMIN) if is_local_address(st.get_option("server.address")) else None


def _current_session() -> Session | None:
    """This browser session's sign-in: the one it made, else the one its cookie holds (a reload),
    unless expired or signed out."""
    now = time.time()
    session = st.session_state.get(_SESSION)
    if session is None:
        session = read_token(st.context.cookies.get(COOKIE), now, session_key())
    if session is None or session.expires <= now or session in SIGNED_OUT:
        st.session_state.pop(_SESSION, None)
        return None
    st.session_state[_SESSION] = session
    return session


def _write_cookie() -> None:
    """Put the token a sign-in made in the browser's cookie, or delete it after signing out: a
    script in the page (Streamlit reads cookies, it does not set them), ``Secure`` over HTTPS."""
    token = st.session_state.pop(_COOKIE_TO_WRITE, None)
    if token is None:
        return
    age = SESSION_LIFETIME_S if token else 0
    cookie = json.dumps(f"{COOKIE}={token}; Path=/; Max-Age={age}; SameSite=Strict")
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.html(f"<script>document.cookie = {cookie} + {secure};</script>",
            unsafe_allow_javascript=True, width="content")
