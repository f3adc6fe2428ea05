"""Local state only its owner may read: PHASEGATE_HOME (0700), the SQLite database and its side files (0600).

Why: the home holds the database (votes, people, notification targets with their passwords) and the key
file; on a shared machine the default umask would leave all of it readable by every local user.
Directories and files that already exist keep the mode their owner gave them; only what phasegate creates
is made private.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700 (existing ones are left alone)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask; 0700 must hold whatever it is
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is a valid empty SQLite database).

    SQLite creates the ``-wal`` and ``-shm`` files with the mode of the database file, so they follow.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path
