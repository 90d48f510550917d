"""Differential test (issue 13 point 2): packages damaged at random, sometimes re-sealed as a
forger with a BagIt tool would, are judged the same by the stdlib-only verify.py and by the
integrity package's own judge (integrity.package_check). The two share no code, so a
divergence (say, in NFC handling) shows up as a disagreement."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest
from export_support import Built, build_package
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrity import package_check
from integrity.verify_package import (
    PackageUnreadable,
    TrustedKey,
    verify_package,
)

NAMES = [
    "x.bin",
    "X.BIN",
    "caf\u00e9.txt",
    "cafe\u0301.txt",
    "Verify.py",
    "tagmanifest-x.txt",
    "CLIP-01.MP4",
    "v1.json",
    "entries.JSONL",
    "bag-info.txt",
]
DIRS = [
    "",
    "data/",
    "data/originals/",
    "data/clips/",
    "data/ledger/",
    "data/manifests/item1/",
    "extra/",
]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Built:
    """A package without RFC 3161 tokens (those are judged by openssl in verify.py only)."""
    return build_package(tmp_path_factory.mktemp("plain"), media_dir)


def _files(bag: Path) -> list[Path]:
    out = []
    for dirpath, _dirs, names in os.walk(bag):
        for name in names:
            out.append(Path(dirpath, name))
    return sorted(out)


def _apply(bag: Path, op: tuple, outside: Path) -> None:  # type: ignore[type-arg]
    kind = op[0]
    files = [f for f in _files(bag) if not f.is_symlink() and f.is_file()]
    if not files:
        return
    if kind == "flip":
        _, n, where, xor = op
        f = files[n % len(files)]
        data = bytearray(f.read_bytes())
        if data:
            data[int(where * (len(data) - 1))] ^= xor
            f.write_bytes(bytes(data))
    elif kind == "delete":
        files[op[1] % len(files)].unlink()
    elif kind == "add":
        _, folder, name, content = op
        target = bag / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(content)
    elif kind == "twin":
        # Two names that are one after NFC normalisation or case folding, side by side.
        _, folder, name, how = op
        twin = unicodedata.normalize("NFD", name) if how == "nfd" else name.swapcase()
        for n, each in enumerate((name, twin)):
            target = bag / folder / each
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_bytes(b"twin %d" % n)
    elif kind == "variant":
        _, n, how = op
        f = files[n % len(files)]
        new = f.name.upper() if how == "upper" else unicodedata.normalize("NFD", f.name)
        if new != f.name and not (f.parent / new).exists():
            shutil.copyfile(f, f.parent / new)
    elif kind == "link":
        f = files[op[1] % len(files)]
        copy = outside / hashlib.sha256(str(f).encode()).hexdigest()
        shutil.copyfile(f, copy)
        f.unlink()
        f.symlink_to(copy)
    elif kind == "fifo":
        f = files[op[1] % len(files)]
        f.unlink()
        os.mkfifo(f)


def _put(path: Path, text: str) -> None:
    """Write a file, first removing a link or FIFO in its place (never opening one)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        path.unlink()
    path.write_text(text, "utf-8")


def _reseal(bag: Path) -> None:
    """What a forger with a BagIt tool does after editing: new manifests and Payload-Oxum."""

    def regular(p: Path) -> bool:
        return p.is_file() and not p.is_symlink()

    payload = [f for f in _files(bag) if regular(f) and f.relative_to(bag).parts[0] == "data"]
    for alg in ("sha256", "sha512"):
        lines = [
            f"{hashlib.new(alg, f.read_bytes()).hexdigest()} {f.relative_to(bag).as_posix()}"
            for f in payload
        ]
        _put(bag / f"manifest-{alg}.txt", "".join(x + "\n" for x in lines))
    info = bag / "bag-info.txt"
    if regular(info):
        oxum = f"{sum(f.stat().st_size for f in payload)}.{len(payload)}"
        text = info.read_bytes().decode("utf-8", "replace")
        lines = [
            f"Payload-Oxum: {oxum}" if ln.startswith("Payload-Oxum:") else ln
            for ln in text.splitlines()
        ]
        info.write_text("\n".join(lines) + "\n", "utf-8")
    tags = [f for f in bag.iterdir() if regular(f) and not f.name.startswith("tagmanifest-")]
    for alg in ("sha256", "sha512"):
        lines = [f"{hashlib.new(alg, f.read_bytes()).hexdigest()} {f.name}" for f in sorted(tags)]
        _put(bag / f"tagmanifest-{alg}.txt", "".join(x + "\n" for x in lines))


def _zip(bag: Path, out: Path, dup: int | None) -> None:
    files = [f for f in _files(bag) if f.is_file() and not f.is_symlink()]
    with zipfile.ZipFile(out, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dup is not None and files:
            f = files[dup % len(files)]
            zf.writestr(f"{bag.name}/{f.relative_to(bag).as_posix()}", f.read_bytes() + b"!")
        for f in files:
            zf.write(f, f"{bag.name}/{f.relative_to(bag).as_posix()}")


def _verify_py(target: Path, trusted: list[str]) -> int:
    try:
        keys = [TrustedKey(fp, None) for fp in trusted]
        return verify_package(target, trusted_keys=keys).exit_code
    except (PackageUnreadable, OSError):
        return 2


OPS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 999), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 999)),
    st.tuples(
        st.just("add"), st.sampled_from(DIRS), st.sampled_from(NAMES), st.binary(max_size=64)
    ),
    st.tuples(st.just("variant"), st.integers(0, 999), st.sampled_from(["upper", "nfd"])),
    st.tuples(
        st.just("twin"),
        st.sampled_from(DIRS),
        st.sampled_from(NAMES),
        st.sampled_from(["nfd", "case"]),
    ),
    st.tuples(st.just("link"), st.integers(0, 999)),
    st.tuples(st.just("fifo"), st.integers(0, 999)),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(OPS, max_size=3),
    reseal=st.booleans(),
    mode=st.sampled_from(["folder", "zip", "zip_dup"]),
    dup=st.integers(0, 999),
    trust=st.sampled_from(["none", "right", "wrong"]),
)
def test_verify_py_and_integrity_agree(  # type: ignore[no-untyped-def]
    plain: Built, ops, reseal, mode, dup, trust
) -> None:
    trusted = {"none": [], "right": [plain.fingerprint], "wrong": ["0" * 64]}[trust]
    with tempfile.TemporaryDirectory(prefix="diff-") as tmp:
        work = Path(tmp)
        bag = work / plain.folder.name
        shutil.copytree(plain.folder, bag)
        outside = work / "outside"
        outside.mkdir()
        for op in ops:
            if mode != "folder" and op[0] in ("link", "fifo"):
                continue  # links and FIFOs do not travel in our ZIPs
            _apply(bag, op, outside)
        if reseal:
            _reseal(bag)
        target = bag
        if mode != "folder":
            target = work / "p.zip"
            _zip(bag, target, dup if mode == "zip_dup" else None)
        expected = package_check.exit_code(target, [package_check.Trust(fp) for fp in trusted])
        found = _verify_py(target, trusted)
        assert found == expected, (ops, reseal, mode, trust, found, expected)


def test_the_judges_agree_on_the_untouched_package(plain: Built) -> None:
    for trusted, code in (([], 3), ([plain.fingerprint], 0), (["1" * 64], 3)):
        assert (
            package_check.exit_code(plain.folder, [package_check.Trust(f) for f in trusted]) == code
        )
        assert _verify_py(plain.folder, trusted) == code
        assert _verify_py(plain.zip_path, trusted) == code
