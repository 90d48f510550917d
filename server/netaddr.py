"""Client addresses behind trusted reverse proxies (X-Forwarded-For from those only)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from server.errors import SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(text: str) -> tuple[Network, ...]:
    """`127.0.0.1, 10.0.0.0/8` -> networks; a bad entry fails naming the setting."""
    nets: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"setting 'trusted_proxies': {part!r} is not an address or network"
            ) from None
    return tuple(nets)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(addr: str, nets: tuple[Network, ...]) -> bool:
    ip = _ip(addr)
    return ip is not None and any(ip in n for n in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: str) -> str:
    """The address a request came from. X-Forwarded-For is read right to left only while the
    hop that appended to it is a trusted proxy; the first untrusted hop is the client (so a
    client cannot choose its address by sending the header itself)."""
    peer = peer or "?"
    nets = parse_networks(trusted_proxies)
    if not nets or not forwarded_for or not _trusted(peer, nets):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    addr = peer
    for hop in reversed(hops):
        if _ip(hop) is None:
            return addr  # garbage: trust what we know so far
        addr = hop
        if not _trusted(hop, nets):
            return hop
    return addr
