"""Player benchmark in real Chromium on a 1-hour item: click -> first frame, seek -> `seeked`.

    .venv/bin/python bench/player.py [--runs 10] [--cache var/bench]

Goals (issue 7, loopback): first frame < 500 ms, seek < 300 ms; medians of --runs.
The 1-hour clip (320x180, 25 fps, H.264 ultrafast, keyframe every 2 s, AAC sine) is generated
once with ffmpeg and cached; the server, its catalogue and renditions are made fresh each run.
Every first-frame run uses a new browser context (empty HTTP cache), as a reviewer opening an
item for the first time would; seeks go to random unbuffered points across the hour.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "player"), str(ROOT / "tests"), str(ROOT)]

from livesite import BROWSER_ARGS, CHROMIUM, LiveServer, live_settings  # noqa: E402

from helpers import PASSWORD  # noqa: E402

HOUR_S = 3600


def hour_clip(cache: Path) -> Path:
    """The cached 1-hour test clip (made with ffmpeg the first time)."""
    import imageio_ffmpeg

    path = cache / "hour-320x180-25fps-gop2s.mp4"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={HOUR_S}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={HOUR_S}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
            "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "48k",
            "-movflags", "+faststart", "-shortest", str(tmp)]  # fmt: skip
    print(f"generating {path} (once) ...", flush=True)
    t = time.monotonic()
    subprocess.run(argv, check=True)
    tmp.rename(path)
    print(f"  {time.monotonic() - t:.0f} s, {path.stat().st_size / 1e6:.0f} MB", flush=True)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cache", default=str(ROOT / "var" / "bench"))
    args = ap.parse_args()
    clip = hour_clip(Path(args.cache))

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-player-") as tmp:
        server = LiveServer(live_settings(Path(tmp) / "data")).start()
        try:
            server.add_users()
            token = server.login("reviewer")
            item = server.add_item(clip, datetime(2026, 3, 1, 9, 0, tzinfo=UTC), device_id="DSJ001")
            t = time.monotonic()
            detail = server.process(token, item, timeout=1800)[item]
            print(
                f"processed in {time.monotonic() - t:.0f} s: status {detail['status']}, "
                f"{sum(1 for r in detail['renditions'] if r['role'] == 'hls-segment')} segments"
            )
            assert detail["status"] == "ready", detail
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                first, seeks = [], []
                for _ in range(args.runs):
                    ctx = browser.new_context(
                        viewport={"width": 1366, "height": 768}, bypass_csp=True
                    )
                    page = ctx.new_page()
                    page.goto(server.url + "/")
                    page.fill("#login-username", "reviewer")
                    page.fill("#login-password", PASSWORD)
                    page.click("#login-submit")
                    page.wait_for_selector("#whoami")
                    page.goto(f"{server.url}/#/evidence")
                    page.wait_for_selector(f"a.item-link[data-id='{item}']")
                    page.evaluate(
                        "id => { window.__firstFrameAt = 0; window.__t0 = performance.now();"
                        " document.querySelector(`a.item-link[data-id='${id}']`).click(); }",
                        item,
                    )
                    page.wait_for_function("() => window.__firstFrameAt > 0", timeout=30_000)
                    first.append(page.evaluate("() => window.__firstFrameAt - window.__t0"))
                    ctx.close()
                # Seeks: one open player, random points across the hour (never buffered yet).
                ctx = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
                page = ctx.new_page()
                page.goto(server.url + "/")
                page.fill("#login-username", "reviewer")
                page.fill("#login-password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("#whoami")
                page.goto(f"{server.url}/#/evidence/{item}")
                page.wait_for_function("() => window.__firstFrameAt > 0", timeout=30_000)
                rng = random.Random(7)
                for _ in range(args.runs):
                    target = rng.uniform(60, HOUR_S - 60)
                    seeks.append(
                        page.evaluate(
                            """t => new Promise(resolve => {
                             const v = document.querySelector('#video');
                             const t0 = performance.now();
                             v.addEventListener('seeked', () => resolve(performance.now() - t0), {once: true});
                             v.currentTime = t;
                           })""",
                            target,
                        )
                    )
                    page.wait_for_timeout(200)
                ctx.close()
                browser.close()
        finally:
            server.stop()

    def line(name: str, values: list[float], goal: float) -> str:
        med = statistics.median(values)
        return (
            f"{name:<22} median {med:6.0f} ms  (min {min(values):.0f}, max {max(values):.0f}; "
            f"goal < {goal:.0f} ms: {'met' if med < goal else 'NOT met'})"
        )

    print(line("click -> first frame", first, 500))
    print(line("seek -> seeked", seeks, 300))
    print("first frame runs (ms):", " ".join(f"{v:.0f}" for v in first))
    print("seek runs (ms):       ", " ".join(f"{v:.0f}" for v in seeks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
