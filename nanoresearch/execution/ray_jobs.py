"""Ray job backend: runs an experiment as a Ray job on a (possibly remote) cluster.

A job directory (job_entry.py, the containment profile bubble.py, the spec, and a copy
of the work dir's regular files under work/) is uploaded as the job's
`runtime_env.working_dir`; on the node job_entry.py runs the experiment inside the same
bubblewrap + seccomp + cgroup profile as the sandbox backend (no network, so not Ray's
GCS or the store either; no environment, no $HOME). The entrypoint reserves
`limits.cpus` CPUs. Results come back two ways: output, stderr and metrics.json are
printed between nonce-carrying markers into the job's logs (always works), and when the
driver's work dir is reachable from the node - same machine or shared filesystem - the
files the run wrote are copied there. No variable is put into the runtime_env (it shows
in the dashboard), and a secret-looking one would be refused.
Needs the Ray dashboard (job server), e.g. `ray start --head --include-dashboard=true`.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

from ray.job_submission import JobStatus, JobSubmissionClient

from nanoresearch.agents import NODE_SLIVER
from nanoresearch.errors import ServiceUnavailable, UserError
from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.env import safe_env_vars
from nanoresearch.execution.remote import (copy_regular_files, new_nonce, parse_job_output,
                                            write_job_dir)

log = logging.getLogger(__name__)
TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}
STARTUP_GRACE_S = 120.0  # runtime_env upload and driver start, on top of the run's timeout


def find_auth_token() -> str | None:
    """Ray >= 2.59 turns token auth on for local clusters: the job server then wants the
    token as a bearer header. Same lookup order as Ray: env, env path, ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class RayJobExecutor(Executor):
    backend = "ray"

    def __init__(self, limits: Limits | None = None, address: str | None = None,
                 poll_s: float = 0.5, client: JobSubmissionClient | None = None,
                 auth_token: str | None = None, require_cgroup: bool = False,
                 node_resource: str | None = None):
        super().__init__(limits)
        # the custom resource that marks agent nodes (cluster.agent_node_resource): a sliver
        # of it keeps experiments off the planner/trainer GPU nodes' spare CPUs
        self.node_resource = node_resource
        self.require_cgroup = require_cgroup
        self.address = address or os.environ.get("RAY_JOB_ADDRESS") or os.environ.get("RAY_ADDRESS")
        if client is None and not self.address:
            raise UserError("execution.backend=ray needs execution.ray_address (the dashboard URL, "
                            "e.g. http://127.0.0.1:8265) or $RAY_ADDRESS; start a head with "
                            "`ray start --head --include-dashboard=true`")
        self.poll_s = poll_s
        self._client = client
        self.auth_token = auth_token

    @property
    def client(self) -> JobSubmissionClient:
        if self._client is None:
            token = self.auth_token or find_auth_token()
            headers = {"Authorization": f"Bearer {token}"} if token else None
            try:
                self._client = JobSubmissionClient(self.address, headers=headers)
            except Exception as e:  # the SDK raises ConnectionError/RuntimeError variants
                raise ServiceUnavailable(f"cannot reach the Ray job server at {self.address}: {e}; "
                                         "is the head running with the dashboard?") from None
        return self._client

    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        sub_id, nonce = f"nanoresearch-{uuid.uuid4().hex[:10]}", new_nonce()
        with tempfile.TemporaryDirectory(prefix="nr-rayjob-") as tmp:
            job_dir = write_job_dir(Path(tmp) / "job", "work", entrypoint, limits, nonce,
                                    result_dir=str(work_dir), require_cgroup=self.require_cgroup)
            skipped = copy_regular_files(work_dir, job_dir / "work")
            t0 = time.monotonic()
            # -I: the node's python ignores PYTHON* variables and the script's directory
            self.client.submit_job(
                entrypoint="python -I job_entry.py", submission_id=sub_id,
                runtime_env={"working_dir": str(job_dir), "env_vars": safe_env_vars({})},
                entrypoint_num_cpus=limits.cpus, metadata={"source": "nanoresearch"},
                **({"entrypoint_resources": {self.node_resource: NODE_SLIVER}} if self.node_resource else {}))
            log.info("submitted Ray job %s to %s", sub_id, self.address)
            status, waited_out = self._wait(sub_id, limits.timeout_s + STARTUP_GRACE_S)
        raw = parse_job_output(self.client.get_job_logs(sub_id), nonce)
        raw.state, raw.duration_s = status.value, raw.duration_s or (time.monotonic() - t0)
        if skipped:
            raw.notes.append(f"{skipped} link(s)/special file(s) in the work dir were not shipped")
        if waited_out:
            raw.timed_out, raw.backend_error = True, None
        elif raw.backend_error and raw.exit_code is None and status == JobStatus.FAILED:
            info = self.client.get_job_info(sub_id)
            raw.backend_error = f"Ray job {sub_id} failed before the experiment ran: {info.message}"
        return raw

    def _wait(self, sub_id: str, deadline_s: float) -> tuple[JobStatus, bool]:
        t0 = time.monotonic()
        while True:
            status = self.client.get_job_status(sub_id)
            if status in TERMINAL:
                return status, False
            if time.monotonic() - t0 > deadline_s:
                log.info("Ray job %s exceeded %.0fs: stopping it", sub_id, deadline_s)
                self.client.stop_job(sub_id)
                return self._settle(sub_id), True
            time.sleep(self.poll_s)

    def _settle(self, sub_id: str, wait_s: float = 20.0) -> JobStatus:
        t0 = time.monotonic()
        status = self.client.get_job_status(sub_id)
        while status not in TERMINAL and time.monotonic() - t0 < wait_s:
            time.sleep(self.poll_s)
            status = self.client.get_job_status(sub_id)
        return status
