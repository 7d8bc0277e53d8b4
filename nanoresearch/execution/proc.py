"""Running one limited process: rlimits, a wall clock, a disk watchdog, bounded output.

Limits are applied by the `prlimit` wrapper (util-linux) rather than a Python
`preexec_fn`, which is unsafe when the parent has threads (Ray, pytest, readers). The
child starts a new session so the wall clock can kill its whole process group; output
is read through pipes into bounded buffers, so a program that prints forever cannot
fill the host's disk or memory.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.execution.base import Limits, RawRun

log = logging.getLogger(__name__)
HEAD_BYTES, TAIL_BYTES = 8_000, 64_000
POLL_S, DISK_EVERY_S = 0.1, 0.5


class BoundedBuffer:
    """Keeps the first HEAD_BYTES and the last TAIL_BYTES of a stream."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > TAIL_BYTES:
            cut = len(self.tail) - TAIL_BYTES
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        mid = f"\n[... {self.dropped} bytes dropped ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + mid + bytes(self.tail)).decode("utf-8", errors="replace")


def _drain(stream, buf: BoundedBuffer) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        buf.feed(chunk)
    stream.close()


def prlimit_prefix(limits: Limits, nproc: int | None = None) -> list[str]:
    exe = shutil.which("prlimit")
    if exe is None:
        raise UserError("prlimit not found: `apt-get install util-linux`")
    cpu = limits.cpu_seconds()
    mem = limits.memory_mb * 1024 * 1024
    fsize = limits.disk_mb * 1024 * 1024
    return [exe, f"--as={mem}", f"--cpu={cpu}:{cpu + 5}", f"--fsize={fsize}", "--core=0",
            "--nofile=1024", f"--nproc={nproc or limits.max_procs}", "--"]


def dir_size(path: Path, cap_entries: int = 200_000) -> int:
    """Bytes used under `path` (not following symlinks); stops early on huge trees."""
    total, seen, stack = 0, 0, [str(path)]
    while stack and seen < cap_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    seen += 1
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_limited(cmd: list[str], cwd: Path, env: dict[str, str], limits: Limits,
                watch_dir: Path | None = None) -> RawRun:
    """Run `cmd` (already wrapped by prlimit/bwrap) and watch it until it ends."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True)
    except OSError as e:
        return RawRun(exit_code=None, backend_error=f"could not start {cmd[0]}: {e}")
    out, err = BoundedBuffer(), BoundedBuffer()
    readers = [threading.Thread(target=_drain, args=(s, b), daemon=True)
               for s, b in ((proc.stdout, out), (proc.stderr, err))]
    for r in readers:
        r.start()
    timed_out, limit_hit = _watch(proc, limits, watch_dir, t0)
    kill_group(proc)  # stragglers left in the group (the sandbox's pid ns dies with it)
    for r in readers:
        r.join(timeout=5)
    rc = proc.returncode
    sig = -rc if rc is not None and rc < 0 else None
    return RawRun(exit_code=rc, stdout=out.text(), stderr=err.text(),
                  duration_s=time.monotonic() - t0, timed_out=timed_out, signal=sig,
                  limit_hit=limit_hit)


def _watch(proc: subprocess.Popen, limits: Limits, watch_dir: Path | None,
           t0: float) -> tuple[bool, str | None]:
    base = dir_size(watch_dir) if watch_dir else 0
    quota = limits.disk_mb * 1024 * 1024
    next_disk = t0 + DISK_EVERY_S
    while True:
        try:
            proc.wait(timeout=POLL_S)
            return False, None
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now - t0 > limits.timeout_s:
            log.info("wall-clock timeout (%.0fs): killing process group %d",
                     limits.timeout_s, proc.pid)
            kill_group(proc)
            proc.wait()
            return True, None
        if watch_dir is not None and now >= next_disk:
            next_disk = now + DISK_EVERY_S
            if dir_size(watch_dir) - base > quota:
                log.info("disk quota (%d MB) exceeded in %s: killing", limits.disk_mb, watch_dir)
                kill_group(proc)
                proc.wait()
                return False, "disk"
