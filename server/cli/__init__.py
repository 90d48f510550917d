"""The `custodian` command line."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from server.cli.common import (
    add_common,
    cli_actor,
    open_db,
    out,
    read_password,
    say,
    settings_from,
    styled,
)
from server.errors import Conflict, CustodianError

__all__ = ["cli_actor", "main", "open_db", "out", "settings_from"]


def bootstrap_admin(db: Any) -> tuple[str, str, bool] | None:
    """With no users at all, create `admin`: the password from CUSTODIAN_ADMIN_PASSWORD or a
    generated one (returned so it is printed once)."""
    from server.people.accounts import add_user, count_users

    if db.call(count_users):
        return None
    given = os.environ.get("CUSTODIAN_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    try:
        db.call(add_user, "admin", password, "admin", None, "Administrator", actor="system")
    except Conflict:  # another server process created it first
        return None
    return "admin", password, given is None


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from server.http.app import AccessLogger, create_app

    settings = settings_from(args, host=args.host, port=args.port)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = open_db(settings)
    created = bootstrap_admin(db)
    db.close()
    url = f"http://{settings.host}:{settings.port}"
    if created:
        user, password, generated = created
        out.print(
            f"[bold]Created the first administrator[/]: user [cyan]{user}[/]"
            + (
                f", password [cyan]{password}[/] (shown once; keep it safe)"
                if generated
                else " with the password from CUSTODIAN_ADMIN_PASSWORD"
            )
        )
    out.print(
        f"Custodian serving on [link={url}]{url}[/link] "
        f"(data in {settings.data_path}, catalogue {settings.resolved_database_url.split('://')[0]}, "
        f"store {settings.store_backend})"
    )
    out.print(
        f"Log in: curl -s -X POST {url}/api/v1/auth/login -H 'Content-Type: application/json' "
        '-d \'{"username": "admin", "password": "…"}\''
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        print=None,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from server.media.worker import WorkerPool
    from server.store import open_store

    settings = settings_from(args)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = open_db(settings)
    pool = WorkerPool(settings, db, open_store(settings), concurrency=args.concurrency)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, pool.stop)
        out.print(
            f"worker {pool.name}: {pool.concurrency} job loop(s) on "
            f"{settings.resolved_database_url.split('://')[0]}; Ctrl-C stops after the current job"
        )
        await pool.run()

    try:
        asyncio.run(main())
    finally:
        db.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_db(settings)
    db.close()
    say(f"catalogue at {settings.resolved_database_url.split('@')[-1]} is up to date")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from server.people.accounts import add_user, check_password_policy

    settings = settings_from(args)
    password = read_password(args)
    check_password_policy(password, args.name)
    db = open_db(settings)
    try:
        user = db.call(
            add_user,
            args.name,
            password,
            args.role,
            args.agency,
            args.display_name or "",
            actor=cli_actor(),
        )
    finally:
        db.close()
    say(
        f"user {styled(user.username, 'cyan')} created (id {user.id}, role {user.role}"
        + (f", agency {args.agency})" if args.agency else ")")
    )
    return 0


def cmd_agency_add(args: argparse.Namespace) -> int:
    from server.people.accounts import add_agency

    settings = settings_from(args)
    db = open_db(settings)
    try:
        agency = db.call(add_agency, args.code, args.name or args.code, actor=cli_actor())
    finally:
        db.close()
    say(f"agency {styled(agency.code, 'cyan')} created (id {agency.id})")
    return 0


def cmd_user_change(args: argparse.Namespace) -> int:
    """user disable / enable / passwd / set: each bumps the token version (existing tokens
    stop working within account_cache_seconds on running servers) and is ledgered."""
    from server.people.accounts import _UNSET, check_password_policy, get_user_by_name, update_user

    settings = settings_from(args)
    changes: dict[str, Any] = {}
    action = args.user_command
    if action in ("disable", "enable"):
        changes["active"] = action == "enable"
    elif action == "passwd":
        password = read_password(args)
        check_password_policy(password, args.name)
        changes["password"] = password
    else:
        if args.role is None and args.agency is None and args.display_name is None:
            raise CustodianError(
                "user set: give --role, --agency or --display-name", code="bad_argument"
            )
        changes["role"] = args.role
        changes["agency_code"] = _UNSET if args.agency is None else (args.agency or None)
        changes["display_name"] = args.display_name
    db = open_db(settings)
    try:

        def change(s: Any) -> dict[str, Any]:
            return update_user(s, get_user_by_name(s, args.name), actor=cli_actor(), **changes)

        changed = db.call(change)
    finally:
        db.close()
    if not changed:
        say(f"user {styled(args.name, 'cyan')}: nothing to change")
    else:
        say(
            f"user {styled(args.name, 'cyan')}: {', '.join(sorted(changed))} changed"
            + ("; existing tokens no longer work" if set(changed) - {"display_name"} else "")
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-hash the store, check manifests, the ledger chain, tree heads and tokens; print every
    problem; record the run in the ledger. Exit 0 only when everything holds, 1 otherwise."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from integrity.ledger import VERIFY
    from server.custody.signing import key_path, load_existing_key
    from server.custody.verification import load_tsa_roots, problem_lines, record_result, verify_all
    from server.store import open_store

    settings = settings_from(args)
    if args.jobs < 1:
        raise CustodianError("--jobs must be 1 or more", code="bad_argument")
    db = open_db(settings)
    try:
        store = open_store(settings)
        key = load_existing_key(settings)
        public_keys = key.public_keys() if key else {}
        roots = load_tsa_roots(settings)
        show = out.is_terminal and not args.quiet
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=out.console,
            disable=not show,
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total or None)
                bar.update(tasks[stage], completed=done, total=total or None)

            report = verify_all(
                db,
                store,
                public_keys,
                tsa_roots=roots,
                progress=progress,
                max_bytes_per_second=int(args.max_mb_per_second * 1024 * 1024),
                jobs=args.jobs,
            )
        if not args.no_record:
            db.call(record_result, report, action=VERIFY, actor="cli:custodian verify")
    finally:
        db.close()
    checked = (
        f"{report.objects} objects ({report.bytes_hashed} bytes re-hashed), "
        f"{report.manifests} manifest versions of {report.items} items, "
        f"{report.entries} ledger entries, {report.tree_heads} signed tree heads, "
        f"{report.tokens_checked} RFC 3161 tokens in {report.seconds:.1f}s"
    )
    if key is None:
        out.print(
            f"note: no signing key at {key_path(settings)}; signatures cannot be checked",
            markup=False,
            soft_wrap=True,
        )
    if report.tokens_unchecked:
        out.print(
            f"note: {report.tokens_unchecked} RFC 3161 tokens not checked "
            "(set tsa_roots_file to check them)",
            markup=False,
            soft_wrap=True,
        )
    if report.ok:
        out.print(
            f"[green]verification passed[/]: {escape(checked)}; everything holds", soft_wrap=True
        )
        return 0
    count = len(report.problems)
    out.print(
        f"[red]verification FAILED[/]: {count} problem{'s' if count != 1 else ''} "
        f"({escape(checked)})",
        soft_wrap=True,
    )
    for line in problem_lines(report):
        out.print("  " + line, markup=False, soft_wrap=True)
    return 1


def build_parser() -> argparse.ArgumentParser:
    from server.access import ROLES

    parser = argparse.ArgumentParser(
        prog="custodian", description="Custodian video-evidence server"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the server (API, player, uploads, workers)")
    add_common(p)
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8080)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run media/export jobs only (scale-out)")
    add_common(p)
    p.add_argument(
        "--concurrency", type=int, help="job loops in this process (default: worker_concurrency)"
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="bring the catalogue schema up to date")
    add_common(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("user", help="manage users")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    pa = usub.add_parser("add", help="create a user")
    pa.add_argument("name", help="login name")
    pa.add_argument("--role", required=True, choices=ROLES, help="the user's role")
    pa.add_argument(
        "--agency",
        metavar="CODE",
        help="agency code (required except for supervisor, auditor, admin)",
    )
    pa.add_argument("--display-name", help="name shown in the UI and the custody report")
    pa.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_common(pa)
    pa.set_defaults(func=cmd_user_add)
    for name, text in (
        ("disable", "disable a user (their tokens stop working)"),
        ("enable", "enable a disabled user"),
    ):
        pa = usub.add_parser(name, help=text)
        pa.add_argument("name", help="login name")
        add_common(pa)
        pa.set_defaults(func=cmd_user_change)
    pa = usub.add_parser("passwd", help="set a user's password (their tokens stop working)")
    pa.add_argument("name", help="login name")
    pa.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_common(pa)
    pa.set_defaults(func=cmd_user_change)
    pa = usub.add_parser("set", help="change a user's role, agency or display name")
    pa.add_argument("name", help="login name")
    pa.add_argument("--role", choices=ROLES, help="the new role")
    pa.add_argument("--agency", metavar="CODE", help="the new agency code ('' for none)")
    pa.add_argument("--display-name", help="name shown in the UI and the custody report")
    add_common(pa)
    pa.set_defaults(func=cmd_user_change)

    p = sub.add_parser("agency", help="manage agencies")
    asub = p.add_subparsers(dest="agency_command", required=True, metavar="ACTION")
    pa = asub.add_parser("add", help="create an agency")
    pa.add_argument("code", help="short code, e.g. LS-ZF (used by --agency)")
    pa.add_argument("--name", help="full name, e.g. 丽水市综合行政执法局")
    add_common(pa)
    pa.set_defaults(func=cmd_agency_add)
    p = sub.add_parser(
        "verify",
        help="re-hash every stored object and check manifests, the "
        "custody ledger, tree heads and tokens; exit 0 only when all holds",
    )
    add_common(p)
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="hash N objects at once (default 1)"
    )
    p.add_argument(
        "--max-mb-per-second",
        type=float,
        default=0.0,
        metavar="MB",
        help="limit reads to MB MiB/s (default: unlimited)",
    )
    p.add_argument(
        "--no-record", action="store_true", help="do not append the result to the custody ledger"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_verify)
    from ingest.cli import add_parser as add_ingest_parser

    add_ingest_parser(sub)
    from server.cli.export import add_parsers as add_export_parsers

    add_export_parsers(sub, add_common)
    from server.cli.registry import add_parsers as add_registry_parsers

    add_registry_parsers(sub, add_common)
    from server.cli.keys import add_parsers as add_keys_parsers

    add_keys_parsers(sub, add_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # the catalogue, keys, store, uploads and exports are the server user's only
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CustodianError as exc:
        # One plain line (no wrapping), so scripts and people both read it whole.
        print(f"custodian {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
