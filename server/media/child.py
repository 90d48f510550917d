"""Runs transcode.pipeline.process in a child process: a crash, a hang or a kill of the media
code never takes the worker down, and the time limit is enforced by killing the child.

Child protocol on stdout: lines `P <fraction>` for progress, one final `R <json>` with the
MediaOutcome (its derived files as the manifest's DerivedFile dicts, checked on the way in).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integrity.manifest import DerivedFile
from server.http.errors import CustodianError

if TYPE_CHECKING:
    from transcode.pipeline import MediaResult


class MediaJobFailed(CustodianError):
    code = "media_job_failed"


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


@dataclass(frozen=True)
class MediaOutcome:
    """What one media run made and learned, as the media job records it."""

    status: str  # ready, damaged, unplayable, stored
    kind: str  # the catalogue's kind (transcode.kinds)
    reason: str
    reason_zh: str
    outputs: tuple[DerivedFile, ...]
    probe: dict[str, Any] | None = None
    problems: tuple[str, ...] = ()
    attempts: tuple[dict[str, Any], ...] = ()  # the fallback chain, each with its verdict
    photo: dict[str, Any] | None = None
    text_track: dict[str, Any] | None = None

    @classmethod
    def of(cls, result: MediaResult) -> MediaOutcome:
        """The outcome of a pipeline result."""
        return cls(
            status=result.status,
            kind=result.kind,
            reason=result.reason,
            reason_zh=result.reason_zh,
            outputs=result.outputs,
            probe=_jsonable(result.assessment.probe),
            problems=tuple(result.problems),
            attempts=tuple(_jsonable(a) for a in result.attempts),
            photo=_jsonable(result.photo),
            text_track=_jsonable(result.text_track),
        )

    def to_json(self) -> str:
        data = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data["outputs"] = [d.to_dict() for d in self.outputs]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> MediaOutcome:
        data = json.loads(text)
        return cls(
            status=data["status"],
            kind=data["kind"],
            reason=data["reason"],
            reason_zh=data["reason_zh"],
            outputs=tuple(DerivedFile.from_dict(d) for d in data["outputs"]),
            probe=data["probe"],
            problems=tuple(data["problems"]),
            attempts=tuple(data["attempts"]),
            photo=data["photo"],
            text_track=data["text_track"],
        )


def child_main(argv: list[str]) -> int:
    """Entry point of the child process."""
    from transcode.limits import MediaLimits
    from transcode.pipeline import process

    src, outdir, limits_json, timeout = argv[0], argv[1], argv[2], float(argv[3])
    source_sha256 = argv[4] if len(argv) > 4 else None
    limits = MediaLimits(**json.loads(limits_json))
    last = [0.0]

    def progress(f: float) -> None:
        now = time.monotonic()
        if now - last[0] > 0.5 or f >= 1.0:
            last[0] = now
            print(f"P {f:.4f}", flush=True)

    result = process(src, outdir, limits, progress, timeout=timeout, source_sha256=source_sha256)
    print("R " + MediaOutcome.of(result).to_json(), flush=True)
    return 0


def run_media(
    src: str,
    outdir: str,
    limits: dict[str, Any],
    timeout: float,
    progress: Callable[[float], None] | None = None,
    *,
    source_sha256: str,
) -> MediaOutcome:
    """Process one file in a child process; raise MediaJobFailed on crash or time limit."""
    argv = [
        sys.executable,
        "-m",
        "server.media.child",
        src,
        outdir,
        json.dumps(limits),
        str(timeout),
        source_sha256,
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )  # its own group, so ffmpeg dies with it
    deadline = time.monotonic() + timeout
    result: MediaOutcome | None = None
    assert proc.stdout is not None
    try:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MediaJobFailed(
                    f"media processing of {os.path.basename(src)} exceeded its "
                    f"time limit of {timeout:.0f} s"
                )
            if not sel.select(timeout=min(remaining, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("P ") and progress:
                progress(float(line[2:]))
            elif line.startswith("R "):
                result = MediaOutcome.from_json(line[2:])
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    if proc.returncode != 0 or result is None:
        err = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
        tail = err[-1] if err else f"exit code {proc.returncode}"
        raise MediaJobFailed(f"media processing of {os.path.basename(src)} failed: {tail}")
    return result


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
