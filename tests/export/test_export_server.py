"""The export end to end: API job → package → verify.py, openssl, bagit, the report's font and
text; the CLI `custodian export` and `custodian verify-package` on tampered copies."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
from export_support import unpack

from helpers import add_evidence, app_db, app_store, bearer, make_clip

CUSTODIAN = str(Path(sys.executable).with_name("custodian"))
ROLE_USERS = {
    "station": "A1",
    "officer": "A1",
    "reviewer": "A1",
    "legal": "A1",
    "supervisor": None,
    "auditor": None,
    "admin": None,
}


async def _case_with_items(client, users, tmp_path):  # type: ignore[no-untyped-def]
    """A case of agency A1 with two linked videos and one clip in its basket."""
    db, store = app_db(client), app_store(client)
    one = make_clip(tmp_path / "DSJ_20240501_083000_执法仪.mp4", seconds=6)
    two = make_clip(tmp_path / "cctv.mp4", seconds=3, size="160x120", audio=False)
    ids = [await asyncio.to_thread(add_evidence, db, store, p) for p in (one, two)]
    h = bearer(users["legal"])
    r = await client.post(
        "/api/v1/cases",
        headers=h,
        json={
            "number": "丽综执罚〔2024〕001号",
            "title": "占道经营",
            "enforcement_type": "penalty",
            "procedure": "general",
        },
    )
    assert r.status == 201, await r.text()
    case = await r.json()
    for item_id in ids:
        r = await client.post(
            f"/api/v1/cases/{case['id']}/links",
            headers=h,
            json={"evidence_id": item_id, "stage": "investigation"},
        )
        assert r.status == 201, await r.text()
    r = await client.post(
        f"/api/v1/cases/{case['id']}/basket",
        headers=h,
        json={"evidence_id": ids[0], "in_s": 2.5, "out_s": 5.0, "name": "争执片段"},
    )
    assert r.status == 201, await r.text()
    return case, ids


async def test_export_over_the_api(make_client, make_settings, local_tsa, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tsa_url=local_tsa.url, tsa_roots_file=str(local_tsa.root_pem), job_poll_seconds=0.2
    )
    client = await make_client(settings)
    users = await _users(client)
    case, ids = await _case_with_items(client, users, tmp_path)
    h = bearer(users["legal"])
    # Only reviewer/legal/admin may export; an officer may not.
    r = await client.post(
        f"/api/v1/cases/{case['id']}/exports",
        headers=bearer(users["officer"]),
        json={"recipient": "x"},
    )
    assert r.status == 403
    r = await client.post(
        f"/api/v1/cases/{case['id']}/exports",
        headers=h,
        json={"recipient": "丽水市莲都区人民法院", "purpose": "行政诉讼举证", "watermark": True},
    )
    assert r.status == 202, await r.text()
    export = await r.json()
    for _ in range(300):
        r = await client.get(f"/api/v1/exports/{export['id']}", headers=h)
        status = await r.json()
        if status["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.2)
    assert status["state"] == "done", status
    assert status["summary"]["originals"] == 2 and status["summary"]["clips"] == 1
    assert status["summary"]["font_embedded"] and status["summary"]["timestamped"]
    r = await client.get(f"/api/v1/exports/{export['id']}/package", headers=h)
    assert r.status == 200
    zip_path = tmp_path / "package.zip"
    zip_path.write_bytes(await r.read())
    assert r.headers["X-Package-SHA256"] == status["package"]["sha256"]
    r = await client.get(f"/api/v1/cases/{case['id']}/exports", headers=h)
    assert [e["id"] for e in (await r.json())["items"]] == [export["id"]]

    # verify.py passes on the ZIP and on the unpacked folder with the server's published key;
    # without it, integrity holds but origin is not established (exit 3).
    r = await client.get("/api/v1/keys")
    fingerprint = (await r.json())["items"][0]["fingerprint"]
    folder = unpack(zip_path, tmp_path / "unpacked")
    assert f"Signing-Key-Fingerprint: {fingerprint}" in (folder / "bag-info.txt").read_text()
    for target, script in ((zip_path, folder / "verify.py"), (folder, folder / "verify.py")):
        result = subprocess.run(
            [sys.executable, str(script), str(target), "--trusted-key", fingerprint],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "VALID" in result.stdout
        result = subprocess.run(
            [sys.executable, str(script), str(target)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 3, result.stdout + result.stderr
        assert "ORIGIN NOT ESTABLISHED" in result.stdout and fingerprint in result.stdout
    # Layout: originals unchanged, a watermarked re-encoded clip naming its original.
    originals = sorted((folder / "data/originals").iterdir())
    assert len(originals) == 2 and "执法仪" in originals[0].name
    entries = [
        json.loads(x) for x in (folder / "data/ledger/entries.jsonl").read_text().splitlines()
    ]
    export_entry = [e for e in entries if e["entry"]["action"] == "export"][-1]
    clip = export_entry["details"]["clips"][0]
    assert clip["method"] == "reencode" and "丽水市莲都区人民法院" in clip["watermark"]
    assert clip["derived_from"] == export_entry["details"]["items"][0]["sha256"]
    assert export_entry["details"]["recipient"] == "丽水市莲都区人民法院"
    assert {e["entry"]["action"] for e in entries} >= {"link", "annotation", "export"}
    # bagit-python full validation.
    bagit.Bag(str(folder)).validate(fast=False)
    # openssl accepts the tree head's token.
    ledger = folder / "data/ledger"
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(ledger / "tree-head.tsr"),
            "-data",
            str(ledger / "tree-head.signed.json"),
            "-CAfile",
            str(ledger / "tsa-roots.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    # The Chinese report: an embedded font subset, and the Chinese text is there.
    pdf = folder / "data/report/custody-report.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "Noto" in line]
    assert cjk and all(line.split()[-5:-3] == ["yes", "yes"] for line in cjk), fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for phrase in (
        "视听资料证据监管链报告",
        "丽综执罚〔2024〕001号",
        "丽水市莲都区人民法院",
        "行政诉讼举证",
        "导出",
        originals[0].name[:10],
    ):
        assert phrase in text, phrase
    report = json.loads((folder / "data/report/custody-report.json").read_text())
    assert report["export"]["recipient"] == "丽水市莲都区人民法院"
    assert len(report["custody"]) == len(entries)
    await client.close()


async def _users(client):  # type: ignore[no-untyped-def]
    from helpers import PASSWORD
    from server.people.accounts import add_agency, add_user

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "丽水市综合行政执法局")
        for role, agency in ROLE_USERS.items():
            add_user(s, role, PASSWORD, role, agency)

    await app_db(client).run(setup)
    tokens = {}
    for name in ROLE_USERS:
        r = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        tokens[name] = (await r.json())["token"]
    return tokens


TAMPERS = {
    "original": lambda b: _flip(sorted((b / "data/originals").iterdir())[0], 3000),
    "clip": lambda b: _flip(next((b / "data/clips").iterdir()), 2000),
    "manifest": lambda b: _flip(sorted((b / "data/manifests").rglob("v1.json"))[0], 30),
    "ledger": lambda b: _flip(b / "data/ledger/entries.jsonl", 20),
    "report": lambda b: _flip(b / "data/report/custody-report.pdf", 500),
    "bag_info": lambda b: _flip(b / "bag-info.txt", 5),
    "removed": lambda b: next((b / "data/clips").iterdir()).unlink(),
    "added": lambda b: (b / "data/clips/extra.mp4").write_bytes(b"x"),
}
EXPECT = {
    "original": "data/originals/01_",
    "clip": "data/clips/01_",
    "manifest": "/v1.json: sha256 is",
    "ledger": "data/ledger/entries.jsonl line 1",
    "report": "data/report/custody-report.pdf: sha256",
    "bag_info": "bag-info.txt: sha256 is",
    "removed": "listed in the manifests but missing",
    "added": "data/clips/extra.mp4: not in the bag manifests",
}


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))


async def test_cli_export_and_verify_package(make_client, make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(worker_in_server=False)
    client = await make_client(settings)
    users = await _users(client)
    case, ids = await _case_with_items(client, users, tmp_path)
    out = tmp_path / "cli.zip"
    env = {**os.environ, "COLUMNS": "200"}
    argv = [
        CUSTODIAN,
        "export",
        case["number"],
        "--out",
        str(out),
        "--item",
        ids[0],
        "--recipient",
        "检察院",
        "--purpose",
        "审查",
        "--data",
        settings.data_dir,
    ]
    # Without an account the CLI refuses (it never records the OS user as the exporter).
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2 and "--credentials FILE is required" in result.stderr
    from helpers import PASSWORD

    creds = tmp_path / "legal.toml"
    creds.write_text(f'username = "legal"\npassword = "{PASSWORD}"\n', encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('username = "legal"\npassword = "nope-nope-nope"\n', encoding="utf-8")
    result = subprocess.run(
        [*argv, "--credentials", str(wrong)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 2 and "wrong username or password" in result.stderr
    result = subprocess.run(
        [*argv, "--credentials", str(creds)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sealed" in result.stdout and out.is_file()
    with zipfile.ZipFile(out) as zf:
        info = next(n for n in zf.namelist() if n.endswith("/bag-info.txt"))
        exporter = [ln for ln in zf.read(info).decode().splitlines() if ln.startswith("Exporter:")]
    assert exporter and exporter[0].split(": ", 1)[1].endswith(":legal"), exporter
    r = await client.get("/api/v1/keys")
    fingerprint = (await r.json())["items"][0]["fingerprint"]
    result = subprocess.run(
        [CUSTODIAN, "verify-package", str(out), "--trusted-key", fingerprint],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [CUSTODIAN, "verify-package", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    folder = unpack(out, tmp_path / "cli-unpacked")
    with zipfile.ZipFile(out) as zf:  # only the chosen item (its basket clip came with it)
        assert len([n for n in zf.namelist() if "/data/originals/" in n]) == 1
    # Each tampering reported precisely by `custodian verify-package` and by verify.py.
    for case_name, tamper in TAMPERS.items():
        copy = tmp_path / f"t-{case_name}" / folder.name
        shutil.copytree(folder, copy)
        tamper(copy)
        for argv in (
            [CUSTODIAN, "verify-package", str(copy)],
            [sys.executable, str(folder / "verify.py"), str(copy)],
        ):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
            assert r.returncode == 1, (case_name, argv[0], r.stdout)
            assert "INVALID" in r.stdout and EXPECT[case_name] in r.stdout, (case_name, r.stdout)
    # Bad input: one clear line, non-zero.
    r = subprocess.run(
        [
            CUSTODIAN,
            "export",
            "no-such-case",
            "--out",
            str(tmp_path / "x.zip"),
            "--credentials",
            str(creds),
            "--data",
            settings.data_dir,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 2 and "no case" in r.stderr
    await client.close()
