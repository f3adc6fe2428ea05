"""Opening a file someone names (``doc add FILE``, an import, a path posted to the API): regular files only.

Why not ``Path.open``: opening a FIFO for reading blocks until a writer appears, and reading ``/dev/zero`` never
ends (it hung a server thread forever). Here the file is opened non-blocking, then classified with ``fstat`` on
the descriptor that will be read, so the file checked is the file read even if the path is swapped in
between. Directories, FIFOs, devices and sockets are refused with the path and what it is; so is a file over
its size cap, before any byte is read, and a file that grows past the cap while it is read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.limits import megabytes, raise_hint

CHUNK = 1024 * 1024
"""Files are read in 1 MiB chunks so a large plan or spreadsheet never sits in memory just to be hashed."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileTooLargeError(InputError):
    """A file over its size cap; the message names the file, the cap and the setting that raises it."""

    code = "input.too_large"


def not_regular(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def _prefix(label: str) -> str:
    """``label`` names where the path came from (``FILE``, ``body.path``); empty when the path says enough."""
    return f"{label}: " if label else ""


def _refuse_kind(label: str, path: Path, kind: str) -> InputError:
    return InputError(
        f"{_prefix(label)}{str(path)!r} is {kind}, not a regular file; name the document or spreadsheet file itself",
        code="input.not_regular_file",
    )


def too_large(label: str, path: Path, size: int, cap: int, what: str, setting: str) -> FileTooLargeError:
    return FileTooLargeError(
        f"{_prefix(label)}{str(path)!r} is {megabytes(size)}; {what} may be at most {megabytes(cap)} "
        f"({raise_hint(setting)}); nothing was written"
    )


def open_regular(
    path: Path, *, label: str, max_bytes: int, what: str, setting: str, follow_symlinks: bool = True
) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file within ``max_bytes``; else ``InputError``.

    ``follow_symlinks=False`` refuses a symbolic link as the last component (``O_NOFOLLOW``): for paths a
    remote client names, where a link swapped in could point anywhere the server can read.
    """
    try:
        mode = os.stat(path, follow_symlinks=follow_symlinks).st_mode
    except OSError as err:
        raise InputError(f"{_prefix(label)}cannot read {str(path)!r}: {err.strerror or err}") from None
    kind = not_regular(mode)
    if kind is not None and not stat.S_ISLNK(mode):
        raise _refuse_kind(label, path, kind)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_symlinks:
            raise InputError(
                f"{_prefix(label)}{str(path)!r} is a symbolic link; name the file it points to",
                code="input.not_regular_file",
            ) from None
        raise InputError(f"{_prefix(label)}cannot read {str(path)!r}: {err.strerror or err}") from None
    try:
        opened = os.fstat(fd)
        kind = not_regular(opened.st_mode)
        if kind is not None:
            raise _refuse_kind(label, path, kind)
        if opened.st_size > max_bytes:
            raise too_large(label, path, opened.st_size, max_bytes, what, setting)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_chunks(
    handle: BinaryIO, *, label: str, path: Path, max_bytes: int, what: str, setting: str
) -> Iterator[bytes]:
    """The file's bytes in chunks, refusing it when it grows past ``max_bytes`` while being read."""
    total = 0
    while chunk := handle.read(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise too_large(label, path, total, max_bytes, what, setting)
        yield chunk
