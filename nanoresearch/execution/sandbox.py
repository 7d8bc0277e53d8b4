"""The sandbox backend: the experiment runs on this machine inside `bubble.Bubble`.

The profile itself (bubblewrap namespaces and mounts, seccomp filter, cgroup, a fresh
uid as root, rlimits, watchdog) lives in bubble.py, shared with the Ray and SLURM entry
point so every backend contains a program the same way; this file adds the bounded
capture of its output and the `Executor` interface.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.execution import bubble
from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.bubble import UID_RANGE, command_for, python_roots  # noqa: F401
from nanoresearch.execution.live import output_buffers

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """None when bubblewrap can create the namespaces here, else why not (for `doctor`
    and for tests that must skip in containers that forbid namespaces)."""
    return bubble.sandbox_problem()


class SandboxExecutor(Executor):
    backend = "sandbox"

    def __init__(self, limits: Limits | None = None, extra_ro_binds: list[str] | None = None,
                 bwrap: str | None = None, python: str | None = None,
                 require_cgroup: bool = False):
        super().__init__(limits)
        self.bwrap = bwrap or shutil.which("bwrap")
        if self.bwrap is None:
            raise UserError("bubblewrap is not installed: `apt-get install bubblewrap` (the "
                            "unsafe execution.backend=local also needs "
                            "execution.allow_unsandboxed=true)")
        if os.geteuid() == 0 and shutil.which("setpriv") is None:
            raise UserError("setpriv not found (needed to drop root in the sandbox): "
                            "`apt-get install util-linux`")
        self.python = python or os.path.realpath(sys.executable)
        self.extra_ro_binds = extra_ro_binds
        self.require_cgroup = require_cgroup

    def bubble(self, limits: Limits) -> bubble.Bubble:
        return bubble.Bubble(limits.to_spec(), python=self.python, bwrap=self.bwrap,
                             extra_ro_binds=self.extra_ro_binds, require_cgroup=self.require_cgroup)

    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        try:
            o, out, err = self.bubble(limits).run_captured(work_dir, entrypoint, output_buffers())
        except (ValueError, RuntimeError) as e:
            raise UserError(str(e)) from None
        raw = RawRun(exit_code=o["returncode"], stdout=out, stderr=err,
                     duration_s=o["duration_s"], timed_out=o["timed_out"], signal=o["signal"],
                     limit_hit=o["limit_hit"], backend_error=o["backend_error"], notes=o["notes"])
        if raw.exit_code == 1 and raw.stderr.startswith("bwrap:"):
            raw.backend_error = f"bubblewrap failed: {raw.stderr.strip()[:500]}"
        return raw
