"""The installation's secret key: where it comes from, what makes it acceptable, and the keys derived from it.

Why there is no default: a key printed in the source signs links anyone can forge (a stranger once recorded a
KILL in another person's name that way). So every entry point that signs or checks approval links asks
``secret_key`` and stops with one line saying how to make a key when there is none.

Sources, first found wins:

1. ``PHASEGATE_SECRET_KEY`` (environment), for servers and workers whose secrets arrive that way;
2. the key file ``PHASEGATE_SECRET_KEY_FILE``, by default ``$PHASEGATE_HOME/secret.key``, which must belong to
   the user running phasegate and be readable by nobody else (mode 0600): a key others can read is a key
   others can sign with, and a file others can write is a key others can choose.

Keys shorter than 32 bytes are refused (HMAC keys that short can be guessed offline from one captured link).

The audit chain's key is *derived* from the secret key with HKDF-SHA256 and a fixed label, so a team
provisions one secret, and the two uses never share key material: a leaked approval-link signature says
nothing about the audit key, and the other way round.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from phasegate.gates.vocabulary.errors import SecretKeyError
from phasegate.models.settings import Settings

MIN_KEY_BYTES = 32
"""The same floor as ``notifications.links.MIN_SECRET_BYTES``: shorter HMAC keys are guessable offline."""

AUDIT_KEY_LABEL = b"phasegate.audit-chain.v1"
"""HKDF ``info`` of the audit-chain key: fixed forever, or every keyed entry written so far stops verifying."""

HOW_TO_MAKE = (
    "make one with 'phasegate key generate' (writes PHASEGATE_HOME/secret.key, mode 0600) or export "
    "PHASEGATE_SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\""
)


def secret_key(settings: Settings) -> str:
    """The secret key, checked; SecretKeyError (one line naming the source and the fix) when unusable."""
    given = settings.secret_key.get_secret_value().strip() if settings.secret_key is not None else ""
    if given:
        return _long_enough(given, "PHASEGATE_SECRET_KEY")
    path = settings.resolved_secret_key_file
    named = "PHASEGATE_SECRET_KEY_FILE" if settings.secret_key_file is not None else "the default key file"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretKeyError(
            f"PHASEGATE_SECRET_KEY is not set and {named} {path} does not exist; {HOW_TO_MAKE}",
            code="secret_key.missing",
        ) from None
    except OSError as exc:
        raise SecretKeyError(
            f"PHASEGATE_SECRET_KEY_FILE {path}: cannot be read ({exc.strerror})", code="secret_key.unreadable"
        ) from None
    _check_private(path, info)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(
            f"PHASEGATE_SECRET_KEY_FILE {path}: cannot be read as text ({type(exc).__name__})",
            code="secret_key.unreadable",
        ) from None
    return _long_enough(value, f"key file {path}")


def has_secret_key(settings: Settings) -> bool:
    """Whether a key is configured at all (it may still be refused by ``secret_key``)."""
    given = settings.secret_key is not None and bool(settings.secret_key.get_secret_value().strip())
    return given or settings.resolved_secret_key_file.exists()


def audit_key(settings: Settings) -> bytes | None:
    """The audit chain's HMAC key (HKDF-SHA256 of the secret key), or None when no key is configured.

    A configured but unusable key (too short, exposed file) is an error, not None: a typo must not quietly
    turn a keyed chain's appends into refusals far from their cause.
    """
    if not has_secret_key(settings):
        return None
    return derive_audit_key(secret_key(settings))


def derive_audit_key(secret: str) -> bytes:
    """HKDF-SHA256 (RFC 5869), no salt, info ``AUDIT_KEY_LABEL``, 32 bytes: reproducible from the secret alone."""
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=SHA256(), length=32, salt=None, info=AUDIT_KEY_LABEL).derive(secret.encode("utf-8"))


def generate_key() -> str:
    """A new random key: 32 bytes from the OS's CSPRNG, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(MIN_KEY_BYTES)


def write_key_file(path: Path) -> Path:
    """Create ``path`` holding a new key, mode 0600, its directory 0700 if created; never overwrite a key.

    Why never overwrite: replacing the key invalidates every approval link sent and makes the keyed audit
    entries written so far unverifiable. Rotating is a deliberate act (docs/security.md), not a flag.
    """
    from phasegate.models.private_files import private_dir

    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretKeyError(
            f"key file {path} already exists; phasegate never replaces a key (links and the audit chain depend "
            "on it): see docs/security.md on rotating it",
            code="secret_key.exists",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generate_key() + "\n")
    return path


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SecretKeyError(f"key file {path}: not a regular file", code="secret_key.file_mode")
    if info.st_uid != os.getuid():
        raise SecretKeyError(
            f"key file {path}: owned by uid {info.st_uid}, not by the user running phasegate (uid {os.getuid()}); "
            "whoever owns it can replace the key",
            code="secret_key.file_owner",
        )
    if info.st_mode & 0o077:
        raise SecretKeyError(
            f"key file {path}: mode {stat.S_IMODE(info.st_mode):04o} lets other users read or change the key; "
            f"run 'chmod 600 {path}'",
            code="secret_key.file_mode",
        )


def _long_enough(value: str, source: str) -> str:
    size = len(value.encode("utf-8"))
    if size < MIN_KEY_BYTES:
        raise SecretKeyError(
            f"{source}: the key is {size} bytes; at least {MIN_KEY_BYTES} are required; {HOW_TO_MAKE}",
            code="secret_key.too_short",
        )
    return value
