"""The station agent: find complete clips on the docks, upload each over tus while hashing it,
clear it only after the server confirms the same SHA-256, and remember everything in a journal."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.client import (
    AuthFailed,
    CustodianClient,
    NoSpace,
    Refused,
    Rejected,
    ServerDown,
    UploadGone,
)
from ingest.dock import CLEARED_DIR, Completeness, DockWatcher, scan
from ingest.journal import Entry, Journal
from ingest.naming import Naming, load_naming, sidecar_paths
from ingest.safemove import UnsafePath, move_relative, open_under
from ingest.uploads import Uploads, hash_prefix

logger = logging.getLogger(__name__)

CLEAR_MODES = ("move", "delete", "leave")
HEARTBEAT_TIMEOUT = 10.0  # seconds; a heartbeat never holds up uploads or the end of --once

# --once exit codes
EXIT_OK = 0  # every complete file uploaded, confirmed and cleared
EXIT_PROBLEMS = 1  # some file refused, failed, zero-byte, or waiting for space/server
EXIT_FATAL = 2  # bad configuration or credentials refused
EXIT_INCOMPLETE = 3  # all good, but some files were still being written and were left


@dataclass
class AgentConfig:
    """Everything `custodian ingest` is told."""

    server: str
    docks: list[Path]
    username: str
    password: str
    station_id: str
    state_dir: Path
    once: bool = False
    concurrency: int = 2
    quiet_seconds: float = 5.0
    scan_interval: float = 2.0
    clear_mode: str = "move"
    chunk_bytes: int = 32 * 1024 * 1024
    # Upload-Checksum per PATCH: off by default. It costs one more SHA-256 pass over every byte
    # on each side and guards nothing the whole-file SHA-256 does not: the server compares that
    # before it commits and refuses a mismatch, so bytes altered in transit are never stored and
    # the file (never cleared unless confirmed) is simply sent again. With it on, only the
    # altered chunk is resent.
    chunk_checksum: bool = False
    limit_rate: int = 0  # bytes per second, 0 = unlimited
    max_attempts: int = 3  # whole-file refusals before a file needs a person
    backoff_max: float = 60.0
    give_up_after: float = 120.0  # --once: stop retrying an unreachable server after this
    naming: Naming = field(default_factory=load_naming)
    heartbeat_interval: float = 60.0  # seconds between station heartbeats; 0 = none
    progress: bool | None = None  # None: progress bars when stdout is a terminal


@dataclass
class Outcome:
    path: str
    state: str  # cleared, confirmed, refused, failed, empty, waiting
    detail: str = ""
    sha256: str | None = None
    evidence_id: str | None = None


class _Fatal(Exception):
    pass


class Agent(Uploads):
    """Runs until stopped (service) or until what is complete now is done (--once)."""

    def __init__(self, cfg: AgentConfig):
        if cfg.clear_mode not in CLEAR_MODES:
            raise ValueError(f"clear mode must be one of {', '.join(CLEAR_MODES)}")
        if cfg.concurrency < 1 or cfg.chunk_bytes < 1:
            raise ValueError("concurrency and chunk size must be positive")
        self.cfg = cfg
        self.docks = [d.expanduser().absolute() for d in cfg.docks]
        self.journal = Journal(cfg.state_dir / "journal.sqlite")
        self.completeness = Completeness(cfg.quiet_seconds)
        self.outcomes: dict[str, Outcome] = {}
        self._queue: asyncio.Queue[tuple[int, Path]] = asyncio.Queue()
        self._inflight: set[str] = set()
        self._retry_at: dict[int, float] = {}
        self._gave_up: set[int] = set()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._fatal: str | None = None
        self._progress: Any = None
        self._total_task: Any = None
        self.client: CustodianClient | None = None
        # Chunk buffers kept between files (allocating and zeroing 2 x chunk_bytes for every
        # file costs as much as a copy); at most two per concurrent upload.
        self._buffers: list[bytearray] = []

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> int:
        """Service mode: run until stop(). --once: the exit code."""
        self.client = CustodianClient(self.cfg.server, self.cfg.username, self.cfg.password)
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        watcher = DockWatcher(self.docks, wake)
        show = self.cfg.progress
        if show is None:
            import sys

            show = sys.stdout.isatty()
        workers = [
            asyncio.create_task(self._worker(), name=f"upload-{i}")
            for i in range(self.cfg.concurrency)
        ]
        try:
            if show:
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )

                self._progress = Progress(
                    TextColumn("{task.description}", markup=False),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                )
                self._progress.start()
                self._total_task = self._progress.add_task("total", total=0)
            try:
                await self.client.login()
            except AuthFailed as exc:
                self._fatal = str(exc)
                logger.error("%s", exc)
                return EXIT_FATAL
            except ServerDown as exc:
                logger.warning("server not reachable yet (%s); will retry", exc)
            if self.cfg.once:
                code = await self._run_once(watcher)
                await self.heartbeat()
                return code
            watcher.start()
            if self.cfg.heartbeat_interval > 0:
                workers.append(asyncio.create_task(self._heartbeats(), name="heartbeat"))
            await self._run_service(watcher)
            return EXIT_FATAL if self._fatal else EXIT_OK
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            watcher.stop()
            if self._progress is not None:
                self._progress.stop()
            await self.client.close()
            self.journal.close()

    # -- heartbeat ---------------------------------------------------------------------------
    def heartbeat_payload(self) -> dict[str, Any]:
        """What the station reports each minute: backlog, last error, free disk."""
        import shutil

        files, size, error = self.journal.backlog()
        try:
            free: int | None = shutil.disk_usage(self.cfg.state_dir).free
        except OSError:
            free = None
        return {
            "station_id": self.cfg.station_id,
            "files_waiting": files,
            "bytes_waiting": size,
            "last_error": (self._fatal or error)[:2000],
            "disk_free": free,
            "version": _agent_version(),
        }

    async def heartbeat(self) -> bool:
        """Send one heartbeat; a failure is logged, never fatal (uploads matter more)."""
        if self.client is None:
            return False
        try:
            payload = await asyncio.to_thread(self.heartbeat_payload)
            status, _h, body = await asyncio.wait_for(
                self.client.request(
                    "POST",
                    self.client.url("/api/v1/stations/heartbeat"),
                    headers={"Content-Type": "application/json"},
                    data=json.dumps(payload),
                ),
                HEARTBEAT_TIMEOUT,
            )
        except TimeoutError:
            logger.info("heartbeat not sent: no answer in %ss", HEARTBEAT_TIMEOUT)
            return False
        except (ServerDown, AuthFailed) as exc:
            logger.info("heartbeat not sent: %s", exc)
            return False
        if status != 200:
            logger.warning(
                "heartbeat refused (%s): %s",
                status,
                body.get("error") if isinstance(body, dict) else body,
            )
            return False
        return True

    async def _heartbeats(self) -> None:
        while not self._stop.is_set():
            await self.heartbeat()
            try:
                await asyncio.wait_for(self._stop.wait(), self.cfg.heartbeat_interval)
            except TimeoutError:
                pass

    async def _complete_files(self, watcher: DockWatcher) -> tuple[list[Any], list[Path]]:
        present = watcher.refresh()
        paths: list[Path] = []
        for dock in present:
            try:
                paths += await asyncio.to_thread(scan, dock)
            except OSError as exc:  # unplugged while scanning
                logger.warning("dock %s: %s", dock, exc)
        return await asyncio.to_thread(self.completeness.check, paths)

    async def _run_service(self, watcher: DockWatcher) -> None:
        while not self._stop.is_set() and not self._fatal:
            complete, _busy = await self._complete_files(watcher)
            for path, st in complete:
                self._consider(path, st)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.cfg.scan_interval)
                await asyncio.sleep(0.1)  # let a burst of events settle
            except TimeoutError:
                pass

    async def _run_once(self, watcher: DockWatcher) -> int:
        complete, busy = await self._complete_files(watcher)
        if busy:
            # Files seen changing get one quiet period to settle.
            await asyncio.sleep(self.cfg.quiet_seconds + 0.2)
            more, busy = await asyncio.to_thread(self.completeness.check, busy)
            complete += more
        for path, st in complete:
            self._consider(path, st)
        await self._queue.join()
        for p in busy:
            logger.warning("%s is still being written; left for the next run", p)
        self._summary(busy)
        if self._fatal:
            return EXIT_FATAL
        if any(o.state not in ("cleared", "confirmed") for o in self.outcomes.values()):
            return EXIT_PROBLEMS
        return EXIT_INCOMPLETE if busy else EXIT_OK

    def _summary(self, busy: list[Path]) -> None:
        counts: dict[str, int] = {}
        for o in self.outcomes.values():
            counts[o.state] = counts.get(o.state, 0) + 1
        parts = [f"{n} {state}" for state, n in sorted(counts.items())]
        if busy:
            parts.append(f"{len(busy)} still being written")
        logger.info("ingest run done: %s", ", ".join(parts) or "nothing to do")
        for o in self.outcomes.values():
            if o.state not in ("cleared", "confirmed"):
                logger.warning("%s: %s %s", o.path, o.state, o.detail)

    # -- deciding what to do with a file -------------------------------------------------
    def _consider(self, path: Path, st: os.stat_result) -> None:
        key = str(path)
        if key in self._inflight:
            return
        e = self.journal.ensure(key, st.st_size, st.st_mtime_ns)
        if st.st_size == 0:
            if e.state != "empty":
                self.journal.update(e.id, state="empty", error="zero-byte file: not uploaded")
                logger.warning(
                    "%s is empty (0 bytes): reported, not uploaded; check the camera", path
                )
            self.outcomes[key] = Outcome(key, "empty", "zero-byte file: not uploaded")
            return
        if e.state == "cleared":
            return
        if (
            e.state == "confirmed"
            and self.cfg.clear_mode == "leave"
            and e.ctime_ns == st.st_ctime_ns
        ):
            return  # delivered before and left in place on purpose; untouched since
        if e.state == "failed" and e.id in self._gave_up:
            return  # each run of the agent gives a failed file one more chance, not more
        if time.monotonic() < self._retry_at.get(e.id, 0):
            return
        self._inflight.add(key)
        self._queue.put_nowait((e.id, path))

    async def _worker(self) -> None:
        while True:
            entry_id, path = await self._queue.get()
            try:
                if not self._fatal:
                    await self._process(entry_id, path)
            except _Fatal:
                self.stop()
            except Exception:  # one bad file must not stop the station
                logger.exception("unexpected error with %s", path)
                self.outcomes[str(path)] = Outcome(str(path), "failed", "unexpected error; see log")
            finally:
                self._inflight.discard(str(path))
                self._queue.task_done()

    async def _process(self, entry_id: int, path: Path) -> None:
        e = self.journal.by_id(entry_id)
        key = str(path)
        if e.state == "confirmed" and self.cfg.clear_mode == "leave":
            # Touched since it was delivered (same name, size and mtime): the content decides.
            e = await self._recheck(e, path)
            if e.state == "confirmed":
                return
        while e.state != "confirmed":
            try:
                sha, evidence_id = await self._upload(e, path)
            except Refused as exc:
                attempts = e.attempts + 1
                state = "failed" if attempts >= self.cfg.max_attempts else "refused"
                self.journal.update(
                    e.id, state=state, attempts=attempts, error=str(exc), upload_url=None
                )
                logger.warning(
                    "%s refused by the server (attempt %d of %d): %s; the file stays on the dock",
                    path,
                    attempts,
                    self.cfg.max_attempts,
                    exc,
                )
                e = self.journal.by_id(e.id)
                if state == "failed" or e.id in self._gave_up:
                    self._gave_up.add(e.id)
                    self.outcomes[key] = Outcome(key, "failed", str(exc))
                    return
                continue  # upload again: the bytes on the dock are read afresh
            except NoSpace as exc:
                self._wait(e, key, f"server has no room: {exc}")
                return
            except ServerDown as exc:
                self._wait(e, key, f"server unreachable: {exc}")
                return
            except (Rejected, UploadGone) as exc:
                self._gave_up.add(e.id)
                self.journal.update(e.id, state="failed", error=str(exc), upload_url=None)
                logger.error("%s not accepted: %s", path, exc)
                self.outcomes[key] = Outcome(key, "failed", str(exc))
                return
            except AuthFailed as exc:
                self._fatal = str(exc)
                logger.error("credentials refused: %s", exc)
                raise _Fatal() from exc
            except OSError as exc:  # the dock went away or the file is unreadable
                self._wait(e, key, f"cannot read the file: {exc}")
                return
            self.journal.update(
                e.id,
                state="confirmed",
                sha256=sha,
                server_sha256=sha,
                evidence_id=evidence_id,
                error="",
                ctime_ns=_ctime_ns(path),
            )
            logger.info("confirmed %s sha256=%s evidence=%s", path, sha, evidence_id)
            e = self.journal.by_id(e.id)
        self._clear(e, path)

    async def _recheck(self, e: Entry, path: Path) -> Entry:
        """A delivered file left on the dock was written to since: hash it. The same bytes stay
        delivered; other bytes under the same name, size and mtime are delivered again."""

        def digest() -> tuple[str, int]:
            with open(path, "rb", buffering=0) as f:
                before = os.fstat(f.fileno()).st_ctime_ns
                return hash_prefix(f, e.size).hexdigest(), before

        try:
            local, ctime = await asyncio.to_thread(digest)
        except OSError as exc:
            logger.warning(
                "%s: cannot re-read it to compare with what was delivered: %s", path, exc
            )
            return e
        if local == e.sha256:
            self.journal.update(e.id, ctime_ns=ctime)
        else:
            logger.warning(
                "%s changed after delivery (same name, size and time; sha256 %s, delivered %s): "
                "delivering the new content as well",
                path,
                local,
                e.sha256,
            )
            self.journal.update(
                e.id,
                state="queued",
                sha256=None,
                server_sha256=None,
                evidence_id=None,
                upload_url=None,
                attempts=0,
                error="",
                ctime_ns=None,
            )
        return self.journal.by_id(e.id)

    def _wait(self, e: Entry, key: str, why: str) -> None:
        self.journal.update(e.id, state="waiting", error=why)
        self._retry_at[e.id] = time.monotonic() + min(self.cfg.backoff_max, 30.0)
        logger.warning("%s waits: %s; it stays on the dock", key, why)
        self.outcomes[key] = Outcome(key, "waiting", why)

    def _dock_of(self, path: Path) -> Path | None:
        for d in self.docks:
            if path.is_relative_to(d):
                return d
        return None

    def _clear(self, e: Entry, path: Path) -> None:
        key = str(path)
        out = Outcome(key, "confirmed", sha256=e.server_sha256, evidence_id=e.evidence_id)
        self.outcomes[key] = out
        if self.cfg.clear_mode == "leave":
            return
        try:
            st = path.stat()
        except FileNotFoundError:
            self.journal.update(e.id, state="cleared", cleared_to="(gone)")
            out.state = "cleared"
            return
        if st.st_size != e.size or st.st_mtime_ns != e.mtime_ns:
            logger.error(
                "%s changed after it was uploaded; not cleared (it will be uploaded as a new file)",
                path,
            )
            return
        dock = self._dock_of(path)
        moved = [path] + [s for s in sidecar_paths(path) if s != path and s.is_file()]
        if self.cfg.clear_mode == "delete" or dock is None:
            for p in moved:
                p.unlink(missing_ok=True)
            dest = "(deleted)"
        else:
            rel = path.parent.relative_to(dock).parts
            try:
                dest = _move_cleared(dock, rel, path, moved)
            except UnsafePath as exc:
                logger.error("%s not cleared: %s", path, exc)
                return
        self.journal.update(e.id, state="cleared", cleared_to=dest)
        out.state = "cleared"
        logger.info("cleared %s -> %s", path, dest)


def _move_cleared(dock: Path, rel: tuple[str, ...], path: Path, moved: list[Path]) -> str:
    """Move a confirmed clip (and its sidecars) into dock/cleared/<rel>, never through a
    symlink: folders are opened with O_NOFOLLOW and files renamed relative to them."""
    src_fd = open_under(dock, rel, create=False)
    try:
        dst_fd = open_under(dock, (CLEARED_DIR, *rel), create=True)
        try:
            final = move_relative(src_fd, path.name, dst_fd, path.name)
            for side in moved[1:]:  # the sidecar keeps following its clip's (new) name
                if side.name.startswith(path.name):
                    name = final + side.name[len(path.name) :]
                else:
                    name = Path(final).stem + side.name[len(path.stem) :]
                move_relative(src_fd, side.name, dst_fd, name)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
    return str(dock.joinpath(CLEARED_DIR, *rel, final))


def _agent_version() -> str:
    """custodian-ingest/<package version>, as the station list shows it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"custodian-ingest/{version('custodian')}"
    except PackageNotFoundError:
        return "custodian-ingest"


def _free_name(p: Path) -> Path:
    """p, or p with a counter when something of that name is already there."""
    if not p.exists():
        return p
    for i in range(1, 10_000):
        q = p.with_name(f"{p.stem}.{i}{p.suffix}")
        if not q.exists():
            return q
    raise OSError(f"no free name for {p}")


def _ctime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_ctime_ns
    except OSError:
        return None


def run_agent(cfg: AgentConfig, on_ready: Callable[[Agent], None] | None = None) -> int:
    """Run the agent in its own event loop until done (--once) or interrupted."""

    async def main() -> int:
        agent = Agent(cfg)
        if on_ready:
            on_ready(agent)
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, agent.stop)
            except (NotImplementedError, RuntimeError):
                pass
        return await agent.run()

    return asyncio.run(main())
