"""`custodian keys` and `custodian keys rotate`: the parser only; the work is in
server.custody.keyring, imported when the command runs (so `custodian --help` and every other command
start without SQLAlchemy)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from server.custody.keyring import cmd_keys

    return cmd_keys(args)


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `keys` and `keys rotate`."""
    p = sub.add_parser("keys", help="signing-key fingerprints with validity windows; rotation")
    p.add_argument("--json", action="store_true",
                   help="print the keys file to publish (for verify.py --trusted-key)")
    common(p)
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    pr = ksub.add_parser("rotate", help="replace the signing key (old public keys are kept "
                         "with their validity windows; the change is ledgered)")
    common(pr)
    p.set_defaults(func=_run)
    pr.set_defaults(func=_run)

