"""Login flood: how long a catalogue-only request (GET /api/v1/users) waits while N bad logins
run at once. Usage: python bench/login_flood.py [N] [HASH_THREADS]"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from helpers import PASSWORD, app_db  # noqa: E402
from server.http.app import create_app  # noqa: E402
from server.people.accounts import add_user  # noqa: E402
from server.settings import load_settings  # noqa: E402


async def main(n: int, threads: int) -> None:
    settings = load_settings(
        None,
        env={},
        overrides={
            "data_dir": tempfile.mkdtemp(),
            "jwt_secret": "bench-" + "x" * 40,
            "store_min_free_bytes": 0,
            "login_max_failures": 100_000,
            "login_hash_threads": threads,
            "login_hash_queue": 10_000,
        },
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        await app_db(client).run(add_user, "admin", PASSWORD, "admin")
        r = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        )
        auth = {"Authorization": "Bearer " + (await r.json())["token"]}

        async def probe() -> float:
            start = time.monotonic()
            assert (await client.get("/api/v1/users", headers=auth)).status == 200
            return time.monotonic() - start

        idle = max([await probe() for _ in range(5)])
        start = time.monotonic()
        flood = [
            asyncio.create_task(
                client.post(
                    "/api/v1/auth/login",
                    json={"username": f"nobody{i}", "password": "wrong password!"},
                )
            )
            for i in range(n)
        ]
        await asyncio.sleep(0.2)
        during = [await probe() for _ in range(10)]
        await asyncio.gather(*flood)
        print(
            f"{n} bad logins on {threads} hash threads: catalogue request idle {idle:.3f}s, "
            f"during the flood worst {max(during):.3f}s median {sorted(during)[5]:.3f}s; "
            f"flood done in {time.monotonic() - start:.1f}s"
        )
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 100,
            int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        )
    )
