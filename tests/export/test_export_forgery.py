"""The court's side, tried as a forger would (issue 13 points 1-3): a package signed by another
server's key, duplicate and colliding ZIP names, links and FIFOs in folder mode, size limits,
unlisted files. Each is run through the package's own verify.py in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from export_support import Built, build_package, run_verify

from integrity.signing import public_key_pem
from integrity.verify_package import MAX_TAG_FILE_BYTES, load_trusted_keys

VERIFIER = Path(__file__).resolve().parents[2] / "integrity" / "verify_package.py"


@pytest.fixture(scope="module")
def forged(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Built:
    """A second server, its own key, other footage under the same case number and names."""
    other = tmp_path_factory.mktemp("forger-media")
    for name in ("cam1.mp4", "cam2.mp4"):
        data = bytearray((media_dir / name).read_bytes())
        data[-10] ^= 0x55  # other footage
        (other / name).write_bytes(bytes(data))
    return build_package(tmp_path_factory.mktemp("forged"), other)


# -- 1. origin ---------------------------------------------------------------------------------
def test_another_servers_package_is_not_valid(sealed: Built, forged: Built) -> None:
    # Without a trusted key: integrity holds, origin not established: exit 3, fingerprint shown.
    r = run_verify(forged.zip_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "ORIGIN NOT ESTABLISHED" in r.stdout and "VERDICT / 结论: VALID" not in r.stdout
    assert f"SHA256:{forged.fingerprint}" in r.stdout and "--trusted-key" in r.stdout
    # With the agency's published fingerprint: the forger's package is refused (exit 3)...
    r = run_verify(forged.zip_path, trusted=sealed.fingerprint)
    assert r.returncode == 3 and "not among your --trusted-key" in r.stdout, r.stdout
    # ...and the agency's own package is VALID (exit 0).
    r = run_verify(sealed.zip_path, trusted=sealed.fingerprint)
    assert r.returncode == 0 and "来源已确认" in r.stdout, r.stdout
    # bag-info.txt carries the fingerprint for the clerk to compare.
    info = (sealed.folder / "bag-info.txt").read_text("utf-8")
    assert f"Signing-Key-Fingerprint: {sealed.fingerprint}" in info


def test_trusted_key_forms(sealed: Built, tmp_path: Path) -> None:
    keys = json.loads((sealed.folder / "data/ledger/keys.json").read_text())["keys"]
    raw_hex = keys[0]["public_key_hex"]
    pem = tmp_path / "agency.pem"
    pem.write_text(public_key_pem(raw_hex))
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(
        json.dumps({"items": [{"fingerprint": sealed.fingerprint, "public_key_hex": raw_hex}]})
    )
    listing = tmp_path / "fingerprints.txt"
    listing.write_text(f"# Lishui, filed with the Justice Bureau\nSHA256:{sealed.fingerprint}\n")
    for key in (sealed.fingerprint, sealed.key_id, raw_hex, pem, keys_file, listing):
        r = run_verify(sealed.folder, trusted=key)
        assert r.returncode == 0, (key, r.stdout[-500:], r.stderr)
    bad = run_verify(sealed.folder, trusted="not-a-key")
    assert bad.returncode == 2 and "--trusted-key" in bad.stderr


def test_trusted_window_excludes_a_head_signed_outside_it(sealed: Built, tmp_path: Path) -> None:
    """A keys file says the key was retired before the package's head was signed (a stolen
    retired key): INVALID, not VALID."""
    keys = json.loads((sealed.folder / "data/ledger/keys.json").read_text())["keys"]
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "public_key_hex": keys[0]["public_key_hex"],
                        "valid_from": "2020-01-01T00:00:00Z",
                        "valid_to": "2024-01-01T00:00:00Z",
                    }
                ]
            }
        )
    )
    r = run_verify(sealed.folder, trusted=keys_file)
    assert r.returncode == 1 and "[key_window]" in r.stdout, r.stdout


def test_python_api_keeps_integrity_and_origin_apart(sealed: Built) -> None:
    from integrity.verify_package import verify_package

    report = verify_package(sealed.folder)
    assert report.ok and not report.origin_established and report.exit_code == 3
    trusted = load_trusted_keys([sealed.fingerprint])
    assert verify_package(sealed.folder, trusted_keys=trusted).exit_code == 0


# -- 2. ZIP names ------------------------------------------------------------------------------
def _rezip(
    src: Path,
    out: Path,
    extra: Callable[[zipfile.ZipFile, zipfile.ZipFile], None],
    *,
    before: bool = True,
) -> None:
    import warnings

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is the point
        if before:
            extra(zin, zout)
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        if not before:
            extra(zin, zout)


def _member(zin: zipfile.ZipFile, suffix: str) -> zipfile.ZipInfo:
    return next(i for i in zin.infolist() if i.filename.endswith(suffix))


def test_duplicate_zip_entry_forged_first_is_invalid(sealed: Built, tmp_path: Path) -> None:
    out = tmp_path / "dup.zip"

    def forged_first(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        info = _member(zin, "data/originals/01_执法记录仪1.mp4")
        data = bytearray(zin.read(info))
        data[500] ^= 1
        zout.writestr(info.filename, bytes(data))

    _rezip(sealed.zip_path, out, forged_first)
    # What `unzip -n` would extract is the forged copy; the verifier must not say VALID.
    r = run_verify(out, trusted=sealed.fingerprint)
    assert r.returncode == 1 and "[duplicate_entry]" in r.stdout, r.stdout


@pytest.mark.parametrize("variant", ["nfd", "case"])
def test_colliding_zip_names_are_invalid(sealed: Built, tmp_path: Path, variant: str) -> None:
    out = tmp_path / f"{variant}.zip"

    def colliding(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        info = _member(zin, "data/report/custody-report.json")
        if variant == "nfd":
            # A name that is the same as an existing one after NFC: é as e + combining accent.
            name = info.filename.replace("custody-report.json", "custody-re\u0301port.json")
            target = info.filename.replace("custody-report.json", "custody-r\u00e9port.json")
            zout.writestr(target, b"x")
            zout.writestr(name, b"y")
            assert unicodedata.normalize("NFC", name) == target
        else:
            zout.writestr(info.filename.replace("custody-report", "CUSTODY-REPORT"), b"z")

    _rezip(sealed.zip_path, out, colliding, before=False)
    r = run_verify(out, trusted=sealed.fingerprint)
    assert r.returncode == 1 and "[name_collision]" in r.stdout, r.stdout


def test_zip_symlink_entry_is_invalid(sealed: Built, tmp_path: Path) -> None:
    out = tmp_path / "link.zip"

    def link(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        top = zin.infolist()[0].filename.split("/")[0]
        info = zipfile.ZipInfo(f"{top}/data/report/evil")
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        zout.writestr(info, "/etc/passwd")

    _rezip(sealed.zip_path, out, link, before=False)
    r = run_verify(out, trusted=sealed.fingerprint)
    assert r.returncode == 1 and "[not_regular]" in r.stdout, r.stdout


# -- 3. folder mode: links, FIFOs, size limits, unlisted files ----------------------------------
def _quick(bag: Path, trusted: str) -> subprocess.CompletedProcess[str]:
    """The verifier must answer promptly: a hang fails the test by timeout."""
    return subprocess.run(
        [sys.executable, str(bag / "verify.py"), str(bag), "--trusted-key", trusted],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fifo_in_place_of_a_payload_is_invalid_not_a_hang(
    sealed: Built, fresh_copy: Callable[[], Path]
) -> None:
    bag = fresh_copy()
    target = bag / "data/clips/clip-01.mp4"
    target.unlink()
    os.mkfifo(target)
    r = _quick(bag, sealed.fingerprint)
    assert (
        r.returncode == 1
        and "[not_regular] data/clips/clip-01.mp4: not a regular file (a FIFO)" in r.stdout
    )


@pytest.mark.parametrize("where", ["/dev/zero", "outside"])
def test_symlinked_payload_is_invalid(
    sealed: Built, fresh_copy: Callable[[], Path], tmp_path: Path, where: str
) -> None:
    bag = fresh_copy()
    target = bag / "data/clips/clip-01.mp4"
    if where == "outside":
        outside = tmp_path / "genuine-copy.mp4"
        shutil.copyfile(target, outside)  # the very same bytes, outside the bag
        where = str(outside)
    target.unlink()
    target.symlink_to(where)
    r = _quick(bag, sealed.fingerprint)
    assert r.returncode == 1 and "[not_regular] data/clips/clip-01.mp4: a symbolic link" in r.stdout


def test_tag_file_over_the_limit_is_unreadable(
    sealed: Built, fresh_copy: Callable[[], Path]
) -> None:
    bag = fresh_copy()
    with open(bag / "bag-info.txt", "r+b") as f:  # sparse: no real disk or time used
        f.truncate(MAX_TAG_FILE_BYTES + 1)
    r = _quick(bag, sealed.fingerprint)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "unreadable" in r.stderr and "bag-info.txt" in r.stderr
    assert "Traceback" not in r.stderr


def test_large_unlisted_file_is_rejected_before_hashing(
    sealed: Built, fresh_copy: Callable[[], Path]
) -> None:
    bag = fresh_copy()
    with open(bag / "data/originals/added.mp4", "wb") as f:
        f.truncate(64 * 1024**3)  # 64 GiB, sparse: hashing it would take minutes
    start = time.monotonic()
    r = _quick(bag, sealed.fingerprint)
    assert r.returncode == 1 and "[unexpected] data/originals/added.mp4" in r.stdout
    assert time.monotonic() - start < 30


def test_verify_package_cli_same_exit_codes(sealed: Built, forged: Built) -> None:
    custodian = str(Path(sys.executable).with_name("custodian"))
    for target, key, code in (
        (sealed.zip_path, sealed.fingerprint, 0),
        (forged.zip_path, sealed.fingerprint, 3),
        (forged.zip_path, None, 3),
    ):
        argv = [custodian, "verify-package", str(target), "--quiet"]
        if key:
            argv += ["--trusted-key", key]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert r.returncode == code, (target, r.stdout, r.stderr)


def test_trusted_tsa_establishes_origin(sealed: Built, local_tsa, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The package's tree-head token from a TSA the clerk trusts establishes origin; a root
    the clerk does not trust (or the package's own tsa-roots.pem copied by a forger) does not."""
    script = sealed.folder / "verify.py"

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), str(sealed.folder), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = run("--trusted-tsa", str(local_tsa.root_pem))
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr
    assert "RFC 3161 token of a TSA you trust" in r.stdout
    other = tmp_path / "other-root.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(other),
            "-subj",
            "/CN=Other TSA root",
            "-days",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    r = run("--trusted-tsa", str(other))
    assert r.returncode == 3 and "--trusted-tsa" in r.stdout, r.stdout[-1500:]
    # A trusted key that does not match still wins over the TSA: exit 3.
    r = run("--trusted-tsa", str(local_tsa.root_pem), "--trusted-key", "0" * 64)
    assert r.returncode == 3, r.stdout[-1500:]
    bad = run("--trusted-tsa", str(tmp_path / "k.pem"))
    assert bad.returncode == 2 and "not a PEM certificate" in bad.stderr


def test_package_after_rotation_verifies_with_the_keys_file(  # type: ignore[no-untyped-def]
    tmp_path: Path, media_dir: Path
) -> None:
    """Manifests signed by the old key, the head by the new one (issue 13 point 7): the agency's
    keys file (both keys, with windows) makes it VALID; the new fingerprint alone leaves the old
    key's signatures untrusted (exit 3); a head outside the new key's window is INVALID."""
    from integrity.signing import fingerprint, generate_key, key_id, public_key_hex

    old = generate_key()
    rotated = "2024-04-01T00:00:00Z"
    out = tmp_path / "p"
    out.mkdir()
    # build_package signs the head at 2024-05-01T08:30:00Z with a fresh key.
    built = build_package(out, media_dir, old_key=old, windows={key_id(old): (None, rotated)})
    keys = json.loads((built.folder / "data/ledger/keys.json").read_text())["keys"]
    assert {k["key_id"] for k in keys} == {key_id(old), built.key_id}
    agency = tmp_path / "agency-keys.json"
    agency.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "public_key_hex": public_key_hex(old),
                        "valid_from": None,
                        "valid_to": rotated,
                    },
                    {
                        "fingerprint": built.fingerprint,
                        "public_key_hex": next(
                            k["public_key_hex"] for k in keys if k["key_id"] == built.key_id
                        ),
                        "valid_from": rotated,
                        "valid_to": None,
                    },
                ]
            }
        )
    )
    r = run_verify(built.folder, trusted=agency)
    assert r.returncode == 0, r.stdout[-2000:]
    r = run_verify(built.folder, trusted=built.fingerprint)
    assert r.returncode == 3 and key_id(old) in r.stdout, r.stdout[-1500:]
    late = tmp_path / "late-keys.json"
    late.write_text(agency.read_text().replace(rotated, "2024-06-01T00:00:00Z"))
    r = run_verify(built.folder, trusted=late)
    assert r.returncode == 1 and "[key_window]" in r.stdout, r.stdout[-1500:]
    assert fingerprint(old) != built.fingerprint
