"""Dock folders: finding clips, telling when one is complete, and watching for new ones."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver, ObservedWatch

logger = logging.getLogger(__name__)

CLEARED_DIR = "cleared"
# Names cameras and copy tools use while a file is still being written.
TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".download", "~")


@dataclass(frozen=True)
class Seen:
    """A file as last observed: what it looked like and since when it has looked like that."""

    size: int
    mtime_ns: int
    since: float


def is_candidate(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.lower().endswith(".json"):
        return False  # hidden files and sidecars
    return not name.lower().endswith(TEMP_SUFFIXES)


def scan(dock: Path) -> list[Path]:
    """Every candidate regular file under a dock, skipping the cleared folder and symlinks."""
    found: list[Path] = []
    for root, dirs, files in os.walk(dock, followlinks=False):
        rootp = Path(root)
        if rootp == dock:
            dirs[:] = [d for d in dirs if d != CLEARED_DIR and not d.startswith(".")]
        else:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            p = rootp / name
            if is_candidate(p) and not p.is_symlink():
                found.append(p)
    return sorted(found)


def open_for_writing() -> set[str]:
    """Paths some process holds open for writing (Linux /proc; empty where not available)."""
    out: set[str] = set()
    proc = Path("/proc")
    if not (proc / "self" / "fdinfo").exists():
        return out
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd_dir / fd)
                if not target.startswith("/"):
                    continue
                with open(proc / pid / "fdinfo" / fd) as f:
                    flags = next(
                        (int(line.split()[1], 8) for line in f if line.startswith("flags:")), 0
                    )
            except (OSError, ValueError, StopIteration):
                continue
            if flags & (os.O_WRONLY | os.O_RDWR):
                out.add(target)
    return out


class Completeness:
    """A file is complete when it has not changed for `quiet` seconds and no process has it
    open for writing."""

    def __init__(self, quiet: float, clock: Callable[[], float] = time.monotonic):
        self.quiet = quiet
        self.clock = clock
        self._seen: dict[str, Seen] = {}

    def check(self, paths: Iterable[Path]) -> tuple[list[tuple[Path, os.stat_result]], list[Path]]:
        """(complete files with their stat, files still being written)."""
        now = self.clock()
        wall = time.time()
        stats: list[tuple[Path, os.stat_result]] = []
        for p in paths:
            try:
                stats.append((p, p.stat()))
            except OSError:
                self._seen.pop(str(p), None)
        writing = open_for_writing() if stats else set()
        complete, busy = [], []
        for p, st in stats:
            key = str(p)
            prev = self._seen.get(key)
            if prev is None or prev.size != st.st_size or prev.mtime_ns != st.st_mtime_ns:
                # A file last modified long ago counts as quiet since then (an initial scan
                # of a camera docked hours ago need not wait).
                age = max(0.0, wall - st.st_mtime_ns / 1e9)
                prev = self._seen[key] = Seen(st.st_size, st.st_mtime_ns, now - age)
            quiet_for = now - prev.since
            if quiet_for >= self.quiet and str(p.resolve()) not in writing and key not in writing:
                complete.append((p, st))
            else:
                busy.append(p)
        return complete, busy

    def forget(self, path: Path) -> None:
        self._seen.pop(str(path), None)


class DockWatcher:
    """watchdog observers on the dock folders; a dock that disappears (USB unplugged) is
    re-watched when it comes back. `wake` is called from watchdog's thread on any event."""

    def __init__(self, docks: list[Path], wake: Callable[[], None]):
        self.docks = docks
        self.wake = wake
        self._observer: BaseObserver | None = None
        self._watches: dict[Path, ObservedWatch] = {}
        self._present: dict[Path, bool] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        from watchdog.observers import Observer

        self._observer = Observer()
        self._observer.start()
        self.refresh()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def refresh(self) -> list[Path]:
        """(Re)watch docks that exist, unwatch ones that vanished; returns docks present."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        wake = self.wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake()

        present = []
        with self._lock:
            for dock in self.docks:
                exists = dock.is_dir()
                was = self._present.get(dock)
                if exists and was is False:
                    logger.info("dock %s is back", dock)
                elif not exists and was is not False:
                    logger.warning(
                        "dock %s is not available (unplugged or not mounted); waiting for it", dock
                    )
                self._present[dock] = exists
                watch = self._watches.get(dock)
                if not exists and watch is not None:
                    if self._observer is not None:
                        try:
                            self._observer.unschedule(watch)
                        except Exception:  # the emitter may already be gone with the folder
                            pass
                    del self._watches[dock]
                if exists:
                    present.append(dock)
                    if watch is None and self._observer is not None:
                        try:
                            self._watches[dock] = self._observer.schedule(
                                Handler(), str(dock), recursive=True
                            )
                        except OSError as exc:
                            logger.warning("cannot watch %s (%s); polling it", dock, exc)
        return present
