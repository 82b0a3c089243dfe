"""Who may use the app: its password, kept only as a salted scrypt hash in Streamlit's
``.streamlit/secrets.toml``, and whether the server listens on this machine only.

No Streamlit here: the app's sign-in gate (``speakerid_ui/access_gate.py``) and the CLI's ``app-password``
both build on it, and neither needs TensorFlow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import tempfile
import tomllib
from pathlib import Path

from ..errors import SpeakerIDError
from ..i18n import _

# Not [auth]: Streamlit reserves that section for st.login's OpenID settings.
SECRETS_SECTION = "speakerid_auth"
HASH_KEY = "password_hash"
# Streamlit reads secrets.toml from the .streamlit folder beside the app script (and the working
# directory's): this one is next to app.py whatever folder the app is started from.
APP_SECRETS = Path(__file__).resolve().parents[2] / ".streamlit" / "secrets.toml"
MIN_PASSWORD_LENGTH = 8
SCHEME = "scrypt"
# scrypt's cost: 16 MiB of memory and about 50 ms a try, so guessing is slow even with the file.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32


def hash_password(password: str) -> str:
    """The string stored instead of ``password``: scheme, cost, salt and key, ``$``-separated."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SpeakerIDError(_("the password must have at least {min_password_length} characters").format(
            min_password_length=MIN_PASSWORD_LENGTH))
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            raise ValueError(scheme)
        key_bytes = base64.b64decode(key, validate=True)
        given = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p),
                        length=len(key_bytes))
    except ValueError as exc:  # also scrypt's, for a cost it refuses
        raise SpeakerIDError(_("the password hash in {secrets} is not one that "
                               "`python -m speakerid app-password` wrote; run that command again").format(
                                   secrets=APP_SECRETS.name)) from exc
    return hmac.compare_digest(given, key_bytes)


def is_local_address(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only. No address means
    every interface (Streamlit's default); any host name other than localhost counts as the network."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def write_password_hash(stored: str, path: Path = APP_SECRETS) -> Path:
    """Put ``stored`` in the ``[speakerid_auth]`` section of the secrets file at ``path``, keeping
    every other section and comment; the file is replaced whole and readable by its owner only."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    _parse_toml(old, path)  # never rewrite a file we cannot read: it may hold other secrets
    kept = _without_section(old, SECRETS_SECTION).rstrip("\n")
    text = (kept + "\n\n" if kept else "") + f'[{SECRETS_SECTION}]\n{HASH_KEY} = "{stored}"\n'
    if _parse_toml(text, path).get(SECRETS_SECTION, {}).get(HASH_KEY) != stored:
        raise SpeakerIDError(_("{path} defines {secrets_section} in a form this command cannot update; "
                               "remove those lines and run it again").format(
                                   path=path, secrets_section=SECRETS_SECTION))
    write_private(path, text)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace the file at ``path`` whole with ``text``, readable and writable by its owner only
    (mode 0600, set before the file takes its name): secrets are never half-written or exposed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * r * n * 2)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse_toml(text: str, path: Path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpeakerIDError(_("{path} is not valid TOML ({exc}); fix or remove it first").format(
            path=path, exc=exc)) from exc


def _without_section(text: str, section: str) -> str:
    """``text`` less the lines of table ``[section]`` (its header up to the next table header)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.split("#", 1)[0].strip() == f"[{section}]"
        if not inside:
            kept.append(line)
    return "".join(kept)
