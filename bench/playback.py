"""Playback under load: N simulated reviewers fetching an item's HLS playlist and segments,
through Custodian and through nginx serving the same segment files from disk, side by side.

    .venv/bin/python bench/playback.py [--viewers 10,50,200] [--seconds 60] [--runs 3]
        [--sides nginx,custodian,proxied] [--pg] [--tmp /tmp]

Each run: a fresh `custodian serve` (SQLite, or a fresh PostgreSQL database with --pg; local
store), the cached clips docked by the real agent (`custodian ingest --once`) and processed into
HLS by the server's own worker; then for each N, each side in turn for --seconds:

- `nginx`: nginx (its own master process, loopback port) serving the very same rendition files
  (hard links to the store's objects) as static files: the baseline;
- `custodian`: Custodian directly (every fetch authorised, playback ledgered, bytes sent);
- `proxied`: Custodian behind nginx with `accel_redirect_location` on (deploy/nginx/accel.conf):
  Custodian authorises and ledgers, nginx sends the bytes (X-Accel-Redirect).

A reviewer is a loop: fetch the playlist (a new playback: one view entry), then its init segment
and media segments one after another, again from the start when done. Every reviewer has its own
account and token (issued directly, as a login would: logins are not what is measured). One
client process (aiohttp) drives every side, so the client's own cost is the same for all;
throughput is bytes received per second, latency is per segment (request to last byte).
Prints each side's MB/s, p50 and p99, and the ratios to nginx; the goal (issue 18) is >= 0.5x
nginx throughput and p99 within 2x nginx's p99. Generated media and data stay under --tmp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _proc import cpu_seconds, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).with_name("custodian")
NGINX = "/usr/sbin/nginx"
PASSWORD = "bench password 123"
SECRET = "bench-secret-" + "x" * 40
ACCEL_LOCATION = "/_custodian_store/"
SEGMENT_S = 4  # transcode.presets.HLS_SEGMENT_S
GOALS = {"throughput": 0.5, "p99": 2.0}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw)


# -- media ----------------------------------------------------------------------------------
def clips(cache: Path, n: int, seconds: int, kbps: int) -> list[Path]:
    """n distinct H.264/AAC clips (720p, keyframe every 2 s, ~kbps) cached between runs."""
    import imageio_ffmpeg

    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = cache / f"clip{i}-{seconds}s-{kbps}k.mp4"
        if not path.exists():
            print(f"generating {path} (once) ...", flush=True)
            tmp = path.with_suffix(".part.mp4")
            argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency={440 + 40 * i}:duration={seconds}",
                    "-vf", f"hue=h={i * 40}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
                    "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
                    "-c:a", "aac", "-b:a", "96k", "-shortest", str(tmp)]  # fmt: skip
            subprocess.run(argv, check=True)
            tmp.rename(path)
        out.append(path)
    return out


# -- servers --------------------------------------------------------------------------------
def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@dataclass
class Deployment:
    work: Path
    env: dict[str, str]
    port: int
    server: subprocess.Popen | None = None  # type: ignore[type-arg]
    nginx_conf: Path | None = None
    items: list[dict] = field(default_factory=list)  # type: ignore[type-arg]
    tokens: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.nginx_conf is not None:
            subprocess.run(
                [NGINX, "-p", str(self.work / "nginx"), "-c", str(self.nginx_conf), "-s", "stop"],
                capture_output=True,
            )
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()


def settings_env(data: Path, database_url: str, accel: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    # The store sits beside the data folder (0700), readable by nginx's workers, as
    # deploy/nginx/accel.conf asks.
    env.update(
        {
            "CUSTODIAN_ADMIN_PASSWORD": PASSWORD,
            "CUSTODIAN_JWT_SECRET": SECRET,
            "CUSTODIAN_DATA_DIR": str(data),
            "CUSTODIAN_STORE_PATH": str(data.parent / "store"),
            "CUSTODIAN_STORE_MIN_FREE_BYTES": "0",
        }
    )
    if database_url:
        env["CUSTODIAN_DATABASE_URL"] = database_url
    if accel:
        env["CUSTODIAN_ACCEL_REDIRECT_LOCATION"] = ACCEL_LOCATION
        env["CUSTODIAN_TRUSTED_PROXIES"] = "127.0.0.1"
    return env


def prepare_catalogue(env: dict[str, str], reviewers: int) -> tuple[list[str], object]:
    """Agency BENCH, a station account and `reviewers` reviewer accounts; their tokens."""
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.http.tokens import TokenIssuer, load_secret
    from server.people.accounts import add_agency, add_user
    from server.people.passwords import hash_password
    from server.settings import load_settings

    settings = load_settings(None, env=env)
    db = Database(settings)
    upgrade(db.engine)
    digest = hash_password(PASSWORD)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "BENCH", "Bench agency")
        add_user(s, "station", PASSWORD, "station", "BENCH", password_hash=digest)
        return [
            (u.id, u.username)
            for u in (
                add_user(s, f"reviewer{i:03d}", PASSWORD, "reviewer", "BENCH", password_hash=digest)
                for i in range(reviewers)
            )
        ]

    made = db.call(setup)
    db.close()
    issuer = TokenIssuer(settings, load_secret(settings))
    tokens = [issuer.issue(uid, name, "reviewer", None, version=0)[0] for uid, name in made]
    return tokens, settings


def dock_and_process(dep: Deployment, media: list[Path]) -> None:
    """The agent docks the clips; wait until the server's worker made their HLS renditions."""
    import json

    dock = dep.work / "dock"
    dock.mkdir()
    for i, p in enumerate(media):
        os.link(p, dock / f"DSJ{i:03d}_P1000{i}_2024030510{i:02d}00.mp4")
        past = time.time() - 3600
        os.utime(dock / f"DSJ{i:03d}_P1000{i}_2024030510{i:02d}00.mp4", (past, past))
    creds = dep.work / "station.toml"
    creds.write_text(f'username = "station"\npassword = "{PASSWORD}"\n')
    base = f"http://127.0.0.1:{dep.port}"
    run(
        [
            str(BIN),
            "ingest",
            "--server",
            base,
            "--dock",
            str(dock),
            "--credentials",
            str(creds),
            "--state",
            str(dep.work / "agent"),
            "--once",
            "--log-level",
            "WARNING",
        ],
        env=dep.env,
    )
    headers = {"Authorization": f"Bearer {dep.tokens[0]}"}

    def get(path: str) -> dict:  # type: ignore[type-arg]
        req = urllib.request.Request(base + path, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    deadline = time.monotonic() + 600
    while True:
        listed = get("/api/v1/evidence?limit=200")["items"]
        if len(listed) == len(media) and all(
            i["status"] not in ("received", "processing") for i in listed
        ):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"items not processed in time: {listed}")
        time.sleep(1)
    for it in listed:
        if it["status"] != "ready":
            raise SystemExit(f"item {it['id']} is {it['status']}, not ready")
        dep.items.append(get(f"/api/v1/evidence/{it['id']}"))


def hls_files(item: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """rendition name under hls/ -> sha256, from the item detail."""
    rends = item.get("renditions") or []
    if isinstance(rends, dict):
        rends = [{"name": k, **v} for k, v in rends.items()]
    return {
        r["name"].removeprefix("hls/"): r["sha256"] for r in rends if r["name"].startswith("hls/")
    }


def store_path(data: Path, sha256: str) -> Path:
    return data.parent / "store" / sha256[:2] / sha256[2:4] / sha256


def start_nginx(dep: Deployment, data: Path, nginx_port: int, proxy_port: int) -> None:
    """One nginx: static segment files on nginx_port; Custodian proxied (X-Accel) on proxy_port."""
    prefix = dep.work / "nginx"
    static = prefix / "static"
    for item in dep.items:
        folder = static / item["id"] / "hls"
        folder.mkdir(parents=True)
        for name, sha in hls_files(item).items():
            os.link(store_path(data, sha), folder / name)  # the very same file
    (prefix / "logs").mkdir(parents=True)
    accel = ROOT / "deploy" / "nginx" / "accel.conf"
    accel_block = (
        accel.read_text().replace("/var/lib/custodian-store/", f"{data.parent}/store/")
        if accel.exists()
        else ""
    )
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
user root;  # a shortcut for the bench: `serve` makes the store 0700 (see accel.conf: ACLs)
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {prefix}/logs/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}
    client_body_temp_path {prefix}/tmp_body;
    proxy_temp_path {prefix}/tmp_proxy;
    fastcgi_temp_path {prefix}/tmp_fcgi;
    uwsgi_temp_path {prefix}/tmp_uwsgi;
    scgi_temp_path {prefix}/tmp_scgi;
    upstream custodian {{ server 127.0.0.1:{dep.port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{nginx_port};
        root {static};
    }}
    server {{
        listen 127.0.0.1:{proxy_port};
        location / {{
            proxy_pass http://custodian;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Sendfile-Type X-Accel-Redirect;
        }}
        {accel_block}
    }}
}}
""")
    run([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")])
    dep.nginx_conf = conf
    wait_http(f"http://127.0.0.1:{nginx_port}/")


def nginx_pids(dep: Deployment) -> list[int]:
    """nginx's master and its workers."""
    master = int((dep.work / "nginx" / "nginx.pid").read_text())
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


# -- load -----------------------------------------------------------------------------------
@dataclass
class Result:
    side: str
    viewers: int
    seconds: float
    bytes: int
    latencies: list[float]
    errors: int
    cpu_s: float = 0.0  # the serving processes' CPU seconds (Custodian, nginx or both)
    sys_s: float = 0.0  # of which in the kernel
    playlists: list[float] = field(default_factory=list)  # playlist latencies (a new playback)

    @property
    def cpu_per_gb(self) -> float:
        return self.cpu_s / max(self.bytes / 1e9, 1e-9)

    @property
    def mbps(self) -> float:
        return self.bytes / self.seconds / 1e6

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000


async def load(
    urls: list[tuple[str, list[str]]], tokens: list[str], viewers: int, seconds: float, side: str
) -> Result:
    """`viewers` reviewers for `seconds`; urls: per item, (playlist url, base for segments)."""
    import aiohttp

    latencies: list[float] = []
    playlists: list[float] = []
    total = [0, 0]  # bytes, errors
    end = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)

    async def fetch(
        session: aiohttp.ClientSession, url: str, headers: dict[str, str]
    ) -> bytes | None:
        t0 = time.perf_counter()
        async with session.get(url, headers=headers) as r:
            if r.status != 200:
                total[1] += 1
                await r.read()
                return None
            n = 0
            body = []
            async for chunk in r.content.iter_chunked(1 << 20):
                n += len(chunk)
                if url.endswith(".m3u8"):
                    body.append(chunk)
        (playlists if url.endswith(".m3u8") else latencies).append(time.perf_counter() - t0)
        total[0] += n
        return b"".join(body)

    async def reviewer(session: aiohttp.ClientSession, i: int) -> None:
        playlist, base = urls[i % len(urls)]
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"} if tokens else {}
        while time.monotonic() < end:
            text = await fetch(session, playlist, headers)
            if text is None:
                await asyncio.sleep(0.1)
                continue
            names = []
            for line in text.decode().splitlines():
                if line.startswith("#EXT-X-MAP:"):
                    names.append(line.split('URI="', 1)[1].split('"', 1)[0])
                elif line and not line.startswith("#"):
                    names.append(line)
            for name in names:
                if time.monotonic() >= end:
                    return
                await fetch(session, base + name, headers)

    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        t0 = time.monotonic()
        await asyncio.gather(*(reviewer(session, i) for i in range(viewers)))
        elapsed = time.monotonic() - t0
    res = Result(side, viewers, elapsed, total[0], latencies, total[1])
    res.playlists = playlists
    return res


def side_urls(
    dep: Deployment, side: str, nginx_port: int, proxy_port: int
) -> list[tuple[str, list[str]]]:
    out = []
    for item in dep.items:
        if side == "nginx":
            base = f"http://127.0.0.1:{nginx_port}/{item['id']}/hls/"
        elif side == "custodian":
            base = f"http://127.0.0.1:{dep.port}/api/v1/evidence/{item['id']}/hls/"
        else:
            base = f"http://127.0.0.1:{proxy_port}/api/v1/evidence/{item['id']}/hls/"
        out.append((base + "index.m3u8", base))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def one_run(args: argparse.Namespace, media: list[Path], run_no: int) -> list[Result]:
    work = Path(tempfile.mkdtemp(prefix="custodian-bench-playback-", dir=args.tmp))
    data = work / "data"
    pg_name = None
    database_url = ""
    if args.pg:
        from sqlalchemy import create_engine, text

        pg_name = f"custodian_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{pg_name}"'))
        database_url = args.pg_url.rsplit("/", 1)[0] + "/" + pg_name
    accel = "proxied" in args.sides
    env = settings_env(data, database_url, accel)
    dep = Deployment(work, env, free_port())
    results = []
    try:
        dep.tokens, _ = prepare_catalogue(env, max(args.viewers))
        log = open(work / "server.log", "w")  # noqa: SIM115 - closed below
        argv = [str(BIN), "serve", "--port", str(dep.port)]
        if args.profile:  # the server under cProfile (written when it stops)
            argv = [sys.executable, "-m", "cProfile", "-o", args.profile, *argv]
        dep.server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
        wait_http(f"http://127.0.0.1:{dep.port}/healthz", dep.server)
        dock_and_process(dep, media)
        nginx_port, proxy_port = free_port(), free_port()
        start_nginx(dep, data, nginx_port, proxy_port)
        sizes = [
            os.path.getsize(store_path(data, sha))
            for it in dep.items
            for n, sha in hls_files(it).items()
            if n.startswith("seg-")
        ]
        if run_no == 0:
            print(
                f"{len(dep.items)} items, {len(sizes)} segments, median segment "
                f"{statistics.median(sizes) / 1e6:.1f} MB",
                flush=True,
            )
        for n in args.viewers:
            for side in args.sides:
                urls = side_urls(dep, side, nginx_port, proxy_port)
                tokens = [] if side == "nginx" else dep.tokens
                pids = {
                    "nginx": nginx_pids(dep),
                    "custodian": [dep.server.pid],
                    "proxied": [dep.server.pid, *nginx_pids(dep)],
                }[side]
                cpu0, sys0 = cpu_seconds(pids), cpu_seconds(pids, (12,))
                res = asyncio.run(load(urls, tokens, n, args.seconds, side))
                res.cpu_s = cpu_seconds(pids) - cpu0
                res.sys_s = cpu_seconds(pids, (12,)) - sys0
                results.append(res)
                print(
                    f"  run {run_no + 1} N={n:<4} {side:<10} {res.mbps:8.0f} MB/s  p50 "
                    f"{res.pct(0.5):7.1f} ms  p99 {res.pct(0.99):7.1f} ms  "
                    f"{len(res.latencies)} segments  errors {res.errors}  server CPU "
                    f"{res.cpu_per_gb:.2f} s/GB ({res.sys_s / max(res.bytes / 1e9, 1e-9):.2f} "
                    "in the kernel)",
                    flush=True,
                )
                if args.verbose:
                    pl = sorted(res.playlists) or [float("nan")]
                    print(
                        f"      playlists: {len(pl)}, p50 {pl[len(pl) // 2] * 1000:.1f} ms, "
                        f"p99 {pl[int(0.99 * len(pl))] * 1000:.1f} ms",
                        flush=True,
                    )
        log.close()
    finally:
        dep.stop()
        if pg_name:
            from sqlalchemy import create_engine, text

            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--viewers", default="10,50,200", help="comma-separated N (default 10,50,200)")
    ap.add_argument("--seconds", type=float, default=60.0, help="per side and N (default 60)")
    ap.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    ap.add_argument(
        "--sides",
        default="nginx,custodian,proxied",
        help="nginx (baseline), custodian (direct), proxied (behind nginx, X-Accel)",
    )
    ap.add_argument("--items", type=int, default=2, help="distinct items (default 2)")
    ap.add_argument("--clip-seconds", type=int, default=60)
    ap.add_argument("--kbps", type=int, default=5200, help="clip bitrate: 5200 ~ 2.6 MB segments")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL catalogue instead of SQLite")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "CUSTODIAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    ap.add_argument("--tmp", default="/tmp", help="work folder (default /tmp)")
    ap.add_argument("--cache", default="/tmp/custodian-bench-cache", help="generated clips")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--verbose", action="store_true", help="also playlist latencies")
    ap.add_argument("--profile", help="run the server under cProfile, writing this file")
    args = ap.parse_args()
    # A stop (SIGTERM) unwinds like Ctrl-C, so the servers this run started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    args.viewers = [int(v) for v in args.viewers.split(",")]
    args.sides = [s.strip() for s in args.sides.split(",")]
    if "nginx" not in args.sides:
        args.sides.insert(0, "nginx")
    media = clips(Path(args.cache), args.items, args.clip_seconds, args.kbps)
    every: list[Result] = []
    for r in range(args.runs):
        every += one_run(args, media, r)
    print(
        f"\nmedians of {args.runs} run(s), {args.seconds:.0f} s per side"
        f"{' (PostgreSQL)' if args.pg else ' (SQLite)'}; ratios against nginx in the same run"
    )
    ok = True
    for n in args.viewers:
        for side in args.sides:
            mine = [r for r in every if r.side == side and r.viewers == n]
            base = [r for r in every if r.side == "nginx" and r.viewers == n]
            mb = statistics.median(r.mbps for r in mine)
            p50 = statistics.median(r.pct(0.5) for r in mine)
            p99 = statistics.median(r.pct(0.99) for r in mine)
            cpu = statistics.median(r.cpu_per_gb for r in mine)
            line = (
                f"N={n:<4} {side:<10} {mb:8.0f} MB/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
                f"CPU {cpu:5.2f} s/GB"
            )
            if side != "nginx":
                # ratios within each run (both sides of a ratio share a run), then their median
                tr = statistics.median(
                    a.mbps / max(b.mbps, 1e-9) for a, b in zip(mine, base, strict=True)
                )
                pr = statistics.median(
                    a.pct(0.99) / max(b.pct(0.99), 1e-9) for a, b in zip(mine, base, strict=True)
                )
                met = tr >= GOALS["throughput"] and pr <= GOALS["p99"]
                ok &= met
                line += (
                    f"   throughput {tr:.2f}x nginx, p99 {pr:.2f}x nginx "
                    f"({'meets' if met else 'misses'} the goal)"
                )
            print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
