"""Moving cleared files without following symlinks: every folder below the dock is opened
one component at a time with O_NOFOLLOW, and files move by rename relative to directory
descriptors, so a dock writer who plants a symlink named `cleared` (or one deeper down)
cannot make the agent move files into another folder."""

from __future__ import annotations

import errno
import os
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(OSError):
    """A folder on the way is a symlink (or not a folder)."""


def open_under(base: Path, parts: tuple[str, ...], *, create: bool, mode: int = 0o750) -> int:
    """A descriptor of base/parts[0]/parts[1]/..., refusing any component that is a symlink;
    missing folders are created when `create`. The caller closes it."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts:
            if part in ("", ".", "..") or "/" in part:
                raise UnsafePath(errno.EINVAL, f"unsafe folder name {part!r} under {base}")
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise UnsafePath(
                        exc.errno,
                        f"{part!r} under {base} is a symlink or not a "
                        "folder; refusing to move files through it",
                    ) from None
                raise
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def free_name(name: str, dir_fd: int) -> str:
    """name, or name with a counter when something of that name is already in the folder."""
    if not _exists(name, dir_fd):
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, f".{suffix}") if dot and stem else (name, "")
    for i in range(1, 10_000):
        candidate = f"{stem}.{i}{suffix}"
        if not _exists(candidate, dir_fd):
            return candidate
    raise OSError(f"no free name for {name}")


def move_relative(src_fd: int, src_name: str, dst_fd: int, dst_name: str) -> str:
    """Rename src_name (in src_fd) to a free name like dst_name (in dst_fd); returns it."""
    final = free_name(dst_name, dst_fd)
    os.rename(src_name, final, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    return final
