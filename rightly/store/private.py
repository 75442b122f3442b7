"""Files that hold personal data are created readable by their owner only.

Rightly's home holds the SQLite database (subjects' emails and identities, what vendors answered)
and the key that decrypts the vendor passcodes, so it is created 0700 and the database 0600.
SQLite gives the database's ``-wal`` and ``-shm`` files the database file's own mode. Modes are
set only on what Rightly creates: a directory or file that already exists is left as its owner
made it.
"""

from __future__ import annotations

import os
from pathlib import Path


def make_private_dir(path: Path) -> None:
    """Create ``path`` (0700) if it does not exist; missing parents get the usual mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    path.chmod(0o700)  # mkdir's mode passes through the umask; this does not


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist (an empty file is a valid, empty SQLite
    database, so SQLite opens it rather than creating the file with the umask's mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
