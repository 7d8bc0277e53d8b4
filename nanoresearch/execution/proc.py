"""Running one limited process (the unsafe `local` backend): rlimits, a wall clock, the
work dir's disk watchdog, bounded output.

Limits are applied by the `prlimit` wrapper (util-linux) rather than a Python
`preexec_fn`, which is unsafe when the parent has threads (Ray, pytest, readers). The
child starts a new session so the wall clock can kill its whole process group; output
is read through pipes into bounded buffers, so a program that prints forever cannot
fill the host's disk or memory.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.execution import bubble
from nanoresearch.execution.base import Limits, RawRun

log = logging.getLogger(__name__)
HEAD_BYTES, TAIL_BYTES = 8_000, 64_000


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


def drain(stream, buf: BoundedBuffer) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        buf.feed(chunk)
    stream.close()


def prlimit_prefix(limits: Limits, nproc: int | None = None) -> list[str]:
    try:
        return bubble.prlimit_prefix(limits.to_spec(), nproc or limits.max_procs)
    except RuntimeError as e:
        raise UserError(str(e)) from None


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
    readers = [threading.Thread(target=drain, args=(s, b), daemon=True)
               for s, b in ((proc.stdout, out), (proc.stderr, err))]
    for r in readers:
        r.start()
    timed_out, limit_hit, notes = bubble.watch(proc, limits.to_spec(), watch_dir or cwd, t0,
                                                lambda: kill_group(proc))
    kill_group(proc)  # stragglers left in the group
    for r in readers:
        r.join(timeout=5)
    rc = proc.returncode
    sig = -rc if rc is not None and rc < 0 else None
    return RawRun(exit_code=rc, stdout=out.text(), stderr=err.text(),
                  duration_s=time.monotonic() - t0, timed_out=timed_out, signal=sig,
                  limit_hit=limit_hit, notes=notes)
