"""Ledger over HTTP: pages, signed tree heads, and inclusion and consistency proofs that check
out with a verifier written here from RFC 9162 §2.1.3.2 and §2.1.4.2 alone (not our code)."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from helpers import app_db, bearer
from server.custody.ledger import append


# -- an independent verifier, from the RFC text ------------------------------------------------
def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_verify_inclusion(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h_node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = h_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h_node(c, fr)
            sr = h_node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h_node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_head_signature(head: dict, public_hex: str) -> None:
    signed = canonical(
        {
            "format": "custodian.tree-head/1",
            "size": head["size"],
            "root": head["root"],
            "time": head["time"],
            "key_id": head["key_id"],
        }
    )
    assert base64.b64decode(head["signed_bytes_b64"]) == signed
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
        base64.b64decode(head["signature"]), signed
    )  # raises if forged


async def add_entries(client, n: int) -> None:  # type: ignore[no-untyped-def]
    def go(s):  # type: ignore[no-untyped-def]
        for i in range(n):
            append(
                s,
                actor="user:1:test",
                action="view",
                subject=f"evidence:{i % 3}",
                details={"i": i, "名": "查看"},
            )

    await app_db(client).run(go)


# -- tests -------------------------------------------------------------------------------------
async def test_keys_are_public(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/keys")
    assert r.status == 200
    (key,) = (await r.json())["items"]
    raw = bytes.fromhex(key["public_key_hex"])
    assert key["algorithm"] == "Ed25519" and len(raw) == 32
    assert key["key_id"] == hashlib.sha256(raw).hexdigest()[:16]
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_ledger_pages(client, users) -> None:  # type: ignore[no-untyped-def]
    await add_entries(client, 25)
    h = bearer(users["auditor"])
    r = await client.get("/api/v1/ledger?limit=10", headers=h)
    page = await r.json()
    assert [e["seq"] for e in page["items"]] == list(range(1, 11)) and page["next"] == "11"
    r = await client.get(f"/api/v1/ledger?from={page['next']}&to=22&limit=10", headers=h)
    page = await r.json()
    assert [e["seq"] for e in page["items"]] == list(range(11, 21)) and page["next"] == "21"
    r = await client.get("/api/v1/ledger?from=21&to=22", headers=h)
    page = await r.json()
    assert [e["seq"] for e in page["items"]] == [21, 22] and page["next"] is None
    entry = page["items"][0]
    assert entry["details"] == {"i": 20, "名": "查看"} and len(entry["prev_hash"]) == 64
    r = await client.get("/api/v1/ledger?from=abc", headers=h)
    assert r.status == 400 and (await r.json())["code"] == "bad_query"


async def test_inclusion_and_consistency_proofs_verify_independently(client, users) -> None:  # type: ignore[no-untyped-def]
    h = bearer(users["auditor"])
    public_hex = (await (await client.get("/api/v1/keys")).json())["items"][0]["public_key_hex"]
    heads = []
    for batch in (1, 4, 2, 9, 5):  # heads at sizes 1, 5, 7, 16, 21
        await add_entries(client, batch)
        r = await client.post("/api/v1/ledger/tree-heads", headers=h)
        assert r.status == 201, await r.text()
        head = await r.json()
        check_head_signature(head, public_hex)
        assert head["time_source"] == "server clock" and head["tsa_token"] is None
        heads.append(head)
    assert [hd["size"] for hd in heads] == [1, 5, 7, 16, 21]
    listed = await (await client.get("/api/v1/ledger/tree-heads", headers=h)).json()
    assert [hd["size"] for hd in listed["items"]] == [21, 16, 7, 5, 1]

    # Inclusion: every entry against the newest head, and some against older heads.
    for seq in range(1, 22):
        r = await client.get(f"/api/v1/ledger/{seq}/proof", headers=h)
        assert r.status == 200, await r.text()
        p = await r.json()
        entry = {
            k: p["entry"][k]
            for k in ("seq", "time", "actor", "action", "subject", "details_hash", "prev_hash")
        }
        # The leaf is recomputed from the entry itself, and its details from the details.
        assert hashlib.sha256(canonical(p["entry"]["details"])).hexdigest() == entry["details_hash"]
        leaf = h_leaf(canonical(entry))
        assert leaf.hex() == p["leaf_hash"]
        head = p["tree_head"]
        assert head["size"] == 21
        check_head_signature(head, public_hex)
        assert rfc_verify_inclusion(
            seq - 1,
            head["size"],
            leaf,
            [bytes.fromhex(x) for x in p["proof"]],
            bytes.fromhex(head["root"]),
        )
        # A wrong leaf does not verify.
        assert not rfc_verify_inclusion(
            seq - 1,
            head["size"],
            h_leaf(b"forged"),
            [bytes.fromhex(x) for x in p["proof"]],
            bytes.fromhex(head["root"]),
        )
    for size in (5, 7, 16):
        for seq in (1, size // 2 + 1, size):
            r = await client.get(f"/api/v1/ledger/{seq}/proof?tree_size={size}", headers=h)
            p = await r.json()
            assert p["tree_head"]["size"] == size
            assert rfc_verify_inclusion(
                seq - 1,
                size,
                bytes.fromhex(p["leaf_hash"]),
                [bytes.fromhex(x) for x in p["proof"]],
                bytes.fromhex(p["tree_head"]["root"]),
            )

    # Consistency between every pair of signed heads, roots taken from the signed heads.
    by_size = {hd["size"]: hd for hd in heads}
    for a in by_size:
        for b in by_size:
            if a > b:
                continue
            r = await client.get(f"/api/v1/ledger/consistency?first={a}&second={b}", headers=h)
            assert r.status == 200, await r.text()
            c = await r.json()
            assert c["first_head"]["root"] == by_size[a]["root"]
            assert rfc_verify_consistency(
                a,
                b,
                bytes.fromhex(by_size[a]["root"]),
                bytes.fromhex(by_size[b]["root"]),
                [bytes.fromhex(x) for x in c["proof"]],
            )
            if a < b:
                assert not rfc_verify_consistency(
                    a,
                    b,
                    hashlib.sha256(b"x").digest(),
                    bytes.fromhex(by_size[b]["root"]),
                    [bytes.fromhex(x) for x in c["proof"]],
                )
    # Default second = newest signed head.
    c = await (await client.get("/api/v1/ledger/consistency?first=7", headers=h)).json()
    assert c["second"] == 21


async def test_proof_of_an_entry_newer_than_every_head_signs_a_new_head(client, users) -> None:  # type: ignore[no-untyped-def]
    h = bearer(users["supervisor"])
    await add_entries(client, 3)
    r = await client.get("/api/v1/ledger/3/proof", headers=h)
    assert r.status == 200 and (await r.json())["tree_size"] == 3
    r = await client.get("/api/v1/ledger/4/proof", headers=h)
    assert r.status == 404 and (await r.json())["code"] == "not_found"
    r = await client.get("/api/v1/ledger/1/proof?tree_size=2", headers=h)
    assert r.status == 404


async def test_tampered_ledger_gets_no_new_head_and_no_proof(client, users) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    h = bearer(users["admin"])
    await add_entries(client, 6)
    assert (await client.post("/api/v1/ledger/tree-heads", headers=h)).status == 201
    with app_db(client).engine.begin() as conn:
        conn.execute(text("UPDATE ledger SET actor = 'user:0:nobody' WHERE seq = 2"))
    r = await client.post("/api/v1/ledger/tree-heads", headers=h)
    body = await r.json()
    assert r.status == 409 and body["code"] == "ledger_altered"
    assert "entries 1..6 no longer give the root signed at" in body["error"]
    r = await client.get("/api/v1/ledger/1/proof", headers=h)
    assert r.status == 409 and (await r.json())["code"] == "ledger_altered"
