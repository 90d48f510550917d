"""The files of a sealed package, as the second judge (package_check.py) reads them: a bag folder
or a ZIP, names checked (no absolute paths, no "..", no control or look-alike characters), every
read bounded (tag files, lines, file count) so a hostile package is unreadable, never a hang."""

from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

TAG_LIMIT = 64 * 1024 * 1024
LINE_LIMIT = 1_000_000
FILE_LIMIT = 500_000
CHUNK = 1 << 20


class Unreadable(Exception):
    """The package cannot be judged (exit 2)."""


# -- the bag's files -------------------------------------------------------------------------
def _bad_name(name: str) -> bool:
    pieces = name.split("/")
    return (
        not name
        or name[0] == "/"
        or "\\" in name
        or "\0" in name
        or any(x in ("", ".", "..") for x in pieces)
    )


class _Files:
    """name (NFC, relative to the bag) -> size, and a way to read each; flaws found listing."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.flaws: list[str] = []
        self._seen_raw: set[str] = set()
        self._seen_nfc: set[str] = set()
        self._seen_fold: set[str] = set()

    def admit(self, raw: str) -> str | None:
        nfc = unicodedata.normalize("NFC", raw)
        if raw in self._seen_raw:
            self.flaws.append(f"duplicate {nfc}")
            return None
        self._seen_raw.add(raw)
        if nfc in self._seen_nfc:
            self.flaws.append(f"NFC collision {nfc}")
            return None
        if nfc.casefold() in self._seen_fold:
            self.flaws.append(f"case collision {nfc}")
            return None
        self._seen_nfc.add(nfc)
        self._seen_fold.add(nfc.casefold())
        return nfc

    def chunks(self, name: str) -> Iterator[bytes]:
        raise NotImplementedError

    def whole(self, name: str) -> bytes:
        if self.sizes[name] > TAG_LIMIT:
            raise Unreadable(f"{name} over the size limit")
        data = b"".join(self.chunks(name))
        if len(data) > TAG_LIMIT:
            raise Unreadable(f"{name} over the size limit")
        return data


class _Dir(_Files):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.raw: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            for name in list(dirnames):
                if os.path.islink(os.path.join(dirpath, name)):
                    dirnames.remove(name)
                    self.flaws.append(f"link {prefix}{name}")
            for name in filenames:
                mode = os.lstat(os.path.join(dirpath, name)).st_mode
                if not stat.S_ISREG(mode):
                    self.flaws.append(f"not a file {prefix}{name}")
                    continue
                key = self.admit(prefix + name)
                if key is not None:
                    self.sizes[key] = os.lstat(os.path.join(dirpath, name)).st_size
                    self.raw[key] = prefix + name
                    if len(self.sizes) > FILE_LIMIT:
                        raise Unreadable("too many files")

    def chunks(self, name: str) -> Iterator[bytes]:
        fd = os.open(self.root / self.raw[name], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError("not a regular file")
            while block := os.read(fd, CHUNK):
                yield block
        finally:
            os.close(fd)


class _Zip(_Files):
    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise Unreadable(str(exc)) from None
        infos = self.archive.infolist()
        if len(infos) > FILE_LIMIT:
            raise Unreadable("too many files")
        plain = {i.filename for i in infos if not i.is_dir()}
        roots = {
            n.split("/", 1)[0]
            for n in plain
            if "/" in n and f"{n.split('/', 1)[0]}/bagit.txt" in plain
        }
        if len(roots) != 1:
            raise Unreadable("not exactly one bag in the ZIP")
        (self.top,) = roots
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if _bad_name(name[:-1] if info.is_dir() else name):
                self.flaws.append(f"unsafe {name}")
                continue
            if info.is_dir():
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.create_system == 3 and kind and kind != stat.S_IFREG:
                self.flaws.append(f"not a file {name}")
                continue
            if info.flag_bits & 1:
                self.flaws.append(f"encrypted {name}")
                continue
            key = self.admit(name)
            if key is None:
                continue
            if key.startswith(self.top + "/"):
                rel = key[len(self.top) + 1 :]
                self.members[rel] = info
                self.sizes[rel] = info.file_size
            else:
                self.flaws.append(f"outside the bag {name}")

    def chunks(self, name: str) -> Iterator[bytes]:
        info = self.members[name]
        try:
            handle = self.archive.open(info)
        except (NotImplementedError, RuntimeError) as exc:
            raise Unreadable(str(exc)) from None
        total = 0
        with handle:
            while block := handle.read(CHUNK):
                total += len(block)
                if total > info.file_size:
                    raise zipfile.BadZipFile("longer than declared")
                yield block


def _open(path: Path) -> _Files:
    if path.is_dir():
        if (path / "bagit.txt").is_file():
            return _Dir(path)
        bags = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "bagit.txt").is_file()]
        if len(bags) == 1:
            return _Dir(bags[0])
        raise Unreadable("no bag here")
    if path.is_file():
        return _Zip(path)
    raise Unreadable("no such package")
