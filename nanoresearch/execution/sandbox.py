"""The bubblewrap sandbox: the default way experiments run.

What the program gets: its work dir read-write at /work_dir (also HOME), a private
size-capped /tmp and /dev/shm, read-only /usr and the Python installation, a minimal
/etc, its own pid/net/ipc/uts namespaces (no network at all, no other processes
visible), a scrubbed environment and rlimits (address space, CPU seconds, processes,
file size). When the sandbox's pid 1 ends, the kernel kills everything left in the
namespace, so daemons do not survive a run.

Running as root: RLIMIT_NPROC does not bind uid 0, so the program is switched to a
fresh unprivileged uid (setpriv) for its run; the work dir is chowned to that uid and
back afterwards. Without root, bwrap uses an unprivileged user namespace instead.
"""
from __future__ import annotations

import functools
import logging
import os
import random
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.classify import SANDBOX_MOUNT
from nanoresearch.execution.env import minimal_env
from nanoresearch.execution.proc import prlimit_prefix, run_limited

log = logging.getLogger(__name__)
ETC_FILES = ("ld.so.cache", "localtime", "nsswitch.conf", "alternatives", "mime.types", "fonts",
             "matplotlibrc")
UID_RANGE = (200_000, 299_999)  # no system account lives here; one fresh uid per run


def python_roots() -> list[str]:
    """Directories the interpreter and its packages live in (bound read-only)."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}
    for sp in site.getsitepackages() + [site.getusersitepackages()]:
        real = os.path.realpath(sp)
        if os.path.isdir(real) and not any(real.startswith(r + "/") for r in roots):
            roots.add(real)
    return sorted(r for r in roots if not r.startswith("/usr/"))


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """None when bubblewrap can create the namespaces here, else why not (for `doctor`
    and for tests that must skip in containers that forbid namespaces)."""
    bwrap = shutil.which("bwrap")
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
    if entrypoint.endswith((".sh", ".sbatch")):
        return ["/bin/sh", entrypoint]
    raise UserError(f"entrypoint {entrypoint!r}: only .py or .sh entrypoints can be run")


def _parent_dirs(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class SandboxExecutor(Executor):
    backend = "sandbox"

    def __init__(self, limits: Limits | None = None, extra_ro_binds: list[str] | None = None,
                 bwrap: str | None = None, python: str | None = None):
        super().__init__(limits)
        self.bwrap = bwrap or shutil.which("bwrap")
        if self.bwrap is None:
            raise UserError("bubblewrap is not installed: `apt-get install bubblewrap`, or set "
                            "execution.backend=local to run without isolation (weaker)")
        self.python = python or os.path.realpath(sys.executable)
        self.extra_ro_binds = [os.path.realpath(p) for p in (extra_ro_binds or [])]
        self.as_root = os.geteuid() == 0
        self.setpriv = shutil.which("setpriv")
        if self.as_root and self.setpriv is None:
            raise UserError("setpriv not found (needed to drop root in the sandbox): "
                            "`apt-get install util-linux`")

    # ------------------------------------------------------------------ command line
    def _fs_args(self, work_dir: Path, limits: Limits, etc_dir: Path) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib64", "lib32", "sbin"):
            p = Path("/") / name
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                args += ["--ro-bind", str(p), str(p)]
        made: set[str] = set()
        for root in python_roots() + self.extra_ro_binds:
            for d in _parent_dirs(root):  # bwrap would create these 0700 when they are
                if d not in made:  # under /root, hiding the interpreter from a non-root uid
                    args += ["--perms", "0755", "--dir", d]
                    made.add(d)
            args += ["--ro-bind", root, root]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for name in ("passwd", "group", "hosts"):
            args += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp",
                 "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm",
                 "--bind", str(work_dir), SANDBOX_MOUNT, "--chdir", SANDBOX_MOUNT]
        return args

    def _ns_args(self) -> list[str]:
        args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
                "--new-session"]
        if not self.as_root:
            args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        return args

    def build_command(self, work_dir: Path, entrypoint: str, limits: Limits, uid: int,
                      etc_dir: Path) -> list[str]:
        env = minimal_env(home=SANDBOX_MOUNT, threads=1, python_bin=self.python)
        env_args = ["--clearenv"]
        for k, v in env.items():
            env_args += ["--setenv", k, v]
        inner = command_for(entrypoint, self.python)
        if self.as_root:
            inner = [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"] + inner
        return (prlimit_prefix(limits, self._nproc(limits)) + [self.bwrap]
                + self._ns_args() + self._fs_args(work_dir, limits, etc_dir) + env_args
                + ["--"] + inner)

    def _nproc(self, limits: Limits) -> int:
        # Without root the limit counts every process of the real user, so leave room
        # for the ones already running (pytest, other runs).
        return limits.max_procs if self.as_root else limits.max_procs + _user_procs(os.getuid())

    # ------------------------------------------------------------------ run
    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        uid = random.randint(*UID_RANGE)
        owner = work_dir.stat()
        with tempfile.TemporaryDirectory(prefix="nr-sandbox-etc-") as etc:
            etc_dir = Path(etc)
            _write_etc(etc_dir, uid if self.as_root else os.getuid())
            cmd = self.build_command(work_dir, entrypoint, limits, uid, etc_dir)
            if self.as_root:
                _chown_tree(work_dir, uid, uid)
            try:
                raw = run_limited(cmd, work_dir, env={"PATH": "/usr/bin:/bin"}, limits=limits,
                                  watch_dir=work_dir)
            finally:
                if self.as_root:
                    _chown_tree(work_dir, owner.st_uid, owner.st_gid)
        _bwrap_status(raw)
        return raw


def _bwrap_status(raw: RawRun) -> None:
    """bwrap exits 128+N when the program died of signal N; report it as the signal."""
    if raw.signal is None and raw.exit_code is not None and 128 < raw.exit_code < 160:
        raw.signal = raw.exit_code - 128
    if raw.exit_code == 1 and raw.stderr.startswith("bwrap:"):
        raw.backend_error = f"bubblewrap failed: {raw.stderr.strip()[:500]}"


def _write_etc(etc_dir: Path, uid: int) -> None:
    (etc_dir / "passwd").write_text(f"root:x:0:0:root:/root:/bin/sh\n"
                                    f"sandbox:x:{uid}:{uid}:sandbox:{SANDBOX_MOUNT}:/bin/sh\n")
    (etc_dir / "group").write_text(f"root:x:0:\nsandbox:x:{uid}:\n")
    (etc_dir / "hosts").write_text("127.0.0.1 localhost sandbox\n")


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """lchown every entry: never follow a link the program may have planted."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            try:
                os.lchown(os.path.join(dirpath, name), uid, gid)
            except OSError:
                pass
    os.lchown(root, uid, gid)


def _user_procs(uid: int) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n
