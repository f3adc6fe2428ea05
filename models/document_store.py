"""The document store: phasegate's own copy of every registered deliverable, addressed by its sha256.

Why a copy: a gate used to re-read the file at the path it was registered from, so a file edited during a
round could still pass as the approved one (it was re-hashed only where a criterion asked), and its sections
were those of the day it was registered. Now registering a file copies it here, under
``sha256/ab/cdef...`` (the first two hex digits fan the files out over 256 folders); the document record keeps
that key, and gate evaluation hashes the stored copy, never the original. Editing the original changes nothing;
registering the edited file makes it a new version.

Writes are atomic: the bytes go to a temporary file in the store (same file system), are flushed and
``fsync``-ed, made read-only and renamed into place, and the folder is ``fsync``-ed; a crash leaves either
no file or the whole file, never half of one. Content-addressed names make a second copy of the same bytes
a no-op, and a stored copy that no longer hashes to its name (tampered with or damaged) is replaced by the
next registration of the right bytes. A copy is written before the record that names it, so a crash in
between leaves an unreferenced file, never a record without its file; ``custody`` removes a copy it just
created when the registration that wanted it is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.limits import DEFAULT_LIMITS, IntakeLimits
from phasegate.models.documents import SECTION_FORMATS, file_format, sections_of
from phasegate.models.file_intake import CHUNK, open_regular, read_chunks
from phasegate.models.settings import Settings

STORE_KEY = re.compile(r"^sha256/[0-9a-f]{2}/[0-9a-f]{62}$")
"""A store key: what the document record holds, and the only kind of name the store resolves."""

READ_ONLY = 0o444


class StoredDocument(BaseModel):
    """A file taken into custody: where it is kept, and the facts read from the kept copy."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    key: str
    sha256: str
    size: int
    format: str
    headings: tuple[str, ...] | None
    unreadable_reason: str | None = None
    created: bool
    """False when the store already held these bytes."""

    def registered_as(self) -> dict[str, Any]:
        """The fields of a ``RegisterDocument`` that come from the kept copy (every door registers the same)."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "headings": self.headings,
            "store_key": self.key,
        }


def store_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def is_store_key(reference: str) -> bool:
    return STORE_KEY.match(reference) is not None


class DocumentStore:
    """The store under one root folder. Paths are derived from keys only, so no key can point outside it."""

    def __init__(self, root: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> None:
        self.root = root
        self.limits = limits

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentStore:
        return cls(settings.document_store_root, limits=settings.limits)

    def path_of(self, key: str) -> Path:
        if not is_store_key(key):
            raise ValueError(f"not a document store key: {key!r}")
        return self.root.joinpath(*key.split("/"))

    def sha256_of(self, key: str) -> str | None:
        """The stored copy's sha256 now; None when it is missing, unreadable or not a regular file."""
        try:
            path = self.path_of(key)
        except ValueError:
            return None
        digest = hashlib.sha256()
        try:
            with open_regular(
                path, label="store", max_bytes=2**62, what="files", setting="document_bytes", follow_symlinks=False
            ) as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        except (OSError, InputError):
            return None
        return digest.hexdigest()

    def put(self, source: Path, *, label: str = "FILE", follow_symlinks: bool = True) -> StoredDocument:
        """Copy ``source`` into the store (atomically) and read its sections from the copy's bytes.

        Refusals (not a regular file, over a cap) are ``InputError``s naming ``label`` and leave nothing behind.
        """
        fmt = file_format(source)
        cap, what, setting = self.limits.document_bytes, "documents", "document_bytes"
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        chunks: list[bytes] = []
        keep = fmt in SECTION_FORMATS
        try:
            with open_regular(
                source, label=label, max_bytes=cap, what=what, setting=setting, follow_symlinks=follow_symlinks
            ) as reader:
                handle, temporary = tempfile.mkstemp(dir=staging, prefix="incoming-")
                try:
                    with os.fdopen(handle, "wb") as writer:
                        for chunk in read_chunks(
                            reader, label=label, path=source, max_bytes=cap, what=what, setting=setting
                        ):
                            digest.update(chunk)
                            size += len(chunk)
                            writer.write(chunk)
                            if keep:  # only formats whose sections are read are held in memory
                                chunks.append(chunk)
                        writer.flush()
                        os.fsync(writer.fileno())
                    sha256 = digest.hexdigest()
                    headings, reason = sections_of(fmt, b"".join(chunks), limits=self.limits, label=label, path=source)
                    key = store_key(sha256)
                    created = self._place(Path(temporary), key, sha256)
                finally:
                    with suppress(FileNotFoundError):
                        os.unlink(temporary)
        except OSError as err:
            raise InputError(f"{label}: cannot store {str(source)!r}: {err.strerror or err}") from None
        return StoredDocument(
            key=key,
            sha256=sha256,
            size=size,
            format=fmt,
            headings=headings,
            unreadable_reason=reason,
            created=created,
        )

    def _place(self, temporary: Path, key: str, sha256: str) -> bool:
        """Rename the staged copy to ``key`` unless an intact copy is there already; True when it was placed."""
        final = self.path_of(key)
        if self.sha256_of(key) == sha256:
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temporary, READ_ONLY)
        os.replace(temporary, final)
        _fsync_folder(final.parent)
        return True

    def forget(self, stored: StoredDocument) -> None:
        """Remove a copy this process just created for a registration that was then refused."""
        if stored.created:
            with suppress(FileNotFoundError):
                self.path_of(stored.key).unlink()

    @contextmanager
    def custody(self, source: Path, *, label: str = "FILE", follow_symlinks: bool = True) -> Iterator[StoredDocument]:
        """``put`` the file, and ``forget`` it again if the block raises (the registration was refused)."""
        stored = self.put(source, label=label, follow_symlinks=follow_symlinks)
        try:
            yield stored
        except BaseException:
            self.forget(stored)
            raise


OUTSIDE_ROOTS = "document.outside_roots"


def check_remote_source(source: Path, *, roots: Sequence[Path], barred: Sequence[Path], label: str) -> None:
    """Refuse a file a remote client names on the server's disk unless it lies in ``roots`` (when any are set),
    and always when it lies in one of phasegate's own folders (``barred``: its home with the database and secret
    key, the document store).

    Why: through the API a token holder makes the server read a path of their choosing; the headings it reads
    become evidence anyone can see, and a matching hash confirms a guess. The server's own secrets are never a
    deliverable, and a team can pin registrations to the share its documents live on (PHASEGATE_DOCUMENT_ROOTS).
    """
    where = source.resolve()
    for folder in barred:
        if where.is_relative_to(folder.resolve()):
            raise InputError(
                f"{label}: {str(source)!r} is inside phasegate's own folder {folder}; register the deliverable "
                "from where your documents are kept",
                code=OUTSIDE_ROOTS,
            )
    if roots and not any(where.is_relative_to(root) for root in roots):
        raise InputError(
            f"{label}: {str(source)!r} is outside the folders this server registers documents from "
            f"({', '.join(str(root) for root in roots)}; PHASEGATE_DOCUMENT_ROOTS)",
            code=OUTSIDE_ROOTS,
        )


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable: on POSIX a new directory entry survives a crash only once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
