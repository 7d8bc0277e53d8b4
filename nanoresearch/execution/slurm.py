"""SLURM backend: sbatch a batch script, poll squeue/scontrol (sacct when accounting is
on), collect the job's logs and read metrics.json from the work dir.

The work dir must sit on a filesystem the compute node shares (always true on one
node). The batch script is always generated from one fixed template: it runs
`job_entry.py` from a private job directory beside the work dir, which runs the
experiment in the same bubblewrap + seccomp + cgroup profile as the sandbox backend
(SLURM's own --mem is not enforced under task/none; the run's cgroup is). A
`job.sbatch` in the code is ignored - it was written by a model and would run as the
SLURM user, root on one node. sbatch is called with a scrubbed environment; logs and the
nonce-marked status land in the job directory, out of the program's reach.
"""
from __future__ import annotations

import logging
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nanoresearch.errors import RunFailure, UserError
from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.env import minimal_env
from nanoresearch.execution.remote import new_nonce, parse_job_output, write_job_dir

log = logging.getLogger(__name__)
USER_SCRIPT = "job.sbatch"
GRACE_S = 120.0  # queueing and start-up on top of the run's own timeout
DONE_STATES = {"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL",
               "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


class SlurmExecutor(Executor):
    backend = "slurm"

    def __init__(self, limits: Limits | None = None, partition: str | None = None,
                 slurm_conf: str | None = None, poll_s: float = 1.0, python: str | None = None,
                 require_cgroup: bool = False):
        super().__init__(limits)
        self.require_cgroup = require_cgroup
        if shutil.which("sbatch") is None:
            raise UserError("execution.backend=slurm but sbatch is not installed: "
                            "`apt-get install slurm-wlm munge` (scripts/slurm_local.sh starts a "
                            "one-node cluster) or choose execution.backend=sandbox")
        self.partition = partition
        self.slurm_conf = slurm_conf or os.environ.get("SLURM_CONF")
        self.poll_s = poll_s
        self.python = python or os.path.realpath(sys.executable)

    # ------------------------------------------------------------------ commands
    def _env(self) -> dict[str, str]:
        env = minimal_env(home=str(Path.home()), threads=1, python_bin=self.python)
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        return env

    def _cmd(self, *args: str, check: bool = True, cwd: Path | None = None) -> str:
        proc = subprocess.run(list(args), capture_output=True, text=True, errors="replace", env=self._env(),
                              timeout=60, cwd=cwd)
        if check and proc.returncode != 0:
            raise RunFailure(f"`{' '.join(args[:3])}` failed: {proc.stderr.strip()[:500]}")
        return proc.stdout

    def _sbatch(self, job_dir: Path, script: Path, limits: Limits) -> str:
        minutes = max(1, math.ceil((limits.timeout_s + 60) / 60))
        args = ["sbatch", "--parsable", "--job-name=nanoresearch", f"--chdir={job_dir}",
                f"--output={job_dir}/slurm-%j.out", f"--error={job_dir}/slurm-%j.err",
                f"--cpus-per-task={limits.cpus}", f"--mem={limits.memory_mb}",
                f"--time={minutes}", "--export=ALL"]
        if self.partition:
            args.append(f"--partition={self.partition}")
        job_id = self._cmd(*args, str(script), cwd=job_dir).strip().split(";")[0]
        if not job_id.isdigit():
            raise RunFailure(f"sbatch returned no job id: {job_id!r}")
        return job_id

    # ------------------------------------------------------------------ run
    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        nonce = new_nonce()
        # beside the work dir (same shared filesystem), never inside it: the program must
        # not read the nonce, nor plant links where slurmd (root) writes the logs
        job_dir = write_job_dir(work_dir.parent / f".nr-slurm-{nonce[:12]}", str(work_dir),
                                entrypoint, limits, nonce, require_cgroup=self.require_cgroup)
        script = job_dir / "job.sh"
        script.write_text(batch_script(self.python, job_dir))
        t0 = time.monotonic()
        try:
            job_id = self._sbatch(job_dir, script, limits)
            log.info("submitted SLURM job %s (%s)", job_id, work_dir)
            state, rc, sig, waited_out = self._wait(job_id, limits.timeout_s + GRACE_S)
            out = _read(job_dir / f"slurm-{job_id}.out")
            err = _read(job_dir / f"slurm-{job_id}.err")
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        raw = parse_job_output(out, nonce)
        if err.strip():  # SLURM's own messages (the program's stderr is in `out`)
            raw.notes.append(f"slurm: {err.strip()[-1000:]}")
        if (work_dir / USER_SCRIPT).exists():
            raw.notes.append(f"{USER_SCRIPT} in the code was ignored: the batch script is generated")
        raw.state, raw.duration_s = state, raw.duration_s or time.monotonic() - t0
        return _apply_state(raw, state, rc, sig, waited_out, job_id)

    def _wait(self, job_id: str, deadline_s: float) -> tuple[str, int | None, int | None, bool]:
        t0 = time.monotonic()
        while True:
            state, rc, sig = self.job_state(job_id)
            if state in DONE_STATES:
                return state, rc, sig, False
            if time.monotonic() - t0 > deadline_s:
                self._cmd("scancel", job_id, check=False)
                time.sleep(2 * self.poll_s)
                state, rc, sig = self.job_state(job_id)
                return state, rc, sig, True
            time.sleep(self.poll_s)

    def job_state(self, job_id: str) -> tuple[str, int | None, int | None]:
        """(state, exit code, signal) from scontrol; sacct when the controller forgot it."""
        text = self._cmd("scontrol", "show", "job", "-o", job_id, check=False)
        m_state = re.search(r"JobState=(\w+)", text)
        m_exit = re.search(r"\bExitCode=(\d+):(\d+)", text)
        if not m_state:
            text = self._cmd("sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode",
                             check=False)
            parts = text.strip().splitlines()[0].split("|") if text.strip() else []
            if len(parts) == 2:
                m_state = re.match(r"(\w+)", parts[0])
                m_exit = re.match(r"(\d+):(\d+)", parts[1])
        if not m_state:
            return "UNKNOWN", None, None
        rc, sig = (int(m_exit.group(1)), int(m_exit.group(2))) if m_exit else (None, None)
        return m_state.group(1), rc, sig or None


def batch_script(python: str, job_dir: Path) -> str:
    """The only batch script this backend submits: a fixed template around job_entry.py
    (never the code's own job.sbatch, which a model wrote)."""
    return f"#!/bin/sh\nexec {shlex.quote(python)} -I {shlex.quote(str(job_dir / 'job_entry.py'))}\n"


def _read(path: Path, limit: int = 200_000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _apply_state(raw: RawRun, state: str, rc: int | None, sig: int | None, waited_out: bool,
                 job_id: str) -> RawRun:
    if waited_out or state in ("TIMEOUT", "DEADLINE"):
        raw.timed_out, raw.backend_error = True, None
    elif state == "OUT_OF_MEMORY":
        raw.limit_hit, raw.signal, raw.backend_error = "memory", 9, None
    elif state in ("NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "UNKNOWN"):
        raw.backend_error = f"SLURM job {job_id} ended in state {state}"
    elif state == "CANCELLED" and raw.exit_code is None:
        raw.signal, raw.backend_error = sig or 15, None
    if raw.exit_code is None and not raw.backend_error and rc is not None:
        raw.exit_code = rc
    return raw
