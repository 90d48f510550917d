"""Naming patterns, sidecars and completeness checks of the agent (no server needed)."""

from __future__ import annotations

import json
import os
import time

from ingest.dock import Completeness, open_for_writing, scan
from ingest.naming import describe, from_name, load_naming


def test_body_camera_and_timestamp_names_to_utc() -> None:
    n = load_naming()
    assert from_name("DSJ001_P12345_20240305143000.mp4", n) == {
        "device_id": "DSJ001",
        "officer_id": "P12345",
        "recorded_at": "2024-03-05T06:30:00Z",
    }
    assert from_name("20240305143000.mp4", n) == {"recorded_at": "2024-03-05T06:30:00Z"}
    assert from_name("NVR-20240305-143000-ch01.dav", n) == {"recorded_at": "2024-03-05T06:30:00Z"}
    assert from_name("holiday.mp4", n) == {}
    assert from_name("DSJ001_P1_20241399999999.mp4", n) == {}  # digits that are not a time
    utc = load_naming(timezone="UTC")
    assert from_name("20240305143000.mp4", utc) == {"recorded_at": "2024-03-05T14:30:00Z"}


def test_sidecar_overrides_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "DSJ001_P12345_20240305143000.mp4"
    clip.write_bytes(b"x")
    (tmp_path / "DSJ001_P12345_20240305143000.json").write_text(
        json.dumps(
            {"officer_id": "P9", "recorded_at": "2024-03-05T14:31:00", "case": "C-1", "junk": "x"}
        )
    )
    d = describe(clip, load_naming())
    assert d == {
        "device_id": "DSJ001",
        "officer_id": "P9",
        "recorded_at": "2024-03-05T06:31:00Z",
        "case": "C-1",
    }


def test_scan_skips_cleared_hidden_sidecars_temp_and_symlinks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("a.mp4", "sub/b.mp4", "cleared/c.mp4", ".hidden.mp4", "a.mp4.json", "d.mp4.part"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    os.symlink("/etc/passwd", tmp_path / "link.mp4")
    assert [p.relative_to(tmp_path).as_posix() for p in scan(tmp_path)] == ["a.mp4", "sub/b.mp4"]


def test_completeness_quiet_period_and_open_handle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    c = Completeness(quiet=5, clock=lambda: now[0])
    old = tmp_path / "old.mp4"
    old.write_bytes(b"x")
    past = time.time() - 60
    os.utime(old, (past, past))
    fresh = tmp_path / "fresh.mp4"
    fresh.write_bytes(b"y")
    done, busy = c.check([old, fresh])
    assert [p for p, _ in done] == [old] and busy == [fresh]
    now[0] += 6
    done, busy = c.check([old, fresh])
    assert {p for p, _ in done} == {old, fresh}
    with open(fresh, "ab") as f:
        assert str(fresh) in open_for_writing()
        done, busy = c.check([fresh])
        assert busy == [fresh]
        f.write(b"more")
