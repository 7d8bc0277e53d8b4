"""Every contained backend against hostile programs (tests/execution/hostile/*.py).

Each program tries one forbidden thing and prints `ESCAPED:` if it works. The test
never trusts that alone: it also checks the host - marker files absent, the canary
secret never seen in any output or file, the host's loopback service untouched, the
token file unchanged, no process left with a sandbox uid, a host sentinel process alive,
disk usage unchanged. Limits are small (4 s wall clock, 512 MB, 64 processes, 20 MB
disk, 300 new files) to keep it fast.

All programs run on the sandbox backend; the escape-relevant subset (REMOTE) also runs
as Ray jobs on a private local head - whose environment holds the canary as
NANORESEARCH_ADMIN_TOKEN / OPENAI_API_KEY, so a leak from the worker would show - and as
SLURM jobs on the one-node SLURM (markers `ray` / `slurm`; skipped with the reason where
those cannot start).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from nanoresearch.execution import Limits, SandboxExecutor
from nanoresearch.execution.sandbox import UID_RANGE, sandbox_problem
from nanoresearch.execution.slurm import SlurmExecutor
from tests.execution.conftest import local_ray_head
from nanoresearch.types import RunStatus as S

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(timeout_s=4, memory_mb=512, max_procs=64, disk_mb=20, tmp_mb=16, max_files=300)
DENIED = {S.NO_METRICS}  # the program ran to its end, every attempt refused

# program -> statuses that count as "stopped or denied"
EXPECTED: dict[str, set[S]] = {
    "net_external": DENIED, "net_host_loopback": DENIED, "net_dns": DENIED,
    "net_listen": DENIED, "read_ssh_keys": DENIED, "read_root_home": DENIED,
    "read_shadow": DENIED, "read_host_canary": DENIED, "env_secrets": DENIED,
    "proc_environ": DENIED, "write_root": DENIED, "write_host_tmp": DENIED,
    "write_parent": DENIED, "symlink_metrics": DENIED, "privilege": DENIED,
    "fill_tmp": DENIED, "daemon_survives": DENIED, "kill_parent": DENIED,
    "kill_all": {S.NO_METRICS, S.KILLED},
    "fork_bomb": {S.TIMEOUT}, "thread_bomb": {S.FAILED, S.KILLED},
    "memory_bomb": {S.OOM}, "cpu_loop": {S.TIMEOUT}, "sleep_forever": {S.TIMEOUT},
    "output_flood": {S.TIMEOUT}, "fill_disk": {S.KILLED}, "huge_file": {S.FAILED, S.KILLED},
    "userns_nested": DENIED, "ptrace_any": DENIED, "kernel_surface": DENIED,
    "inode_bomb": {S.KILLED}, "setsid_sleeper": DENIED, "write_api_tokens": DENIED,
    "read_store": DENIED, "read_planted_link": DENIED, "cgroup_escape": DENIED,
    "proc_sys_write": DENIED, "dev_devices": DENIED, "net_ray_gcs": DENIED,
    "memory_fanout": {S.NO_METRICS, S.OOM, S.KILLED, S.FAILED, S.TIMEOUT},
}
REMOTE = ["net_host_loopback", "net_ray_gcs", "net_external", "env_secrets", "proc_environ",
          "read_host_canary", "read_planted_link", "read_store", "read_ssh_keys",
          "write_api_tokens", "write_parent", "daemon_survives", "setsid_sleeper",
          "userns_nested", "ptrace_any", "kernel_surface", "privilege", "fork_bomb",
          "memory_bomb", "memory_fanout", "inode_bomb", "symlink_metrics"]
CASES = ([("sandbox", n) for n in sorted(EXPECTED)]
         + [pytest.param("ray", n, marks=pytest.mark.ray, id=f"ray-{n}") for n in REMOTE]
         + [pytest.param("slurm", n, marks=pytest.mark.slurm, id=f"slurm-{n}") for n in REMOTE])


class HostService:
    """A loopback TCP server on the host; counts every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    token = f"CANARY-{uuid.uuid4().hex}"
    canary = base / "canary_secret.txt"
    canary.write_text(token)
    store = base / "store"  # stands in for another user's data: memories, projects, tokens
    store.mkdir()
    (store / "memories.jsonl").write_text(json.dumps({"user": "bob", "text": token}))
    (base / "other_project.json").write_text(token)
    tokens = base / "api_tokens.json"
    tokens.write_text(json.dumps({"alice": "sha256:" + token}))
    service = HostService()
    sentinel = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield {"base": base, "token": token, "canary": canary, "service": service,
           "sentinel": sentinel, "store": store, "tokens": tokens}
    service.close()
    sentinel.kill()
    sentinel.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sandbox_pids(name: str) -> list[int]:
    """Processes of this program still alive: a sandbox uid (as root) or the program's
    own command line / its detached sleepers. Other people's sandbox runs on a shared
    machine also use sandbox uids, so a uid alone is not proof."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                uid = os.stat(f"/proc/{d}").st_uid
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            ours = f"{name}.py" in cmd or "sleep 1000" in cmd
            if ours and (UID_RANGE[0] <= uid <= UID_RANGE[1] or uid == os.getuid()):
                pids.append(int(d))
    return pids


def _files_text(work_dir: Path) -> str:
    chunks = []
    for p in work_dir.rglob("*"):
        if p.name != "hostile.json" and p.is_file() and not p.is_symlink() \
                and p.stat().st_size < 1_000_000:
            chunks.append(p.read_text(errors="replace"))
    return "\n".join(chunks)


def _prepare(name: str, host, tmp_path: Path, marker: str, cluster_ports: list[int]
             ) -> tuple[Path, dict]:
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    (tmp_path / "sibling.txt").write_text(host["token"])
    for src in (HOSTILE / f"{name}.py", HOSTILE / "_common.py"):
        shutil.copy(src, work_dir / src.name)
    if name == "read_planted_link":  # what an earlier run could have left in the work dir
        (work_dir / "leak").symlink_to(host["canary"])
        (work_dir / "leakdir").symlink_to(host["base"])
    params = {"host_port": host["service"].port, "listen_port": _free_port(),
              "canary_file": str(host["canary"]), "canary_token": host["token"],
              "sibling_name": "sibling.txt", "marker_name": marker,
              "host_parent": str(tmp_path), "api_tokens": str(host["tokens"]),
              "store_dir": str(host["store"]), "other_project": str(host["base"] / "other_project.json"),
              "cluster_ports": cluster_ports}
    (work_dir / "hostile.json").write_text(json.dumps(params))
    return work_dir, params


@pytest.fixture(scope="module")
def hostile_ray(host):
    secrets = {"NANORESEARCH_ADMIN_TOKEN": host["token"], "OPENAI_API_KEY": f"sk-fake-{host['token']}"}
    with local_ray_head(secrets) as (url, ports):
        yield url, ports


def _no_cgroup() -> str | None:
    """Why no per-run cgroup can be made here (memory_fanout needs one), else None."""
    from nanoresearch.execution.cgroups import Cgroup
    cg, why = Cgroup.create(64, 8, 1)
    if cg is not None:
        cg.remove()
    return why or None


def _executor(backend: str, host, request, monkeypatch):
    """(executor, loopback ports of the cluster's own services)."""
    if backend == "ray":
        from nanoresearch.execution.ray_jobs import RayJobExecutor
        url, ports = request.getfixturevalue("hostile_ray")
        return RayJobExecutor(LIMITS, address=url, poll_s=0.2), ports
    if backend == "slurm":
        conf = request.getfixturevalue("slurm_cluster")
        monkeypatch.setenv("SLURM_CONF", conf)
        ports = [int(os.environ.get("NR_SLURMCTLD_PORT", 16817)), int(os.environ.get("NR_SLURMD_PORT", 16818))]
        return SlurmExecutor(LIMITS, slurm_conf=conf, poll_s=0.2), ports + [host["service"].port]
    return SandboxExecutor(LIMITS), [host["service"].port]


def _probe_listen(port: int, out: list) -> None:
    time.sleep(1.5)  # the program is listening by now, inside its own network ns
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        out.append("connected")
    except OSError:
        out.append("refused")


@pytest.mark.parametrize("backend,name", CASES)
def test_hostile_program_is_contained(backend, name, host, tmp_path, monkeypatch, request):
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-fake-{host['token']}")
    monkeypatch.setenv("HF_TOKEN", host["token"])
    monkeypatch.setenv("NANORESEARCH_ADMIN_TOKEN", host["token"])
    if name == "memory_fanout" and _no_cgroup():
        pytest.skip(f"memory across processes needs a cgroup: {_no_cgroup()}")
    executor, cluster_ports = _executor(backend, host, request, monkeypatch)
    marker = f"nr-escape-{uuid.uuid4().hex[:8]}"
    tokens_before = host["tokens"].read_text()
    work_dir, params = _prepare(name, host, tmp_path, marker, cluster_ports)
    conns_before = host["service"].connections
    free_before = shutil.disk_usage(tmp_path).free
    probe: list[str] = []
    if name == "net_listen":
        threading.Thread(target=_probe_listen, args=(params["listen_port"], probe)).start()

    result = executor.run(work_dir, f"{name}.py")

    output = result.stdout_tail + result.stderr_tail
    expected = set(EXPECTED[name])
    if backend != "sandbox" and name == "memory_bomb":  # a loaded node may hit the clock first
        expected.add(S.TIMEOUT)
    assert result.status in expected, (result.status, result.failure, output[-1500:])
    assert "ESCAPED" not in output, output
    assert host["token"] not in output and host["token"] not in _files_text(work_dir)
    assert "sk-fake" not in output
    for d in ("/", "/usr", "/usr/local", "/etc", "/root", "/var/tmp", "/tmp", tmp_path,
              tmp_path.parent):
        assert not (Path(d) / marker).exists(), f"marker escaped to {d}"
    assert host["service"].connections == conns_before, "the host's loopback service was reached"
    assert probe in ([], ["refused"]), "a server inside the sandbox was reachable from the host"
    assert host["sentinel"].poll() is None, "a host process was killed"
    assert host["tokens"].read_text() == tokens_before, "api_tokens.json was changed"
    assert os.getpid() and Path(f"/proc/{os.getppid()}").exists()
    time.sleep(0.3)
    assert _sandbox_pids(name) == [], "processes survived the sandbox"
    _assert_disk_contained(name, work_dir, result, free_before, tmp_path)


def _assert_disk_contained(name, work_dir, result, free_before, tmp_path) -> None:
    if name == "daemon_survives":
        hb = work_dir / "heartbeat"
        size = hb.stat().st_size if hb.exists() else 0
        time.sleep(0.5)
        assert (hb.stat().st_size if hb.exists() else 0) == size, "the daemon is still writing"
    # what the run wrote on disk lies in the work dir, within the quota (+ the watchdog's
    # polling overshoot); the machine-wide free space is only a coarse sanity check
    # because other processes share the disk
    used = sum(p.stat().st_blocks * 512 for p in work_dir.rglob("*") if p.is_file())
    assert used < 400 * 2**20, f"work dir grew to {used >> 20} MB"
    assert all(p.stat().st_size <= LIMITS.disk_mb * 2**20 for p in work_dir.rglob("*") if p.is_file())
    if name == "output_flood":
        assert len(result.stdout_tail) < 5000
    if name == "symlink_metrics":
        assert result.metrics == []
        assert result.backend == "ray" or "symlink" in result.failure.message  # ray ships no links
    shutil.rmtree(work_dir)
    assert shutil.disk_usage(tmp_path).free > free_before - 2**30
