"""Nobody in by default, without the app: the shipped config binds to localhost, secrets stay out of
git, the password is kept only as a salted hash, and ``app-password`` writes it."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from speakerid import SpeakerIDError
from speakerid.app import access
from speakerid.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_config_serves_this_computer_only():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert access.is_local_address(config["server"]["address"])


def test_the_secrets_file_is_never_committed():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing decides what is committed")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT)
    assert ignored.returncode == 0


@pytest.mark.parametrize("address, local", [
    ("localhost", True), ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("", False), (None, False),
    ("newsroom.example.org", False),
])
def test_only_loopback_addresses_are_local(address, local):
    assert access.is_local_address(address) is local


def test_the_password_is_stored_as_a_salted_hash():
    stored = access.hash_password("correct horse")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert access.password_matches("correct horse", stored)
    assert not access.password_matches("correct horsE", stored)
    assert not access.password_matches("", stored)
    assert access.hash_password("correct horse") != stored  # a new salt each time


def test_a_short_password_is_refused():
    with pytest.raises(SpeakerIDError, match="at least 8 characters"):
        access.hash_password("short")


@pytest.mark.parametrize("stored", ["correct horse", "md5$abc", "scrypt$16384$8$1$!!$!!",
                                    "scrypt$0$8$1$AAAA$AAAA"])
def test_a_hash_it_did_not_write_is_refused_not_accepted(stored):
    with pytest.raises(SpeakerIDError, match="app-password"):
        access.password_matches("correct horse", stored)


def test_writing_the_hash_keeps_the_other_secrets(tmp_path):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('# shared\n[database]\nurl = "x"\n\n[speakerid_auth]\npassword_hash = "old"\n'
                       '\n[auth]  # st.login\nclient_id = "y"\n')
    access.write_password_hash("scrypt$new", secrets)
    access.write_password_hash("scrypt$newer", secrets)
    text = secrets.read_text()
    assert tomllib.loads(text) == {"database": {"url": "x"}, "auth": {"client_id": "y"},
                                   "speakerid_auth": {"password_hash": "scrypt$newer"}}
    assert "# shared" in text and "# st.login" in text
    assert secrets.stat().st_mode & 0o077 == 0  # the owner's only
    assert [p.name for p in secrets.parent.iterdir()] == ["secrets.toml"]


def test_an_unreadable_secrets_file_is_left_alone(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[database\nurl = ")
    with pytest.raises(SpeakerIDError, match="not valid TOML"):
        access.write_password_hash("scrypt$new", secrets)
    assert secrets.read_text() == "[database\nurl = "


def typed(monkeypatch, *answers: str) -> None:
    """What the user types at getpass's prompts, in order."""
    replies = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(replies))


def test_app_password_writes_the_hash(tmp_path, monkeypatch, capsys):
    secrets = tmp_path / "secrets.toml"
    typed(monkeypatch, "correct horse", "correct horse")
    assert main(["app-password", "--secrets", str(secrets)]) == 0
    stored = tomllib.loads(secrets.read_text())["speakerid_auth"]["password_hash"]
    assert access.password_matches("correct horse", stored) and "correct horse" not in secrets.read_text()
    assert "restart the app" in capsys.readouterr().out


@pytest.mark.parametrize("answers, message", [
    (("correct horse", "correct house"), "the two passwords differ"),
    (("short",), "at least 8 characters"),
])
def test_app_password_refusals_change_nothing(tmp_path, monkeypatch, capsys, answers, message):
    secrets = tmp_path / "secrets.toml"
    typed(monkeypatch, *answers)
    assert main(["app-password", "--secrets", str(secrets)]) == 2
    assert message in capsys.readouterr().err and not secrets.exists()
