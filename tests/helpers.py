"""Small helpers tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
from typing import Any

PASSWORD = "correct horse battery"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_db(client: Any) -> Any:
    """The Database of a running test app."""
    from server import keys

    return client.server.app[keys.DB]


def app_store(client: Any) -> Any:
    from server import keys

    return client.server.app[keys.STORE]
