"""Writing code into a work dir that earlier runs have used (L7).

A run may leave symlinks behind - `run.sh -> /etc/cron.d/x`, `data -> /` - and the
coding agent rewrites the same dir on the next attempt, outside any sandbox. Every write
here walks the path one component at a time with O_NOFOLLOW relative to the previous
directory's fd: a planted link is removed and replaced by a real file or directory,
never followed; chmod goes through the open fd. (The experiment is not running while
code is written, so nothing races these checks.)
"""
from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from nanoresearch.errors import UserError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _parts(rel: str) -> list[str]:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise UserError(f"code file {rel!r} must be a relative path inside the work dir")
    return list(p.parts)


def _open_dir(parent_fd: int, name: str) -> int:
    """The real directory `name` under parent_fd, replacing a link or file planted there."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=parent_fd)
            raise FileNotFoundError
    except FileNotFoundError:
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def write_file(work_dir: Path, rel: str, content: str, mode: int | None = None) -> Path:
    """Write `content` to work_dir/rel without following any link on the way."""
    *dirs, leaf = _parts(rel)
    fd = os.open(str(work_dir), _DIR_FLAGS)
    try:
        for d in dirs:
            nxt = _open_dir(fd, d)
            os.close(fd)
            fd = nxt
        try:
            if stat.S_ISLNK(os.stat(leaf, dir_fd=fd, follow_symlinks=False).st_mode):
                os.unlink(leaf, dir_fd=fd)
        except FileNotFoundError:
            pass
        out = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o644, dir_fd=fd)
        with os.fdopen(out, "w", encoding="utf-8") as f:
            f.write(content)
            if mode is not None:
                os.fchmod(f.fileno(), mode)
    finally:
        os.close(fd)
    return Path(work_dir) / rel


def write_files(work_dir: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> None:
    """All of `files` (relative path -> text); names in `executable` get mode 0755."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        write_file(Path(work_dir), rel, content, 0o755 if rel in executable else None)
