"""What every `custodian` command shares: the console, its settings, the catalogue, the name
under which it acts. Each command module imports these from here (never from server.cli, which
imports the command modules), and imports the rest of what it needs when it runs."""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import sys
from typing import TYPE_CHECKING, Any

from server.errors import CustodianError
from server.settings import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console

    from server.catalogue.db import Database


class _LazyConsole:
    """The rich Console every command prints through, made on first use (a command that
    fails before printing never loads rich)."""

    def __init__(self) -> None:
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # long lines (URLs, passwords) stay whole
            self._console = Console(highlight=False, soft_wrap=True)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out: Any = _LazyConsole()
_STYLES = {"bold": "1", "cyan": "36", "green": "32", "red": "31"}


@functools.cache
def _colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def styled(text: str, style: str) -> str:
    """`text` in one of a few styles (ANSI) on a colour terminal, else as it is."""
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if _colour() else text


def say(line: str) -> None:
    """Print a one-line result. Plain print, not rich: a one-line message needs no console
    library (rich stays for tables and progress bars), and names are never read as markup."""
    print(line, flush=True)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", metavar="DIR", help="data folder (default ./var): catalogue, store, keys"
    )
    p.add_argument(
        "--config", metavar="FILE", help="TOML settings file on top of config/custodian.toml"
    )


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(
        getattr(args, "config", None), overrides={"data_dir": getattr(args, "data", None), **extra}
    )


def open_db(settings: Settings) -> Database:
    """The catalogue, migrated to the current schema (Alembic runs only when it is not)."""
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.filemodes import secure_data_dir

    secure_data_dir(settings)
    db = Database(settings)
    upgrade(db.engine)
    return db


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CustodianError("the two passwords differ", code="bad_password")
    else:
        raise CustodianError(
            "no terminal to ask for a password: use --password-stdin", code="bad_password"
        )
    return password


def cli_actor() -> str:
    """How a command-line act is named in the ledger: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a container is not an error
        return "cli:operator"
