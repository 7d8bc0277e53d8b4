"""Cluster fixtures for the execution backends: a private Ray head and a one-node SLURM.

The Ray head gets its own short --temp-dir and free ports; it is stopped by killing
only the processes whose command line names that temp dir (`ray stop` would kill every
Ray on the machine, including other people's). SLURM is started by
scripts/slurm_local.sh, which is idempotent; tests skip with the reason when it cannot.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_mentioning(needle: str) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            out.append(int(d))
    return out


def kill_pids(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(1.0)


@contextlib.contextmanager
def local_ray_head(extra_env: dict[str, str] | None = None):
    """Start a private Ray head; yields (dashboard URL, [GCS, dashboard ports]). `extra_env`
    goes into the head's environment (the hostile suite plants secrets there)."""
    if shutil.which("ray") is None:
        pytest.skip("the `ray` CLI is not installed")
    temp_dir = tempfile.mkdtemp(prefix="nrray", dir="/tmp")  # short: unix socket path limit
    dash, gcs = free_port(), free_port()
    cmd = ["ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}",
           "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
           f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
           f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
           f"--ray-client-server-port={free_port()}", f"--temp-dir={temp_dir}", "--num-cpus=2",
           "--disable-usage-stats"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(extra_env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    try:
        if proc.returncode != 0:
            pytest.skip(f"could not start a local Ray head: {proc.stderr[-800:]}")
        yield f"http://127.0.0.1:{dash}", [gcs, dash]
    finally:
        kill_pids(pids_mentioning(temp_dir))
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_head():
    with local_ray_head() as (url, _):
        yield url


@pytest.fixture(scope="module")
def slurm_cluster():
    script = REPO / "scripts" / "slurm_local.sh"
    missing = [b for b in ("sbatch", "slurmctld", "slurmd", "munged") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"SLURM not installed ({', '.join(missing)} missing): "
                    "apt-get install slurm-wlm munge")
    proc = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"could not start a one-node SLURM: {(proc.stdout + proc.stderr)[-800:]}")
    conf = next((ln.split("=", 1)[1] for ln in proc.stdout.splitlines()
                 if ln.startswith("SLURM_CONF=")), None)
    yield conf
