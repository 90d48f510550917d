"""Run the ffmpeg binary with a time limit, feeding ``-progress pipe:1`` into a callback."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence

from .limits import TranscodeError, TranscodeTimeout

logger = logging.getLogger(__name__)

Progress = Callable[[float], None]
STDERR_TAIL_CHARS = 2000


def _pump_progress(
    stream: Iterable[bytes],
    duration_s: float | None,
    progress: Progress | None,
    failures: list[BaseException],
) -> None:
    last = -1.0
    for raw in stream:
        line = raw.decode("ascii", "replace").strip()
        key, _, value = line.partition("=")
        if progress is None:
            continue
        fraction: float | None = None
        if key == "out_time_us" and duration_s and value.lstrip("-").isdigit():
            fraction = min(1.0, max(0.0, int(value) / 1e6 / duration_s))
        elif key == "progress" and value == "end":
            fraction = 1.0
        if fraction is not None and fraction > last:
            last = fraction
            try:
                progress(fraction)
            except BaseException as exc:  # a broken callback must not hang the pipe
                failures.append(exc)
                progress = None


def run_ffmpeg(
    argv: Sequence[str],
    *,
    duration_s: float | None = None,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> None:
    """Run argv; raise TranscodeTimeout past ``timeout`` s or TranscodeError on failure."""
    failures: list[BaseException] = []
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
        )
        pump = threading.Thread(
            target=_pump_progress,
            args=(proc.stdout, duration_s, progress, failures),
            daemon=True,
        )
        pump.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise TranscodeTimeout(f"ffmpeg did not finish within {timeout:g} s") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            pump.join(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-STDERR_TAIL_CHARS:]
    if failures:
        raise failures[0]
    if rc != 0:
        last = tail.strip().splitlines()[-1] if tail.strip() else f"exit code {rc}"
        raise TranscodeError(f"ffmpeg failed: {last}", tail)
    if tail.strip():
        logger.debug("ffmpeg stderr: %s", tail.strip())
