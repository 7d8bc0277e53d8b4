"""The sandbox against hostile programs (tests/execution/hostile/*.py).

Each program tries one forbidden thing and prints `ESCAPED:` if it works. The test
never trusts that alone: it also checks the host - marker files absent, the canary
secret never seen in any output or file, the host's loopback service untouched, no
process left with a sandbox uid, a host sentinel process alive, disk usage unchanged.
Limits are small (4 s wall clock, 512 MB, 64 processes, 20 MB disk) to keep it fast.
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
from nanoresearch.types import RunStatus as S

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(timeout_s=4, memory_mb=512, max_procs=64, disk_mb=20, tmp_mb=16)
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
}


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
    service = HostService()
    sentinel = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield {"base": base, "token": token, "canary": canary, "service": service,
           "sentinel": sentinel}
    service.close()
    sentinel.kill()
    sentinel.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sandbox_pids() -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                uid = os.stat(f"/proc/{d}").st_uid
            except OSError:
                continue
            if UID_RANGE[0] <= uid <= UID_RANGE[1]:
                pids.append(int(d))
    return pids


def _files_text(work_dir: Path) -> str:
    chunks = []
    for p in work_dir.rglob("*"):
        if p.name != "hostile.json" and p.is_file() and not p.is_symlink() \
                and p.stat().st_size < 1_000_000:
            chunks.append(p.read_text(errors="replace"))
    return "\n".join(chunks)


def _prepare(name: str, host, tmp_path: Path, marker: str) -> tuple[Path, dict]:
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    (tmp_path / "sibling.txt").write_text(host["token"])
    for src in (HOSTILE / f"{name}.py", HOSTILE / "_common.py"):
        shutil.copy(src, work_dir / src.name)
    params = {"host_port": host["service"].port, "listen_port": _free_port(),
              "canary_file": str(host["canary"]), "canary_token": host["token"],
              "sibling_name": "sibling.txt", "marker_name": marker,
              "host_parent": str(tmp_path)}
    (work_dir / "hostile.json").write_text(json.dumps(params))
    return work_dir, params


def _probe_listen(port: int, out: list) -> None:
    time.sleep(1.5)  # the program is listening by now, inside its own network ns
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        out.append("connected")
    except OSError:
        out.append("refused")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_program_is_contained(name, host, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-fake-{host['token']}")
    monkeypatch.setenv("HF_TOKEN", host["token"])
    marker = f"nr-escape-{uuid.uuid4().hex[:8]}"
    work_dir, params = _prepare(name, host, tmp_path, marker)
    conns_before = host["service"].connections
    free_before = shutil.disk_usage(tmp_path).free
    probe: list[str] = []
    if name == "net_listen":
        threading.Thread(target=_probe_listen, args=(params["listen_port"], probe)).start()

    result = SandboxExecutor(LIMITS).run(work_dir, f"{name}.py")

    output = result.stdout_tail + result.stderr_tail
    assert result.status in EXPECTED[name], (result.status, result.failure, output[-1500:])
    assert "ESCAPED" not in output, output
    assert host["token"] not in output and host["token"] not in _files_text(work_dir)
    assert "sk-fake" not in output
    for d in ("/", "/usr", "/usr/local", "/etc", "/root", "/var/tmp", "/tmp", tmp_path,
              tmp_path.parent):
        assert not (Path(d) / marker).exists(), f"marker escaped to {d}"
    assert host["service"].connections == conns_before, "the host's loopback service was reached"
    assert probe in ([], ["refused"]), "a server inside the sandbox was reachable from the host"
    assert host["sentinel"].poll() is None, "a host process was killed"
    assert os.getpid() and Path(f"/proc/{os.getppid()}").exists()
    time.sleep(0.3)
    assert _sandbox_pids() == [], "processes survived the sandbox"
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
        assert result.metrics == [] and "symlink" in result.failure.message
    shutil.rmtree(work_dir)
    assert shutil.disk_usage(tmp_path).free > free_before - 2**30
