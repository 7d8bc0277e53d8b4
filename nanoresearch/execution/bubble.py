"""The containment profile every backend runs an experiment in (standard library only).

The sandbox backend calls it on this machine; job_entry.py calls the same code on a Ray
or SLURM node (this file, cgroups.py and seccomp_bpf.py are shipped next to it), so one
profile holds everywhere. What the program gets:

- bubblewrap: its work dir read-write at /work_dir (also HOME), a private size-capped
  /tmp and /dev/shm, read-only /usr and the Python installation, a minimal /etc; its own
  pid/net/ipc/uts/cgroup namespaces (no network, not even the host's loopback where Ray's
  GCS and the store listen; no other process visible, so no /proc/$PPID/environ); an
  environment built from nothing (no NANORESEARCH_*, no keys); --die-with-parent, and
  when its pid 1 ends the kernel kills everything left, setsid daemons included.
- a seccomp filter (seccomp_bpf.py): no ptrace, mount, unshare/setns, namespace clones,
  keyctl, bpf, perf, modules.
- a cgroup (cgroups.py) capping memory, tasks and CPU for the whole tree; rlimits
  (address space, CPU seconds, processes, file size) as a second layer.
- as root: a fresh unprivileged uid per run (setpriv, no capabilities, no_new_privs), so
  RLIMIT_NPROC binds; without root an unprivileged user namespace with nested ones off.
- a watchdog: wall clock, and the work dir's bytes and entries (inodes) under quota.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__:
    from . import cgroups, seccomp_bpf
else:  # shipped next to job_entry.py on a worker
    import cgroups
    import seccomp_bpf

MOUNT = "/work_dir"
UID_RANGE = (200_000, 299_999)  # no system account lives here; one fresh uid per run
ETC_FILES = ("ld.so.cache", "localtime", "nsswitch.conf", "alternatives", "mime.types", "fonts",
             "matplotlibrc")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TORCH_NUM_THREADS")
POLL_S, DISK_EVERY_S = 0.1, 0.5
HEAD_BYTES, TAIL_BYTES = 8_000, 64_000
CGROUP_SLACK_MB = 64
DEFAULT_SPEC = {"timeout_s": 600.0, "memory_mb": 2048, "cpus": 1, "max_procs": 128,
                "disk_mb": 1024, "tmp_mb": 256, "max_files": 20_000, "cpu_s": 605}


def base_env(home: str, tmp: str = "/tmp", threads: int = 1, python_bin: str | None = None) -> dict:
    """The whole environment of an experiment: built from nothing, never inherited."""
    bindir = os.path.dirname(python_bin or sys.executable)
    env = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": tmp,
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
           "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": f"{tmp}/matplotlib", "XDG_CACHE_HOME": f"{tmp}/cache",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "NANORESEARCH_SANDBOX": "1"}
    env.update({v: str(threads) for v in THREAD_VARS})
    return env


def python_roots(python: str) -> list[str]:
    """Directories the interpreter and its packages live in (bound read-only)."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}
    for sp in site.getsitepackages() + [site.getusersitepackages()]:
        real = os.path.realpath(sp)
        if os.path.isdir(real) and not any(real.startswith(r + "/") for r in roots):
            roots.add(real)
    return sorted(r for r in roots if not r.startswith("/usr/") and r != "/usr")


def sandbox_problem(bwrap: str | None = None) -> str | None:
    """None when bubblewrap can create the namespaces here, else why not."""
    bwrap = bwrap or shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed: apt-get install bubblewrap"
    args = [bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid",
            "--unshare-net", "--die-with-parent"]
    if os.geteuid() != 0:
        args += ["--unshare-user"]
    try:
        proc = subprocess.run(args + ["true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap failed to start: {e}"
    if proc.returncode != 0:
        return (f"bubblewrap cannot create namespaces here ({proc.stderr.strip()[:300]}); "
                "allow unprivileged user namespaces or run privileged")
    return None


def command_for(entrypoint: str, python: str) -> list[str]:
    if entrypoint.endswith(".py"):
        return [python, "-u", entrypoint]
    if entrypoint.endswith(".sh"):
        return ["/bin/sh", entrypoint]
    raise ValueError(f"entrypoint {entrypoint!r}: only .py or .sh entrypoints can be run")


def _parent_dirs(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def prlimit_prefix(spec: dict, nproc: int) -> list[str]:
    exe = shutil.which("prlimit")
    if exe is None:
        raise RuntimeError("prlimit not found: `apt-get install util-linux`")
    cpu, mb = int(spec["cpu_s"]), 1024 * 1024
    return [exe, f"--as={spec['memory_mb'] * mb}", f"--cpu={cpu}:{cpu + 5}",
            f"--fsize={spec['disk_mb'] * mb}", "--core=0", "--nofile=1024", f"--nproc={nproc}", "--"]


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


class Bubble:
    """Builds and runs the contained command for one experiment. `spec` holds the limits
    (DEFAULT_SPEC's keys). `require_cgroup`: refuse to run where no cgroup can be made,
    instead of running with rlimits only (and saying so in the notes)."""

    def __init__(self, spec: dict, python: str | None = None, bwrap: str | None = None,
                 extra_ro_binds: list[str] | None = None, require_cgroup: bool = False):
        self.spec = {**DEFAULT_SPEC, **spec}
        self.python = python or os.path.realpath(sys.executable)
        self.bwrap = bwrap or shutil.which("bwrap")
        if self.bwrap is None:
            raise RuntimeError("bubblewrap is not installed on this node: apt-get install bubblewrap")
        self.extra_ro_binds = [os.path.realpath(p) for p in (extra_ro_binds or [])]
        self.as_root = os.geteuid() == 0
        self.setpriv = shutil.which("setpriv")
        if self.as_root and self.setpriv is None:
            raise RuntimeError("setpriv not found (needed to drop root in the sandbox): "
                               "apt-get install util-linux")
        self.require_cgroup = require_cgroup

    # ------------------------------------------------------------------ command line
    def fs_args(self, work_dir: Path, etc_dir: Path) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib64", "lib32", "sbin"):
            p = Path("/") / name
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                args += ["--ro-bind", str(p), str(p)]
        made: set[str] = set()
        for root in python_roots(self.python) + self.extra_ro_binds:
            for d in _parent_dirs(root):  # bwrap would create these 0700 when they are
                if d not in made:  # under /root, hiding the interpreter from a non-root uid
                    args += ["--perms", "0755", "--dir", d]
                    made.add(d)
            args += ["--ro-bind", root, root]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for name in ("passwd", "group", "hosts"):
            args += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
        return args + ["--proc", "/proc", "--dev", "/dev",
                       "--perms", "1777", "--size", str(int(self.spec["tmp_mb"]) << 20), "--tmpfs", "/tmp",
                       "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm",
                       "--bind", str(work_dir), MOUNT, "--chdir", MOUNT]

    def ns_args(self) -> list[str]:
        args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
                "--new-session"]
        if not self.as_root:  # as root, seccomp refuses namespace clones instead
            args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        return args

    def env_args(self) -> list[str]:
        args = ["--clearenv"]
        for k, v in base_env(home=MOUNT, python_bin=self.python).items():
            args += ["--setenv", k, v]
        return args

    def argv(self, work_dir: Path, entrypoint: str, uid: int, etc_dir: Path,
             seccomp_fd: int | None) -> list[str]:
        inner = command_for(entrypoint, self.python)
        if self.as_root:
            inner = [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"] + inner
        sec = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        return (prlimit_prefix(self.spec, self._nproc()) + [self.bwrap] + self.ns_args()
                + self.fs_args(work_dir, etc_dir) + self.env_args() + sec + ["--"] + inner)

    def _nproc(self) -> int:
        # Without root the limit counts every process of the real user, so leave room
        # for the ones already running (pytest, other runs).
        n = int(self.spec["max_procs"])
        return n if self.as_root else n + user_procs(os.getuid())

    # ------------------------------------------------------------------ run
    def run_captured(self, work_dir: Path, entrypoint: str, buffers=None) -> tuple[dict, str, str]:
        """run() with stdout and stderr read into bounded buffers: (outcome, out, err).
        `buffers`: the (out, err) pair to read into (the caller may watch them live)."""
        out, err = buffers or (BoundedBuffer(), BoundedBuffer())
        readers: list[threading.Thread] = []

        def start_readers(proc: subprocess.Popen) -> None:
            for stream, buf in ((proc.stdout, out), (proc.stderr, err)):
                readers.append(threading.Thread(target=drain, args=(stream, buf), daemon=True))
                readers[-1].start()

        o = self.run(work_dir, entrypoint, subprocess.PIPE, subprocess.PIPE, start_readers)
        for r in readers:
            r.join(timeout=5)
        return o, out.text(), err.text()

    def run(self, work_dir: Path, entrypoint: str, stdout=None, stderr=None,
            on_start=None) -> dict:
        """Run the experiment contained; stdout/stderr are Popen targets (on_start(proc)
        may start readers for pipes). Returns returncode, signal, timed_out, limit_hit,
        duration_s, notes and backend_error (the containment itself failed)."""
        work_dir = Path(work_dir)
        notes: list[str] = []
        # the tree's cap sits a little above the per-process RLIMIT_AS, so one greedy
        # process gets a clean MemoryError instead of thrashing at the cgroup's edge
        cg, why = cgroups.Cgroup.create(int(self.spec["memory_mb"]) + CGROUP_SLACK_MB,
                                        int(self.spec["max_procs"]), int(self.spec["cpus"]))
        if cg is None:
            if self.require_cgroup:
                return _outcome(backend_error=f"refusing to run without a cgroup: {why}")
            notes.append(f"no cgroup here, limits are per process/uid only: {why}")
        try:
            return self._run_in(work_dir, entrypoint, cg, notes, stdout, stderr, on_start)
        finally:
            if cg is not None:
                cg.remove()

    def _run_in(self, work_dir, entrypoint, cg, notes, stdout, stderr, on_start) -> dict:
        uid = random.randint(*UID_RANGE)
        owner = work_dir.stat()
        sec_fd = self._seccomp_fd(notes)
        with tempfile.TemporaryDirectory(prefix="nr-sandbox-etc-") as etc:
            write_etc(Path(etc), uid if self.as_root else os.getuid())
            cmd = self.argv(work_dir, entrypoint, uid, Path(etc), sec_fd)
            cmd = (cg.join_prefix() if cg else []) + cmd
            if self.as_root:
                chown_tree(work_dir, uid, uid)
            try:
                out = self._spawn(cmd, work_dir, cg, sec_fd, stdout, stderr, on_start)
            finally:
                if self.as_root:
                    chown_tree(work_dir, owner.st_uid, owner.st_gid)
        out["notes"] = notes + out["notes"]
        return out

    def _seccomp_fd(self, notes: list[str]) -> int | None:
        try:
            prog = seccomp_bpf.build_filter()
        except ValueError as e:
            notes.append(f"no seccomp filter: {e}")
            return None
        r, w = os.pipe()
        os.write(w, prog)  # < 1 KB: fits the pipe buffer, bwrap reads it at start
        os.close(w)
        return r

    def _spawn(self, cmd, work_dir, cg, sec_fd, stdout, stderr, on_start) -> dict:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, cwd=str(work_dir), env={"PATH": "/usr/bin:/bin"},
                                    stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                    start_new_session=True, close_fds=True,
                                    pass_fds=(sec_fd,) if sec_fd is not None else ())
        except OSError as e:
            return _outcome(backend_error=f"could not start {cmd[0]}: {e}")
        finally:
            if sec_fd is not None:
                os.close(sec_fd)

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if cg is not None:
                cg.kill()

        if on_start is not None:
            on_start(proc)
        timed_out, limit_hit, notes = watch(proc, self.spec, work_dir, t0, kill)
        kill()  # stragglers: the pid namespace dies with bwrap, the cgroup catches the rest
        rc = proc.returncode
        sig = -rc if rc is not None and rc < 0 else (rc - 128 if rc and 128 < rc < 160 else None)
        if cg is not None and sig is not None and not limit_hit:
            limit_hit = "memory" if cg.limit_hit() == "memory" else None
        err = "the run could not join its cgroup" if rc == 125 else None
        return _outcome(returncode=rc, signal=sig, timed_out=timed_out, limit_hit=limit_hit,
                        duration_s=time.monotonic() - t0, notes=notes, backend_error=err)


def _outcome(**kw) -> dict:
    out = {"returncode": None, "signal": None, "timed_out": False, "limit_hit": None,
           "duration_s": 0.0, "notes": [], "backend_error": None}
    out.update(kw)
    return out


def watch(proc, spec: dict, watch_dir: Path, t0: float, kill) -> tuple[bool, str | None, list]:
    """Wait for `proc`, enforcing the wall clock and the work dir's byte and entry quotas,
    and killing it when `spec["cancel_file"]` appears. Returns (timed_out, limit_hit, notes)."""
    base_bytes, base_files = dir_usage(watch_dir)
    quota, max_files = int(spec["disk_mb"]) << 20, int(spec["max_files"])
    cancel_file = spec.get("cancel_file")  # the project's cancel marker: its appearance ends the run
    next_disk = t0 + DISK_EVERY_S
    while True:
        try:
            proc.wait(timeout=POLL_S)
            return False, None, []
        except subprocess.TimeoutExpired:
            pass
        if cancel_file and os.path.exists(cancel_file):
            kill()
            proc.wait()
            return False, "cancelled", ["the project was cancelled: the run was killed"]
        now = time.monotonic()
        if now - t0 > float(spec["timeout_s"]):
            kill()
            proc.wait()
            return True, None, []
        if now >= next_disk:
            next_disk = now + DISK_EVERY_S
            used, files = dir_usage(watch_dir, cap_entries=max_files + base_files + 1)
            if used - base_bytes > quota or files - base_files > max_files:
                kill()
                proc.wait()
                what = (f"{files - base_files} new files (limit {max_files})" if files - base_files > max_files
                        else f"{(used - base_bytes) >> 20} MB (limit {spec['disk_mb']} MB)")
                return False, "disk", [f"work dir quota exceeded: {what}"]


def dir_usage(path: Path, cap_entries: int = 1_000_000) -> tuple[int, int]:
    """(bytes, entries) under `path`, not following symlinks; stops at cap_entries."""
    total, seen, stack = 0, 0, [str(path)]
    while stack and seen < cap_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    seen += 1
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total, seen


def write_etc(etc_dir: Path, uid: int) -> None:
    (etc_dir / "passwd").write_text(f"root:x:0:0:root:/root:/bin/sh\n"
                                    f"sandbox:x:{uid}:{uid}:sandbox:{MOUNT}:/bin/sh\n")
    (etc_dir / "group").write_text(f"root:x:0:\nsandbox:x:{uid}:\n")
    (etc_dir / "hosts").write_text("127.0.0.1 localhost sandbox\n")


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """lchown every entry: never follow a link the program may have planted."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            try:
                os.lchown(os.path.join(dirpath, name), uid, gid)
            except OSError:
                pass
    os.lchown(root, uid, gid)


def user_procs(uid: int) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n
