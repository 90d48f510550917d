"""`custodian keys` and `custodian keys rotate`: signing-key fingerprints with their validity
windows, and rotation. The work is in server.custody.keyring, imported when the command runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from server.cli.common import cli_actor, open_db, out, settings_from


def cmd_keys(args: argparse.Namespace) -> int:
    """`custodian keys [--json]` and `custodian keys rotate`."""
    from server.custody.keyring import ensure_registered, keyring, rotate
    from server.custody.signing import load_existing_key, load_or_create_key

    settings = settings_from(args)
    db = open_db(settings)
    try:
        if getattr(args, "keys_command", None) == "rotate":
            details = rotate(settings, db, cli_actor())
            out.print(
                f"rotated: key {details['old_key_id']} retired at {details['time']}; "
                f"new key {details['new_key_id']}",
                markup=False,
            )
            out.print(f"new fingerprint: {details['new_fingerprint']}", markup=False)
            out.print(
                "publish the new fingerprint (or `custodian keys --json`) where courts look for it",
                markup=False,
            )
            return 0
        current = load_existing_key(settings) or load_or_create_key(settings)
        db.call(ensure_registered, current)
        records = db.call(keyring, current)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"keys": [r.to_json() for r in records]}, ensure_ascii=False, indent=2))
        return 0
    for r in records:
        mark = "current" if r.current else "retired"
        out.print(
            f"{r.key_id}  SHA256:{r.fingerprint}  {r.valid_from or '—'} → "
            f"{r.valid_to or 'now'}  ({mark})",
            markup=False,
            soft_wrap=True,
        )
    return 0


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `keys` and `keys rotate`."""
    p = sub.add_parser("keys", help="signing-key fingerprints with validity windows; rotation")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the keys file to publish (for verify.py --trusted-key)",
    )
    common(p)
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    pr = ksub.add_parser(
        "rotate",
        help="replace the signing key (old public keys are kept "
        "with their validity windows; the change is ledgered)",
    )
    common(pr)
    p.set_defaults(func=cmd_keys)
    pr.set_defaults(func=cmd_keys)
