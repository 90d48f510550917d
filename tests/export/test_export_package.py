"""Sealed packages from the integrity layer: verify.py passes, bagit validates, tokens verify,
and every kind of tampering is reported precisely."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bagit
import pytest
from export_support import Built, run_verify

from integrity.package import (
    MAX_COMPONENT_BYTES,
    PackageFile,
    PackageSpec,
    check_relative_path,
    safe_component,
    unique_name,
    write_package,
)
from integrity.verify_package import verify_package


def flip(path: Path, offset: int = -1) -> None:
    """Change one byte of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_py_passes_on_folder_and_zip(sealed: Built) -> None:
    for target in (sealed.folder, sealed.zip_path):
        result = run_verify(target, trusted=sealed.fingerprint)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "VERDICT / 结论: VALID" in result.stdout
        assert "entries verified against the signed tree head" in result.stdout
    # The sealed verify.py itself, run from inside the unpacked package.
    inside = subprocess.run(
        ["python3", "verify.py", "--trusted-key", sealed.fingerprint],
        cwd=sealed.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert inside.returncode == 0, inside.stdout


def test_layout_and_bag_info(sealed: Built) -> None:
    root = sealed.folder
    for name in (
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha512.txt",
        "verify.py",
        "verify.html",
        "player.html",
    ):
        assert (root / name).is_file(), name
    for folder in ("originals", "clips", "manifests", "ledger", "report"):
        assert (root / "data" / folder).is_dir(), folder
    info = (root / "bag-info.txt").read_text("utf-8")
    assert "External-Identifier: exp1" in info
    assert "Payload-Oxum: " in info
    verifier_sha = hashlib.sha256((root / "verify.py").read_bytes()).hexdigest()
    assert f"Verifier-SHA256: {verifier_sha}" in info
    assert verifier_sha in (root / "tagmanifest-sha256.txt").read_text()
    # The ZIP is stored (not compressed), ZIP64, one top-level folder.
    with zipfile.ZipFile(sealed.zip_path) as zf:
        infos = zf.infolist()
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        assert {i.filename.split("/")[0] for i in infos} == {root.name}


def test_bagit_python_full_validation(sealed: Built) -> None:
    bag = bagit.Bag(str(sealed.folder))
    bag.validate(fast=False)
    assert bag.info["External-Identifier"] == "exp1"


def test_openssl_accepts_stored_tokens(sealed: Built) -> None:
    ledger = sealed.folder / "data" / "ledger"
    roots = ledger / "tsa-roots.pem"
    pairs = [(ledger / "tree-head.tsr", ledger / "tree-head.signed.json")]
    pairs += [
        (t, t.with_suffix(".json")) for t in (sealed.folder / "data" / "manifests").rglob("*.tsr")
    ]
    assert len(pairs) == 3
    for token, data in pairs:
        result = subprocess.run(
            [
                "openssl",
                "ts",
                "-verify",
                "-in",
                str(token),
                "-data",
                str(data),
                "-CAfile",
                str(roots),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    out = run_verify(sealed.folder).stdout
    assert "data/ledger/tree-head.tsr: RFC 3161 token verified by openssl" in out


TAMPERS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "original": (
        lambda b: flip(next((b / "data/originals").iterdir()), 1000),
        ["[checksum_mismatch] data/originals/01_执法记录仪1.mp4: sha256 is"],
    ),
    "clip": (
        lambda b: flip(b / "data/clips/clip-01.mp4", 5000),
        ["[checksum_mismatch] data/clips/clip-01.mp4: sha256 is"],
    ),
    "manifest": (
        lambda b: flip(b / "data/manifests/item2/v2.json", 40),
        [
            "data/manifests/item2/v2.json: sha256 is",
            "data/manifests/item2/v2.json: Ed25519 signature of manifest v2 of item item2 "
            "does not verify",
        ],
    ),
    "ledger_line": (
        lambda b: _edit_line(b / "data/ledger/entries.jsonl", 2),
        [
            "data/ledger/entries.jsonl: sha256 is",
            "data/ledger/entries.jsonl line 2 (ledger entry 2)",
        ],
    ),
    "report": (
        lambda b: flip(b / "data/report/custody-report.pdf", 3),
        ["[checksum_mismatch] data/report/custody-report.pdf: sha256 is"],
    ),
    "bag_info": (
        lambda b: _replace(b / "bag-info.txt", "A1 执法局", "A2 执法局"),
        ["[checksum_mismatch] bag-info.txt: sha256 is"],
    ),
    "removed": (
        lambda b: (b / "data/clips/clip-01.mp4").unlink(),
        ["[missing] data/clips/clip-01.mp4: listed in the manifests but missing"],
    ),
    "added": (
        lambda b: (b / "data/originals/extra.mp4").write_bytes(b"not sealed"),
        [
            "[unexpected] data/originals/extra.mp4: not in the bag manifests (file added "
            "after sealing)"
        ],
    ),
    "added_top": (
        lambda b: (b / "notes.txt").write_text("hi"),
        ["[unexpected] notes.txt: not in the tag manifests"],
    ),
}


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def _edit_line(path: Path, number: int) -> None:
    lines = path.read_bytes().split(b"\n")
    line = lines[number - 1]
    i = line.index(b'"actor":"user:1:x"') + len(b'"actor":"user:1:')
    lines[number - 1] = line[:i] + b"y" + line[i + 1 :]  # one byte of the actor changed
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampering_is_reported_precisely(case: str, fresh_copy: Callable[[], Path]) -> None:
    bag = fresh_copy()
    tamper, expected = TAMPERS[case]
    tamper(bag)
    result = run_verify(
        bag, verifier=Path(__file__).resolve().parents[2] / "integrity" / "verify_package.py"
    )
    assert result.returncode == 1, result.stdout
    assert "VERDICT / 结论: INVALID" in result.stdout
    for text in expected:
        assert text in result.stdout, (text, result.stdout)


def test_resealed_bag_is_still_caught(fresh_copy: Callable[[], Path]) -> None:
    """Someone changes an original and rebuilds every bag manifest with a BagIt tool: the bag
    is self-consistent again, but the signed ledger still pins the original's hash."""
    bag = fresh_copy()
    target = next((bag / "data/originals").iterdir())
    flip(target, 2000)
    for name in ("verify.py", "verify.html", "player.html"):
        (bag / name).rename(bag.parent / name)  # bagit-python's save() rewrites tag manifests
    b = bagit.Bag(str(bag))
    b.save(manifests=True)
    b.validate(fast=False)  # the bag alone now looks fine
    for name in ("verify.py", "verify.html", "player.html"):
        (bag.parent / name).rename(bag / name)
    result = run_verify(
        bag, verifier=Path(__file__).resolve().parents[2] / "integrity" / "verify_package.py"
    )
    assert result.returncode == 1
    assert f"data/originals/{target.name}: sha256 is" in result.stdout
    assert "the export ledger entry records" in result.stdout
    assert "is not in data/originals/ (removed or changed)" in result.stdout


def test_tampered_zip_member_is_reported(sealed: Built, tmp_path: Path) -> None:
    """A ZIP rebuilt with one changed member (as an editor would): named precisely."""
    out = tmp_path / "tampered.zip"
    with zipfile.ZipFile(sealed.zip_path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data/report/custody-report.json"):
                data = data.replace(b"2024", b"2025")
            dst.writestr(info, data)
    result = run_verify(out)
    assert result.returncode == 1
    assert "data/report/custody-report.json: sha256 is" in result.stdout


def test_wrong_trusted_key_is_exit_3(sealed: Built) -> None:
    assert verify_package(sealed.folder, trusted_keys=(sealed.key_id,)).valid
    report = verify_package(sealed.folder, trusted_keys=("0" * 16,))
    assert report.ok and not report.origin_established and report.exit_code == 3
    assert report.untrusted == [sealed.key_id]


def test_unreadable_package_exits_2(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    result = run_verify(tmp_path / "junk.zip")
    assert result.returncode == 2 and "not a readable ZIP" in result.stderr


def test_names_are_sanitised() -> None:
    assert safe_component("../../etc/passwd") == "_.._etc_passwd"
    assert safe_component("a/b\\c:d*?.mp4") == "a_b_c_d__.mp4"
    assert safe_component("CON.mp4") == "_CON.mp4"
    assert safe_component("e\u0301.mp4") == "\u00e9.mp4"  # NFC
    assert safe_component("100%.mp4") == "100_.mp4"
    long = safe_component("执" * 200 + ".mp4")
    assert long.endswith(".mp4") and len(long.encode()) <= MAX_COMPONENT_BYTES
    taken: set[str] = set()
    assert [unique_name(n, taken) for n in ("a.mp4", "A.mp4", "a.mp4")] == [
        "a.mp4",
        "A-2.mp4",
        "a-3.mp4",
    ]
    for bad in ("../x", "/abs", "a//b", "a/./b", "a\\b", "a/b%"):
        with pytest.raises(ValueError):
            check_relative_path(bad)
    with pytest.raises(ValueError):
        PackageFile("elsewhere/x.bin", b"")
    with pytest.raises(ValueError):
        PackageSpec("b", (), (PackageFile("report/a", b""), PackageFile("report/A", b"")))


def test_streaming_keeps_memory_bounded(tmp_path: Path) -> None:
    """64 MiB through the writer from a generator: Python allocations stay a few blocks."""

    def producer():  # type: ignore[no-untyped-def]
        block = b"\xab" * (1024 * 1024)
        for _ in range(64):
            yield block

    spec = PackageSpec(
        "mem",
        (("Source-Organization", "t"),),
        (PackageFile("originals/big.bin", producer),),
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    tracemalloc.start()
    with open(tmp_path / "p.zip", "wb") as out:
        result = write_package(spec, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.payload_oxum == f"{64 * 1024 * 1024}.1"
    assert peak < 16 * 1024 * 1024, peak
    assert result.archive_sha256 == hashlib.sha256((tmp_path / "p.zip").read_bytes()).hexdigest()
    shutil.rmtree(tmp_path)
