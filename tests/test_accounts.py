"""Accounts without the app: each person's salted hash in a private file, roles that nest, an admin
always left, ``app-user`` on the server; the signed, expiring sign-in token; the slowing down of
failed sign-ins (an injected clock: nothing here waits)."""

from __future__ import annotations

import io
import json
import stat

import pytest

from speakerid import SpeakerIDError, paths
from speakerid.app import accounts, sessions
from speakerid.app.throttle import MAX_DELAY_S, SignInThrottle, delay_s
from speakerid.cli import main

PASSWORD = "correct horse battery"


def add(name: str, role: str, password: str = PASSWORD) -> accounts.Account:
    return accounts.add_account(name, password, role)


def test_passwords_are_kept_only_as_salted_hashes_in_a_private_file():
    add("Sita Sharma", "admin")
    add("Ram", "viewer", "another long one")
    path = paths.accounts_path()
    text = path.read_text()
    assert PASSWORD not in text and "another long one" not in text and text.count("scrypt$") == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert accounts.signed_in_account("sita sharma", PASSWORD).name == "Sita Sharma"  # any case
    assert accounts.signed_in_account("Sita Sharma", PASSWORD + "!") is None
    assert accounts.signed_in_account("Ram", PASSWORD) is None  # another's password
    assert accounts.signed_in_account("Nobody", PASSWORD) is None


def test_roles_nest_viewer_editor_admin():
    assert [r for r in accounts.ROLES if accounts.role_allows("editor", r)] == ["viewer", "editor"]
    assert accounts.role_allows("admin", "editor") and not accounts.role_allows("viewer", "editor")
    with pytest.raises(SpeakerIDError, match="there is no role 'boss'"):
        accounts.role_allows("boss", "viewer")


def test_there_is_always_an_admin_while_anyone_has_an_account():
    with pytest.raises(SpeakerIDError, match="first account must be an admin"):
        add("Ram", "viewer")
    assert not paths.accounts_path().exists()
    add("Sita", "admin")
    add("Ram", "editor")
    with pytest.raises(SpeakerIDError, match="no admin"):
        accounts.set_role("Sita", "editor")
    with pytest.raises(SpeakerIDError, match="no admin"):
        accounts.remove_account("Sita")
    accounts.set_role("ram", "admin")
    accounts.remove_account("Sita")
    accounts.remove_account("Ram")  # the last one: back to no accounts
    assert accounts.load_accounts() == {}


@pytest.mark.parametrize("name, message", [
    ("  ", "needs a name"), ("x" * 65, "at most 64"), ("Ram\nroot", "control characters")])
def test_bad_names_are_refused(name, message):
    with pytest.raises(SpeakerIDError, match=message):
        add(name, "admin")


def test_a_name_is_taken_once_whatever_its_case():
    add("Sita", "admin")
    with pytest.raises(SpeakerIDError, match="Sita already has an account"):
        add("SITA", "admin")
    accounts.add_account("sita", "a new password", "admin", replace=True)
    assert accounts.signed_in_account("Sita", "a new password").name == "Sita"


def test_a_damaged_accounts_file_is_refused_not_emptied():
    path = paths.accounts_path()
    path.write_text('{"accounts": [{"name": "Sita"}]}')
    with pytest.raises(SpeakerIDError, match="is not an accounts file"):
        accounts.load_accounts()
    with pytest.raises(SpeakerIDError, match="is not an accounts file"):
        add("Ram", "admin")
    assert path.read_text() == '{"accounts": [{"name": "Sita"}]}'


def test_app_user_adds_lists_changes_and_removes(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["app-user", "add", "Sita", "--role", "admin", "--password-stdin"]) == 0
    answers = iter(["editor's password", "editor's password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["app-user", "add", "Ram", "--role", "editor"]) == 0
    assert main(["app-user", "role", "ram", "viewer"]) == 0
    capsys.readouterr()
    assert main(["app-user", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Ram\tviewer", "Sita\tadmin"]
    assert accounts.signed_in_account("Ram", "editor's password").role == "viewer"

    answers = iter(["first password", "second password"])
    assert main(["app-user", "add", "Hari", "--role", "editor"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err and accounts.find_account("Hari") is None
    assert main(["app-user", "remove", "Sita"]) == 2
    assert "no admin" in capsys.readouterr().err
    assert main(["app-user", "remove", "Ram"]) == 0
    assert list(accounts.load_accounts()) == ["sita"]
    assert "scrypt$" in json.loads(paths.accounts_path().read_text())["accounts"][0]["password_hash"]


# --- staying signed in ---------------------------------------------------------------------------
def test_a_token_names_who_signed_in_until_it_expires():
    key = sessions.session_key()
    token = sessions.issue_token("Sita", "scrypt$hash", now=1000.0, key=key)
    session = sessions.read_token(token, now=1000.0 + sessions.SESSION_LIFETIME_S - 1, key=key)
    assert session.name == "Sita" and session.made_with("scrypt$hash") and not session.made_with("other")
    assert sessions.read_token(token, now=1000.0 + sessions.SESSION_LIFETIME_S, key=key) is None


def test_a_forged_or_damaged_token_is_refused():
    key = sessions.session_key()
    token = sessions.issue_token("Ram", "scrypt$hash", now=0.0, key=key)
    body, signature = token.split(".")
    forged_body = sessions._b64(json.dumps({"n": "Sita", "f": "x", "e": 10**10, "j": "j"}).encode())
    for bad in (f"{forged_body}.{signature}", token[:-2], "", None, "a.b.c", "ü.ü"):
        assert sessions.read_token(bad, now=1.0, key=key) is None
    assert sessions.read_token(token, now=1.0, key=b"another server's key " * 2) is None


def test_the_signing_key_is_made_once_and_kept_private():
    key = sessions.session_key()
    path = paths.secrets_dir() / sessions.KEY_FILE
    assert len(key) == sessions.KEY_BYTES and sessions.session_key() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"cut")  # a damaged key is replaced (everyone signs in again)
    assert sessions.session_key() not in (key, b"cut")


def test_signing_out_ends_that_session_only():
    key = sessions.session_key()
    mine, theirs = (sessions.read_token(sessions.issue_token("Sita", "h", 0.0, key), 1.0, key)
                    for _ in range(2))
    signed_out = sessions.SignedOut()
    signed_out.add(mine, now=1.0)
    assert mine in signed_out and theirs not in signed_out


# --- slowing down guessing -------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failed_sign_ins_wait_longer_and_longer_per_name_and_per_client():
    clock = Clock()
    throttle = SignInThrottle(clock)
    keys = ("name:sita", "client:10.0.0.7")
    assert [throttle.failed(*keys) for _ in range(5)] == [0.0, 0.0, 2.0, 4.0, 8.0]
    assert throttle.wait_s("name:sita") == 8.0 and throttle.wait_s("client:10.0.0.7") == 8.0
    assert throttle.wait_s("name:ram", "client:10.0.0.7") == 8.0  # another name, same client
    assert throttle.wait_s("name:ram", "client:10.0.0.8") == 0.0
    clock.now = 8.0
    assert throttle.wait_s(*keys) == 0.0
    throttle.succeeded(*keys)
    assert throttle.failed(*keys) == 0.0  # a success starts afresh
    assert delay_s(40) == MAX_DELAY_S


def test_failures_long_ago_are_forgotten():
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(4):
        throttle.failed("name:sita")
    clock.now = 7200.0
    assert throttle.failed("name:ram") == 0.0 and throttle.failed("name:sita") == 0.0
