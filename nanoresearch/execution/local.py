"""Plain-subprocess execution: NO CONTAINMENT. Unsafe for model-written code.

The program sees the host filesystem (other projects, the store, api_tokens.json), the
network (Ray's GCS, the store actor) and /proc, and runs as the same user. It gets
only the scrubbed environment, rlimits, the wall clock and the disk watchdog, which
keep an *honest* experiment from leaking keys or exhausting the machine, not a hostile
one. The factory refuses `execution.backend=local` unless
`execution.allow_unsandboxed: true` is set; tests build it directly for programs they
wrote themselves.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.env import minimal_env
from nanoresearch.execution.proc import prlimit_prefix, run_limited
from nanoresearch.execution.sandbox import command_for

log = logging.getLogger(__name__)


class LocalExecutor(Executor):
    backend = "local"

    def __init__(self, limits: Limits | None = None, python: str | None = None):
        super().__init__(limits)
        self.python = python or os.path.realpath(sys.executable)
        log.warning("local executor: experiments run WITHOUT a sandbox (host filesystem and "
                    "network visible); use execution.backend=sandbox where bubblewrap exists")

    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        with tempfile.TemporaryDirectory(prefix="nr-local-tmp-") as tmp:
            env = minimal_env(home=str(work_dir), tmp=tmp, python_bin=self.python)
            # as root RLIMIT_NPROC does not bind; otherwise leave room for the user's
            # processes that already exist
            nproc = limits.max_procs if os.geteuid() == 0 else limits.max_procs + 512
            cmd = prlimit_prefix(limits, nproc) + command_for(entrypoint, self.python)
            return run_limited(cmd, work_dir, env=env, limits=limits, watch_dir=work_dir)
