"""Runs transcode.pipeline.process in a child process: a crash, a hang or a kill of the media
code never takes the worker down, and the time limit is enforced by killing the child.

Child protocol on stdout: lines `P <fraction>` for progress, one final `R <json>` with the result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from server.errors import CustodianError

# What the catalogue calls each transcode kind.
KIND_MAP = {"video": "video", "audio": "audio", "photo": "photo", "document/other": "document"}


class MediaJobFailed(CustodianError):
    code = "media_job_failed"


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def child_main(argv: list[str]) -> int:
    """Entry point of the child process."""
    from transcode.limits import MediaLimits
    from transcode.pipeline import process

    src, outdir, limits_json, timeout = argv[0], argv[1], argv[2], float(argv[3])
    limits = MediaLimits(**json.loads(limits_json))
    last = [0.0]

    def progress(f: float) -> None:
        now = time.monotonic()
        if now - last[0] > 0.5 or f >= 1.0:
            last[0] = now
            print(f"P {f:.4f}", flush=True)

    result = process(src, outdir, limits, progress, timeout=timeout)
    print("R " + json.dumps(_jsonable(result), ensure_ascii=False), flush=True)
    return 0


def run_media(src: str, outdir: str, limits: dict[str, Any], timeout: float,
              progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Process one file in a child process; raise MediaJobFailed on crash or time limit."""
    argv = [sys.executable, "-m", "server.media.child", src, outdir, json.dumps(limits), str(timeout)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group, so ffmpeg dies with it
    deadline = time.monotonic() + timeout
    result: dict[str, Any] | None = None
    assert proc.stdout is not None
    try:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MediaJobFailed(f"media processing of {os.path.basename(src)} exceeded its "
                                     f"time limit of {timeout:.0f} s")
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
                result = json.loads(line[2:])
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
