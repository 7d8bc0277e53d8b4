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
from nanoresearch.execution.bubble import drain
from nanoresearch.execution.live import output_buffers

log = logging.getLogger(__name__)


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
    out, err = output_buffers()  # the run's live tail (execution/live.py) watches them
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
