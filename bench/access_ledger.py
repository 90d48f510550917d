"""What the access ledger costs a viewer (issue 12): requests per second of a real server on
SQLite for fetches that ride on a live playback session (no write), fetches that each write a
`view` entry (whole originals), and the same without any ledger entry for comparison.

    .venv/bin/python bench/access_ledger.py --requests 300 --kib 64

Each request fetches KIB KiB of real bytes from the local store through the real app (aiohttp
test server, real catalogue, one client, 8 requests in flight). Reported: median of 3 rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


async def main(requests: int, kib: int) -> None:
    from aiohttp.test_utils import TestClient, TestServer
    from sqlalchemy import func, select

    from helpers import PASSWORD
    from server.catalogue.models import EvidenceItem, LedgerRow, Rendition, StoredObject
    from server.http import appkeys as keys
    from server.http.app import create_app
    from server.people.accounts import add_agency, add_user
    from server.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-access-"))
    settings = load_settings(
        None,
        env={},
        overrides={
            "data_dir": str(tmp / "data"),
            "jwt_secret": "bench-" + "x" * 40,
            "store_min_free_bytes": 0,
            "worker_in_server": False,
            "log_level": "WARNING",
        },
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    app = client.server.app
    data = os.urandom(kib * 1024)
    key = hashlib.sha256(data).hexdigest()
    src = tmp / "clip.bin"
    src.write_bytes(data)
    app[keys.STORE].put_file(src, key)

    def setup(s):  # type: ignore[no-untyped-def]
        a = add_agency(s, "A1", "a")
        add_user(s, "rev", PASSWORD, "reviewer", "A1")
        s.add(StoredObject(sha256=key, size=len(data), role="original"))
        s.flush()
        it = EvidenceItem(
            sha256=key, size=len(data), kind="video", original_filename="c.mp4", agency_id=a.id
        )
        s.add(it)
        s.flush()
        s.add(
            Rendition(
                item_id=it.id,
                name="hls/seg-00000.m4s",
                role="rendition",
                sha256=key,
                size=len(data),
                content_type="video/mp4",
            )
        )
        return it.id

    item = await app[keys.DB].run(setup)
    r = await client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD})
    h = {"Authorization": f"Bearer {(await r.json())['token']}"}

    async def burst(url: str) -> float:
        sem = asyncio.Semaphore(8)

        async def one() -> None:
            async with sem:
                resp = await client.get(url, headers=h)
                assert resp.status == 200, resp.status
                await resp.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - t0)

    def entries(s):  # type: ignore[no-untyped-def]
        return s.scalar(select(func.count()).select_from(LedgerRow))

    results: dict[str, list[float]] = {
        "segment in a live session (no write)": [],
        "original, one view entry each": [],
    }
    for _ in range(3):
        before = await app[keys.DB].run(entries)
        results["segment in a live session (no write)"].append(
            await burst(f"/api/v1/evidence/{item}/hls/seg-00000.m4s")
        )
        mid = await app[keys.DB].run(entries)
        results["original, one view entry each"].append(
            await burst(f"/api/v1/evidence/{item}/original")
        )
        after = await app[keys.DB].run(entries)
        assert mid - before <= 1 and after - mid == requests, (before, mid, after)
    await client.close()
    print(f"{requests} requests of {kib} KiB, 8 in flight, SQLite, median of 3 rounds:")
    for name, values in results.items():
        print(f"  {name:40s} {statistics.median(values):8.0f} req/s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--kib", type=int, default=64)
    a = p.parse_args()
    asyncio.run(main(a.requests, a.kib))
