"""`custodian export` and `custodian verify-package`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.errors import BadRequest, CustodianError

CLIP_RE = re.compile(
    r"^(?P<item>[^:]+):(?P<in>\d+(?:\.\d+)?):(?P<out>\d+(?:\.\d+)?)(?::(?P<name>.+))?$"
)


def _clip(text: str) -> dict[str, Any]:
    m = CLIP_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"clip {text!r} is not ITEM:IN:OUT[:NAME] (seconds)")
    return {
        "evidence_id": m["item"],
        "in_s": float(m["in"]),
        "out_s": float(m["out"]),
        "name": m["name"] or None,
    }


def read_credentials(path: str) -> tuple[str, str]:
    """(username, password) from a TOML credentials file, as the station agent reads it."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(
            f"credentials file {path} does not exist", code="bad_credentials"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadRequest(
            f"credentials file {path} is not readable TOML: {exc}", code="bad_credentials"
        ) from None
    for key in ("username", "password"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BadRequest(
                f"credentials file {path}: {key!r} is required", code="bad_credentials"
            )
    return data["username"], data["password"]


def login_from_file(db: Any, settings: Any, path: str | None) -> Any:
    """The Custodian account the command acts as (its role and agency are enforced)."""
    from server.people.logins import login_blocking

    if not path:
        raise BadRequest(
            "--credentials FILE is required: an export is recorded under the "
            "Custodian account that makes it (TOML with username and password)",
            code="no_credentials",
        )
    username, password = read_credentials(path)
    who = login_blocking(db, settings, username, password)
    if who is None:
        raise BadRequest(
            f"credentials file {path}: wrong username or password, or the account is disabled",
            code="bad_credentials",
        )
    return who


class CliLease:
    """A running job row for an export built by the command line, renewed while it works."""

    def __init__(self, db: Any, settings: Any, export_id: str, target: Path):
        import os
        import socket
        import threading

        from server.exports.job import EXPORT_JOB
        from server.media.jobs import start_held

        self.db = db
        self.seconds = float(settings.job_lease_seconds)
        self.worker = f"cli:{socket.gethostname()}:{os.getpid()}"
        self.progress = 0.0
        self.job_id = db.call(
            start_held, EXPORT_JOB, export_id, self.worker, self.seconds, str(target)
        )
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._run, name="export-lease", daemon=True)
        self._beat.start()

    def _run(self) -> None:
        from server.media.jobs import heartbeat

        while not self._stop.wait(max(1.0, self.seconds / 3)):
            try:
                self.db.call(heartbeat, self.job_id, self.worker, self.progress, self.seconds)
            except Exception:  # an outage: the next beat tries again  # noqa: S110
                pass

    def end(self, *, result: dict[str, Any] | None = None, failed: str | None = None) -> None:
        from server.media.jobs import fail, finish

        self._stop.set()
        self._beat.join(timeout=5)
        if failed is None:
            self.db.call(finish, self.job_id, self.worker, result)
        else:
            self.db.call(fail, self.job_id, self.worker, failed)


def cmd_export(args: argparse.Namespace) -> int:
    """Build a sealed package of a case into --out, in this process, with a progress bar."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from server.cli.common import open_db, out, settings_from
    from server.exports.job import create_export, run_export
    from server.store import open_store

    settings = settings_from(args)
    target = Path(args.out).expanduser().resolve()
    if target.is_dir():
        raise CustodianError(f"--out {target} is a folder; give a file name", code="bad_argument")
    if not target.parent.is_dir():
        raise CustodianError(f"--out: folder {target.parent} does not exist", code="bad_argument")
    data: dict[str, Any] = {
        "recipient": args.recipient,
        "purpose": args.purpose,
        "watermark": args.watermark,
    }
    if args.item:
        data["items"] = args.item
    if args.clip:
        data["clips"] = [{k: v for k, v in c.items() if v is not None} for c in args.clip]
    if args.precise:
        for c in data.get("clips", []):
            c["precise"] = True
    db = open_db(settings)
    try:
        who = login_from_file(db, settings, args.credentials)
        export = db.call(create_export, args.case, who, data, settings, enqueue=False)
        export_id = export.id
        # The export is a job held by this process under a lease, like an API export: if this
        # process dies, the lease runs out and a worker marks the export failed and removes
        # the partial package next to --out (server.sweep); nothing stays "running" for ever.
        lease = CliLease(db, settings, export_id, target)
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=out.console,
                disable=not out.is_terminal or args.quiet,
                transient=True,
            ) as bar:
                task = bar.add_task(f"sealing export {export_id}", total=1.0)

                def progress(f: float) -> None:
                    lease.progress = f
                    bar.update(task, completed=f)

                result = run_export(
                    settings, db, open_store(settings), export_id, progress, out_path=target
                )
        except BaseException as exc:
            lease.end(failed=str(exc) or type(exc).__name__)
            raise
        lease.end(result=result)
    finally:
        db.close()
    out.print(
        f"[green]sealed[/] export {export_id} of case {escape(args.case)}: {escape(str(target))}",
        soft_wrap=True,
    )
    out.print(
        f"  {result['originals']} originals, {result['clips']} clips, "
        f"{result['ledger_entries']} ledger entries (tree head of size "
        f"{result['tree_head_size']}{', RFC 3161' if result['timestamped'] else ''}), "
        f"Payload-Oxum {result['payload_oxum']}",
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"  package sha256 {result['package_sha256']} ({result['package_size']} bytes)",
        markup=False,
        soft_wrap=True,
    )
    if not result["font_embedded"]:
        out.print(f"  warning: report font {result['font']}", markup=False, soft_wrap=True)
    return 0


def cmd_verify_package(args: argparse.Namespace) -> int:
    """Check a package offline with the same code as the verify.py inside it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from integrity.verify_package import (
        BadTrustedKey,
        PackageUnreadable,
        load_trusted_keys,
        load_trusted_tsa,
        render,
        verify_package,
    )
    from server.cli.common import out

    try:
        trusted = load_trusted_keys(args.trusted_key)
        tsa = load_trusted_tsa(args.trusted_tsa)
    except BadTrustedKey as exc:
        raise BadRequest(str(exc), code="bad_trusted_key") from None

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=out.console,
        transient=True,
        disable=not out.is_terminal or args.quiet,
    ) as bar:
        task = bar.add_task("hashing payload", total=None)

        def progress(rel: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        try:
            report = verify_package(
                args.file, trusted_keys=trusted, progress=progress, trusted_tsa=tsa
            )
        except (PackageUnreadable, OSError) as exc:
            raise BadRequest(f"unreadable / 无法读取: {exc}", code="unreadable_package") from None
    out.print(
        render(report, args.file, quiet=args.quiet), markup=False, highlight=False, soft_wrap=True
    )
    return report.exit_code


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `export` and `verify-package` on the custodian parser."""
    p = sub.add_parser("export", help="build a sealed court package (BagIt ZIP) of a case")
    p.add_argument("case", metavar="CASE", help="case id or case number")
    p.add_argument("--out", required=True, metavar="FILE", help="the package ZIP to write")
    p.add_argument(
        "--item",
        action="append",
        metavar="ID",
        help="export only this linked item (repeatable; default: every linked item)",
    )
    p.add_argument(
        "--clip",
        action="append",
        type=_clip,
        metavar="ITEM:IN:OUT[:NAME]",
        help="cut a clip (seconds) of a linked item (repeatable; default: the "
        "case's export basket)",
    )
    p.add_argument(
        "--precise",
        action="store_true",
        help="re-encode clips for frame-exact cuts (default: setting export_clip_precise)",
    )
    p.add_argument(
        "--recipient",
        default="未指定 / not stated",
        metavar="TEXT",
        help="who receives the package (court, prosecutor…); recorded in the ledger",
    )
    p.add_argument(
        "--purpose",
        default="诉讼 / court proceedings",
        metavar="TEXT",
        help="why it is handed out; recorded in the ledger",
    )
    p.add_argument(
        "--watermark",
        action="store_true",
        help="burn recipient and export id into the clips (never the originals)",
    )
    p.add_argument(
        "--credentials",
        metavar="FILE",
        help="TOML file with username and password of the Custodian account that "
        "exports (required; recorded in the ledger and the package)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "verify-package",
        help="check a sealed package offline (the same code "
        "as its verify.py): exit 0 valid and signed by a trusted key, 1 invalid, "
        "2 unreadable, 3 integrity holds but origin not established",
    )
    p.add_argument("file", metavar="FILE", help="the package ZIP or its unpacked folder")
    p.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        metavar="KEY",
        help="the signing key the agency publishes: fingerprint (64 hex), key id, "
        "public key hex, PEM file or keys file (`custodian keys --json`); repeatable",
    )
    p.add_argument(
        "--trusted-tsa",
        metavar="PEM",
        help="root certificate(s) of a TSA you trust: its token over the signed tree "
        "head establishes origin",
    )
    p.add_argument("--quiet", action="store_true", help="print only the verdict")
    # Accepted like every command's (scripts pass them uniformly); the check itself needs
    # nothing from a server: only the package and the trusted keys.
    common(p)
    p.set_defaults(func=cmd_verify_package)
