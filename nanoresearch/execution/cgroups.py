"""One cgroup per run: memory, task count and CPU limits that forking cannot bypass.

rlimits count per process (RLIMIT_AS) or per uid (RLIMIT_NPROC); a cgroup counts the
whole tree, however it forks, daemonizes or calls setsid. The run's cgroup is created
under this process's own cgroup (so a container's own limit still holds above it), the
launcher joins it before it execs bubblewrap, and `kill()` ends every task in it.

Both layouts are handled: the unified v2 hierarchy (memory.max, pids.max, cpu.max,
cgroup.kill) and the v1 per-controller one (memory.limit_in_bytes, pids.max,
cpu.cfs_quota_us). Where no writable hierarchy offers the memory and pids controllers,
`create` returns the reason and the caller decides (refuse, or run with rlimits only
and say so in the run's notes). Standard library only: shipped to Ray / SLURM nodes.
"""
from __future__ import annotations

import os
import shlex
import signal
import time
import uuid

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu")
CFS_PERIOD_US = 100_000


def _own_path(controller: str | None) -> str:
    """This process's cgroup path in one hierarchy (None: the v2 one)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller is None and names == "") or controller in names.split(","):
                return path
    return "/"


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _events(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


class Cgroup:
    """The cgroup directories of one run (one per v1 controller, or one v2 dir)."""

    def __init__(self, dirs: dict[str, str], version: int):
        self.dirs, self.version = dirs, version

    @classmethod
    def create(cls, memory_mb: int, max_procs: int, cpus: int) -> "tuple[Cgroup | None, str]":
        """(cgroup, "") or (None, why no cgroup could be made here)."""
        name = f"nr-run-{uuid.uuid4().hex[:12]}"
        if os.path.exists(f"{ROOT}/cgroup.controllers"):
            return cls._create_v2(name, memory_mb, max_procs, cpus)
        return cls._create_v1(name, memory_mb, max_procs, cpus)

    @classmethod
    def _create_v2(cls, name, memory_mb, max_procs, cpus):
        parent = ROOT + _own_path(None).rstrip("/") + "/nanoresearch"
        try:
            os.makedirs(parent, exist_ok=True)
            _write(f"{parent}/cgroup.subtree_control", "+memory +pids +cpu")
            d = f"{parent}/{name}"
            os.mkdir(d)
            _write(f"{d}/memory.max", str(memory_mb << 20))
            if os.path.exists(f"{d}/memory.swap.max"):
                _write(f"{d}/memory.swap.max", "0")
            _write(f"{d}/pids.max", str(max_procs))
            _write(f"{d}/cpu.max", f"{cpus * CFS_PERIOD_US} {CFS_PERIOD_US}")
        except OSError as e:
            return None, (f"cgroup v2 at {parent} is not writable or lacks the memory/pids/cpu "
                          f"controllers ({e}); delegate a cgroup to this service")
        return cls({"v2": d}, 2), ""

    @classmethod
    def _create_v1(cls, name, memory_mb, max_procs, cpus):
        dirs: dict[str, str] = {}
        try:
            for c in V1_CONTROLLERS:
                if not os.path.exists(f"{ROOT}/{c}/cgroup.procs"):  # not a mounted hierarchy
                    raise OSError(f"{ROOT}/{c} is not a cgroup v1 hierarchy")
                d = f"{ROOT}/{c}{_own_path(c).rstrip('/')}/nanoresearch/{name}"
                os.makedirs(d)
                dirs[c] = d
            mem = dirs["memory"]
            _write(f"{mem}/memory.limit_in_bytes", str(memory_mb << 20))
            if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):  # no escape into swap
                _write(f"{mem}/memory.memsw.limit_in_bytes", str(memory_mb << 20))
            _write(f"{dirs['pids']}/pids.max", str(max_procs))
            _write(f"{dirs['cpu']}/cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(f"{dirs['cpu']}/cpu.cfs_quota_us", str(cpus * CFS_PERIOD_US))
        except OSError as e:
            cls(dirs, 1).remove()
            return None, (f"no writable cgroup (v1 memory/pids/cpu under {ROOT}: {e}); "
                          "run the service as root or delegate a cgroup to it")
        return cls(dirs, 1), ""

    def join_prefix(self) -> list[str]:
        """argv prefix: the launcher moves itself into the cgroup, then execs the rest
        (so every descendant is born inside; exit 125 if it could not join)."""
        files = " ".join(shlex.quote(f"{d}/cgroup.procs") for d in self.dirs.values())
        script = (f'for f in {files}; do echo $$ > "$f" || {{ echo "bwrap: cannot join cgroup '
                  f'$f" >&2; exit 125; }}; done; exec "$@"')
        return ["/bin/sh", "-c", script, "nr-cgroup-join"]

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            out.update(int(p) for p in _read(f"{d}/cgroup.procs").split() if p.isdigit())
        return sorted(out)

    def kill(self) -> None:
        """SIGKILL every task, including ones that left the session or process group."""
        d = self.dirs.get("v2")
        if d and os.path.exists(f"{d}/cgroup.kill"):
            try:
                _write(f"{d}/cgroup.kill", "1")
            except OSError:
                pass
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)

    def limit_hit(self) -> str | None:
        """"memory" when the kernel OOM-killed a task here, "procs" when fork was refused."""
        if self.version == 2:
            d = self.dirs["v2"]
            if _events(f"{d}/memory.events").get("oom_kill", 0) > 0:
                return "memory"
            return "procs" if _events(f"{d}/pids.events").get("max", 0) > 0 else None
        if _events(f"{self.dirs['memory']}/memory.oom_control").get("oom_kill", 0) > 0:
            return "memory"
        return "procs" if _events(f"{self.dirs['pids']}/pids.events").get("max", 0) > 0 else None

    def remove(self) -> None:
        self.kill()
        for d in self.dirs.values():
            for _ in range(20):  # rmdir fails while the last killed task is being reaped
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
