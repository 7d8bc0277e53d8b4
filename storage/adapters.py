"""Per-user, versioned planner LoRA adapters on local disk.

Layout: `<root>/<user_id>/v0003/` holds the adapter files plus `record.json` (an
AdapterVersion: checksum, parent version, metrics, status); `<root>/<user_id>/current`
names the version that is served. Publishing copies into a hidden temp dir, renames it
into place (atomic on one filesystem), then replaces `current` with os.replace, so a
reader sees either the old or the new version, never half of one. Paths are keyed by
user and `resolve()` checks the record's user id and checksum before anything is
loaded, so one user's adapter is never served to another.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nanoresearch.errors import RunFailure, UserError
from nanoresearch.ids import check_user_id
from nanoresearch.types import AdapterVersion
from nanoresearch.workspace import atomic_write_bytes

log = logging.getLogger(__name__)
RECORD = "record.json"
CURRENT = "current"
STAGING = ".staging"  # a user id starts with a letter or digit, so never collides
_STAGED_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class AdapterIntegrityError(RunFailure):
    """An adapter on disk does not match its record (tampered, truncated, or misfiled)."""


def checksum_dir(path: Path) -> str:
    """sha256 over every file's relative path and bytes (record.json excluded, since
    it stores the checksum itself)."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file() and p.name != RECORD):
        h.update(str(f.relative_to(path)).encode())
        h.update(b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def check_plain_tree(src: Path) -> None:
    """Refuse a directory that is, or holds, a symlink: copying would follow it and
    publish whatever file it points at (another user's adapter, a server secret)."""
    if src.is_symlink() or not src.is_dir():
        raise UserError(f"{src} is not a plain directory (symlinks are refused)")
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or not (p.is_dir() or p.is_file()):
                raise UserError(f"{p} is a symlink or special file; an adapter to publish "
                                "must hold regular files only")


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


class AdapterRegistry:
    """Versioned adapters per user. Thread-safe and process-safe (a flock per user)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ paths
    def user_dir(self, user_id: str) -> Path:
        return self.root / check_user_id(user_id)

    def version_dir(self, user_id: str, version: int) -> Path:
        return self.user_dir(user_id) / f"v{int(version):04d}"

    def staging_dir(self) -> Path:
        """Where an operator (or a trainer on another host) drops an adapter for the
        admin `publish` route: the only place that route publishes from."""
        d = self.root / STAGING
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    def staged(self, name: str) -> Path:
        """The staged adapter directory `name` (one path component, no symlinks)."""
        if not isinstance(name, str) or not _STAGED_RE.match(name):
            raise UserError(f"staged adapter name {name!r} is invalid: give the name of a "
                            f"directory inside {self.root / STAGING}, not a path")
        src = self.staging_dir() / name
        if not src.exists() and not src.is_symlink():
            raise UserError(f"no staged adapter {name!r} in {self.root / STAGING}")
        check_plain_tree(src)
        return src

    @contextmanager
    def _user_lock(self, user_id: str) -> Iterator[None]:
        udir = self.user_dir(user_id)
        udir.mkdir(parents=True, exist_ok=True)
        with self._lock, open(udir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ reads
    def list(self, user_id: str) -> list[AdapterVersion]:
        udir = self.user_dir(user_id)
        if not udir.exists():
            return []
        out = []
        for d in sorted(udir.glob("v[0-9]*")):
            if (d / RECORD).exists():
                out.append(AdapterVersion.model_validate_json((d / RECORD).read_text()))
        return out

    def get(self, user_id: str, version: int) -> AdapterVersion:
        rec = self.version_dir(user_id, version) / RECORD
        if not rec.exists():
            raise UserError(f"user {user_id!r} has no adapter version {version}; "
                            f"known: {[v.version for v in self.list(user_id)]}")
        return AdapterVersion.model_validate_json(rec.read_text())

    def current_version(self, user_id: str) -> int | None:
        """The served version number, or None (the user gets the base model)."""
        ptr = self.user_dir(user_id) / CURRENT
        try:
            text = ptr.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def current(self, user_id: str) -> AdapterVersion | None:
        v = self.current_version(user_id)
        return None if v is None else self.get(user_id, v)

    def resolve(self, user_id: str, version: int, verify: bool = True) -> Path:
        """The directory to load for (user, version), after checking that the record
        belongs to this user and the files match the checksum."""
        rec = self.get(user_id, version)
        path = self.version_dir(user_id, version)
        if rec.user_id != user_id or Path(rec.path).resolve() != path.resolve():
            raise AdapterIntegrityError(
                f"adapter {path} is recorded for user {rec.user_id!r}, not {user_id!r}; refusing to load it")
        if verify and checksum_dir(path) != rec.checksum:
            raise AdapterIntegrityError(
                f"adapter {path} does not match its sha256 checksum; republish it or roll back "
                f"(`rollback({user_id!r})`)")
        return path

    # ------------------------------------------------------------------ writes
    def publish(self, user_id: str, src_dir: str | Path, *, parent_version: int | None = None,
                base_model: str = "", metrics: dict[str, float] | None = None,
                make_current: bool = True) -> AdapterVersion:
        """Copy a trained adapter into the next version slot and (by default) serve it."""
        src = Path(src_dir)
        check_plain_tree(src)
        if not (src / "adapter_config.json").exists():
            raise UserError(f"{src} is not a saved peft adapter (no adapter_config.json)")
        with self._user_lock(user_id):
            udir = self.user_dir(user_id)
            version = max((v.version for v in self.list(user_id)), default=0) + 1
            tmp = Path(tempfile.mkdtemp(prefix=".publish-", dir=udir))
            try:
                shutil.copytree(src, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(RECORD))
                final = self.version_dir(user_id, version)
                rec = AdapterVersion(
                    user_id=user_id, version=version, path=str(final), checksum=checksum_dir(tmp),
                    parent_version=parent_version, base_model=base_model,
                    metrics={k: float(v) for k, v in (metrics or {}).items()},
                    status="published")
                _atomic_write(tmp / RECORD, rec.model_dump_json(indent=1))
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if make_current:
                _atomic_write(udir / CURRENT, str(version))
        log.info("published adapter %s v%d (parent %s)", user_id, version, parent_version)
        return rec

    def _set_status(self, user_id: str, version: int, status: str) -> AdapterVersion:
        rec = self.get(user_id, version).model_copy(update={"status": status})
        _atomic_write(self.version_dir(user_id, version) / RECORD, rec.model_dump_json(indent=1))
        return rec

    def rollback(self, user_id: str, to_version: int | None = None) -> AdapterVersion | None:
        """Serve an earlier version: `to_version`, else the current one's parent (None:
        back to the base model). The version rolled back from is marked retired."""
        with self._user_lock(user_id):
            cur = self.current_version(user_id)
            if cur is None:
                raise UserError(f"user {user_id!r} has no published adapter to roll back from")
            target = to_version if to_version is not None else self.get(user_id, cur).parent_version
            if target is not None:
                self.resolve(user_id, target)  # refuse to roll back onto a broken version
                self._set_status(user_id, target, "published")
            _atomic_write(self.user_dir(user_id) / CURRENT, "" if target is None else str(target))
            self._set_status(user_id, cur, "retired")
        log.info("rolled back adapter %s v%d -> %s", user_id, cur, target)
        return None if target is None else self.get(user_id, target)

    def set_current(self, user_id: str, version: int) -> AdapterVersion:
        """Serve a specific (verified) version, e.g. an admin pinning one."""
        with self._user_lock(user_id):
            self.resolve(user_id, version)
            rec = self._set_status(user_id, version, "published")
            _atomic_write(self.user_dir(user_id) / CURRENT, str(version))
        return rec

    def mark_failed(self, user_id: str, version: int) -> AdapterVersion:
        with self._user_lock(user_id):
            return self._set_status(user_id, version, "failed")
