"""File modes of what the server keeps: the data folder 0700, the catalogue and packages 0600.
Standard library only, so every `custodian` command can apply them without the HTTP stack."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger("server.intake.hygiene")


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_uid == os.getuid():
            os.chmod(path, 0o700)
    except OSError as exc:  # a folder we do not own: warn, do not fail
        logger.warning("cannot make %s private: %s", path, exc)


def _private_file(path: Path) -> None:
    """Create empty with mode 0600 if missing (SQLite accepts an empty file as a new
    catalogue, and gives its -wal and -shm files the same mode), else chmod 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        if path.stat().st_uid == os.getuid():
            os.chmod(path, 0o600)
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if side.exists() and side.stat().st_uid == os.getuid():
            os.chmod(side, 0o600)


def secure_data_dir(settings: Any) -> None:
    """The data folder 0700; the SQLite catalogue 0600; the export folder 0700 with its
    packages 0600; the JWT secret and signing key are written 0600 where they are made."""
    _private_dir(settings.data_path)
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        _private_file(db)
    exports = settings.resolved_export_path
    if exports.exists():
        _private_dir(exports)
        for f in exports.iterdir():
            if f.is_file() and f.stat().st_uid == os.getuid():
                os.chmod(f, 0o600)


def private_export(path: Path) -> None:
    """A finished package is readable by the server's user only."""
    os.chmod(path, 0o600)
    _private_dir(path.parent)
