"""`custodian ingest`: the station agent's command line."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_STATE = "./var/ingest"


class ConfigError(Exception):
    pass


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `ingest` on the `custodian` command line."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "ingest",
        help="the station agent: upload docked footage and clear it once confirmed",
        description="Watch dock folders, upload each complete clip over tus while hashing it, "
        "and clear it only after the server confirms the same SHA-256. Exit codes with --once: "
        "0 all confirmed, 1 some file refused/failed/zero-byte/waiting, 2 bad configuration or "
        "credentials, 3 some files were still being written and were left for the next run.",
    )
    p.add_argument(
        "--server", required=True, metavar="URL", help="Custodian server, e.g. http://10.0.0.5:8080"
    )
    p.add_argument(
        "--dock",
        required=True,
        action="append",
        metavar="DIR",
        help="a dock folder (repeat for several)",
    )
    p.add_argument(
        "--credentials",
        required=True,
        metavar="FILE",
        help="TOML with username and password of a station user",
    )
    p.add_argument(
        "--station",
        metavar="ID",
        help="station id sent with every file "
        "(default: station_id in the credentials file, else the host name)",
    )
    p.add_argument(
        "--state",
        metavar="DIR",
        default=DEFAULT_STATE,
        help=f"folder of the agent's journal (default {DEFAULT_STATE})",
    )
    p.add_argument("--once", action="store_true", help="upload what is complete now and exit")
    p.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="report backlog, last error and free disk to the server this often (default 60; "
        "0 = never); --once reports once at the end",
    )
    p.add_argument("--concurrency", type=int, default=2, help="parallel uploads (default 2)")
    p.add_argument(
        "--quiet-seconds",
        type=float,
        default=5.0,
        help="a file must be unchanged this long to count as complete (default 5)",
    )
    p.add_argument(
        "--scan-interval",
        type=float,
        default=2.0,
        help="seconds between rescans of the docks (default 2)",
    )
    p.add_argument(
        "--clear",
        choices=("move", "delete", "leave"),
        default="move",
        help="after confirmation: move to <dock>/cleared/ (default), delete, or leave",
    )
    p.add_argument("--naming", metavar="FILE", help="naming patterns (default config/naming.toml)")
    p.add_argument(
        "--timezone", help="zone of local times in file names (default from the naming file)"
    )
    p.add_argument(
        "--chunk-mb", type=float, default=32.0, help="bytes per PATCH in MiB (default 32)"
    )
    checksum = p.add_mutually_exclusive_group()
    checksum.add_argument(
        "--chunk-checksum",
        dest="chunk_checksum",
        action="store_true",
        default=False,
        help="also send a SHA-256 Upload-Checksum with every PATCH, so a chunk altered in "
        "transit is resent alone (costs one more SHA-256 pass on each side); off by default: "
        "the whole-file SHA-256 is always checked before the server commits, and a mismatch "
        "refuses the upload and the file is sent again",
    )
    checksum.add_argument(
        "--no-chunk-checksum",
        dest="chunk_checksum",
        action="store_false",
        help="no Upload-Checksum per PATCH (the default)",
    )
    p.add_argument(
        "--limit-rate",
        type=int,
        default=0,
        metavar="BYTES_PER_S",
        help="cap upload bandwidth (default: none)",
    )
    p.add_argument(
        "--max-attempts",
        type=int,
        default=3,
        help="refused uploads of one file before it needs a person (default 3)",
    )
    p.add_argument(
        "--backoff-max",
        type=float,
        default=60.0,
        help="longest wait between retries when the server is down (default 60 s)",
    )
    p.add_argument(
        "--service", action="store_true", help="log one line per event instead of progress bars"
    )
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.set_defaults(func=cmd_ingest)
    return p


def read_credentials(path: str) -> dict[str, str]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"credentials file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"credentials file {path} is not readable TOML: {exc}") from None
    for key in ("username", "password"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"credentials file {path}: {key!r} is required")
    return {k: str(v) for k, v in data.items()}


def credential_warnings(path: str) -> list[str]:
    """A credentials file others can read gives away a station's password."""
    try:
        mode = Path(path).stat().st_mode & 0o777
    except OSError:
        return []
    if mode & 0o077:
        return [
            f"credentials file {path} can be read by other users (mode {mode:o}); "
            f"protect it: chmod 600 {path}"
        ]
    return []


def server_warnings(url: str) -> list[str]:
    """Passwords and footage over plain http:// are readable on the network."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http":
        return []
    host = (parts.hostname or "").strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if loopback:
        return []
    return [
        f"--server {url} is plain http:// to another machine: the password and the footage "
        "cross the network unencrypted; use https:// (a reverse proxy with TLS, see the "
        "README's 'Running behind TLS')"
    ]


def config_from(args: argparse.Namespace) -> Any:
    from ingest.agent import AgentConfig
    from ingest.naming import NamingError, load_naming

    creds = read_credentials(args.credentials)
    try:
        naming = load_naming(args.naming, args.timezone)
    except NamingError as exc:
        raise ConfigError(str(exc)) from None
    if not args.server.startswith(("http://", "https://")):
        raise ConfigError(f"--server {args.server!r} must start with http:// or https://")
    if args.concurrency < 1 or args.chunk_mb <= 0 or args.quiet_seconds < 0:
        raise ConfigError("--concurrency and --chunk-mb must be positive, --quiet-seconds >= 0")
    return AgentConfig(
        server=args.server,
        docks=[Path(d) for d in args.dock],
        username=creds["username"],
        password=creds["password"],
        station_id=args.station or creds.get("station_id") or socket.gethostname(),
        state_dir=Path(args.state),
        once=args.once,
        concurrency=args.concurrency,
        quiet_seconds=args.quiet_seconds,
        scan_interval=args.scan_interval,
        clear_mode=args.clear,
        chunk_bytes=max(1, int(args.chunk_mb * 1024 * 1024)),
        chunk_checksum=args.chunk_checksum,
        limit_rate=args.limit_rate,
        max_attempts=max(1, args.max_attempts),
        backoff_max=args.backoff_max,
        naming=naming,
        progress=False if args.service else None,
        heartbeat_interval=max(0.0, args.heartbeat),
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.agent import EXIT_FATAL, run_agent

    try:
        cfg = config_from(args)
    except ConfigError as exc:
        print(f"custodian ingest: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    for warning in credential_warnings(args.credentials) + server_warnings(args.server):
        print(f"custodian ingest: warning: {warning}", file=sys.stderr)
    handlers: list[logging.Handler] | None = None
    if cfg.progress is None and sys.stdout.isatty():
        from rich.logging import RichHandler

        handlers = [RichHandler(show_path=False)]
    logging.basicConfig(
        level=args.log_level,
        handlers=handlers,
        format="%(asctime)s %(levelname)s %(message)s" if handlers is None else "%(message)s",
    )
    logging.getLogger("watchdog").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    try:
        return run_agent(cfg)
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """`python -m ingest` runs the agent without the server's CLI."""
    parser = argparse.ArgumentParser(prog="custodian")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ingest", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))
