"""Where a laptop keeps its login to a team server: URL + personal token, never database credentials.

The file is ``$XDG_CONFIG_HOME/phasegate/credentials.json`` (``~/.config`` when unset), mode 0600 in a 0700
folder, written atomically (temporary file, fsync, rename) so a crash never leaves half a token. Like ssh
with its keys, a credentials file that others may read is refused rather than used: the token in it acts as
its person on every project they may see.

``PHASEGATE_SERVER_URL`` with ``PHASEGATE_TOKEN`` in the environment take the place of the file (for CI and
scripts that get the token from a secret store); half of that pair is a mistake, not a silent fallback to a
local database. Standard library only: this module is read at the start of every command.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from phasegate.gates.vocabulary.errors import InputError

URL_VARIABLE = "PHASEGATE_SERVER_URL"
TOKEN_VARIABLE = "PHASEGATE_TOKEN"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Login:
    """A server the CLI talks to and the token it presents; ``source`` says where it was found."""

    url: str
    token: str
    person_id: str | None = None
    role: str | None = None
    source: str = "file"  # "file" or "environment"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    # The XDG spec says to ignore a relative value: it would depend on the directory a command runs in.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "phasegate"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def server_url(value: str, *, option: str = "URL") -> str:
    """The base URL of a phasegate server, normalised (no trailing slash); plain http only on this machine.

    Why refuse plain http elsewhere: the token travels in every request header, and on http anyone on the
    network path can read it and act as its person.
    """
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError(f"{option}: {value!r} is not a server address; use e.g. https://phasegate.example.org")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InputError(f"{option}: give the server's address only, e.g. https://phasegate.example.org")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise InputError(
            f"{option}: {value!r} uses plain http, which would send your token readable on the network; "
            "use https:// (http:// is accepted for 127.0.0.1 and localhost only)"
        )
    return text


def current() -> Login | None:
    """The login commands act through, or None when the CLI works on a database directly."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if url or token:
        if not (url and token):
            missing = TOKEN_VARIABLE if url else URL_VARIABLE
            raise InputError(
                f"{missing}: not set, but {URL_VARIABLE if url else TOKEN_VARIABLE} is; set both to work "
                "through a server, or neither"
            )
        return Login(url=server_url(url, option=URL_VARIABLE), token=token, source="environment")
    return stored()


def stored() -> Login | None:
    """The login saved by ``phasegate login``, if any; refused when others may read it or it is damaged."""
    path = credentials_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"{path}: readable by other users (mode {stat.S_IMODE(info.st_mode):o}); run 'chmod 600 {path}' "
            "or 'phasegate logout' and log in again"
        )
    if info.st_uid != os.getuid():
        raise InputError(f"{path}: owned by another user; run 'phasegate logout' and log in again")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Login(
            url=str(data["url"]),
            token=str(data["token"]),
            person_id=data.get("person_id"),
            role=data.get("role"),
        )
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: not a phasegate login file; run 'phasegate logout' and log in again") from None


def save(login: Login) -> Path:
    """Write the login with mode 0600 in a 0700 folder, atomically; returns the file's path."""
    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # our own folder: tighten it if it was created wider
    path = credentials_path()
    partial = folder / f".credentials.{os.getpid()}.tmp"
    record = {k: v for k, v in asdict(login).items() if k != "source"}
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def remove() -> bool:
    """Forget the stored login; False when there was none."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True
