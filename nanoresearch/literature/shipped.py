"""The literature library that ships with the project, and how any library file is read.

The 100k-record arXiv ML corpus (CC0 metadata, 55 MB gzip) lives in `data/` as two parts
under 50 MB each plus a sha256 file, so every clone has literature without a download.
A library path names the joined file (`.../arxiv_ml.jsonl.gz`); when that file is absent
but its `.part<N>` files are present, the parts are streamed in order as one gzip stream
(never joined on disk) and checked against the sha256 file before the first index build.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO

from nanoresearch.errors import UserError

SHIPPED = Path(__file__).parent / "data" / "arxiv_ml.jsonl.gz"


def parts(path: Path) -> list[Path]:
    """`<name>.part1`, `<name>.part2`, ... in numeric order."""
    found = [p for p in path.parent.glob(path.name + ".part*") if p.name.rsplit("part", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.rsplit("part", 1)[1]))


def available(path: Path) -> bool:
    return path.is_file() or bool(parts(path))


class _Joined(io.RawIOBase):
    """Read several files back to back as one stream."""

    def __init__(self, files: list[Path]):
        self._files, self._fh = list(files), None

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while True:
            if self._fh is None:
                if not self._files:
                    return 0
                self._fh = open(self._files.pop(0), "rb")
            n = self._fh.readinto(buf)
            if n:
                return n
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        super().close()


def open_bytes(path: Path) -> BinaryIO:
    """The library's bytes: the file itself, or its parts joined in order."""
    if path.is_file():
        return open(path, "rb")
    if not parts(path):
        raise UserError(f"literature library {path} not found (nor its .part files)")
    return io.BufferedReader(_Joined(parts(path)), buffer_size=1 << 20)


def fingerprint(path: Path) -> str:
    """What identifies the library's content for the index cache key: a file's path,
    size and mtime; for parts, their checksum file (content-addressed, so every clone
    shares one cache key)."""
    if path.is_file():
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    sums = _sums_file(path)
    return sums.read_text() if sums.exists() else "|".join(f"{p.name}:{p.stat().st_size}" for p in parts(path))


def _sums_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verify(path: Path) -> None:
    """Check split parts against their sha256 file (a truncated clone, a merge that
    rewrote a part): raise a UserError that says how to repair. A single file is the
    user's own and is not checked."""
    if path.is_file():
        return
    sums = _sums_file(path)
    if not sums.exists():
        raise UserError(f"{sums} is missing: the split literature library cannot be verified; "
                        "restore it from the repository (git checkout -- nanoresearch/literature/data)")
    want = dict(reversed(line.split(maxsplit=1)) for line in sums.read_text().splitlines() if line.strip())
    whole = hashlib.sha256()
    for p in parts(path):
        data = p.read_bytes()
        whole.update(data)
        if want.get(p.name) not in (None, hashlib.sha256(data).hexdigest()):
            raise UserError(f"{p} does not match its sha256 in {sums.name}; the file is damaged. "
                            "Restore it from the repository (git checkout -- nanoresearch/literature/data)")
    if want.get(path.name) != whole.hexdigest():
        raise UserError(f"the parts of {path.name} do not join to the checksummed file "
                        f"(a part is missing or extra); restore nanoresearch/literature/data from the repository")
