"""What the benchmarks share about processes: a free loopback port and CPU seconds from /proc."""

from __future__ import annotations

import os
import socket
from pathlib import Path

USER_SYS = (11, 12)  # utime, stime (fields 14 and 15 of /proc/PID/stat)
WITH_CHILDREN = (11, 12, 13, 14)  # and the waited-for children's cutime, cstime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pids: list[int], which: tuple[int, ...] = USER_SYS) -> float:
    """CPU seconds these processes used so far: user + system (or `which` of /proc's fields);
    a process that has gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(fields[i]) for i in which)
    return total / os.sysconf("SC_CLK_TCK")
