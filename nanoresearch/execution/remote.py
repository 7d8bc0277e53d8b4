"""What the Ray job and SLURM backends share: writing a job directory around
`job_entry.py` (see its docstring for the layout), and reading its marked output back
into a `RawRun`.

Only regular files are staged: a symlink left in the work dir (by an earlier run) is
never followed here, where it would read a host file into the job (Ray's upload zips
the target's content). Output is trusted only between markers carrying this run's
nonce; anything malformed becomes a backend error, never an exception.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

from nanoresearch.execution.base import Limits, RawRun
from nanoresearch.execution.job_entry import SHIPPED, SPEC_FILE, mark

HERE = Path(__file__).parent
SKIP_DIRS = {"__pycache__", ".mpl"}


def new_nonce() -> str:
    return secrets.token_hex(16)


def write_job_dir(job_dir: Path, work_dir: str, entrypoint: str, limits: Limits, nonce: str,
                  result_dir: str | None = None, require_cgroup: bool = False) -> Path:
    """Create `job_dir` (private) with the wrapper, the profile and the spec."""
    job_dir.mkdir(mode=0o700, parents=True)
    for name in SHIPPED:
        shutil.copyfile(HERE / name, job_dir / name)
    spec = {"entrypoint": entrypoint, "work_dir": work_dir, "nonce": nonce,
            "limits": limits.to_spec(), "result_dir": result_dir,
            "require_cgroup": require_cgroup}
    (job_dir / SPEC_FILE).write_text(json.dumps(spec))
    return job_dir


def copy_regular_files(src: Path, dst: Path) -> int:
    """Copy the regular files and directories of `src` to `dst`; links and devices are
    skipped, never followed. Returns the number of skipped entries."""
    skipped = 0
    dst.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        keep = []
        for d in dirnames:
            if d in SKIP_DIRS or os.path.islink(os.path.join(dirpath, d)):
                skipped += d not in SKIP_DIRS
                continue
            (dst / rel / d).mkdir(exist_ok=True)
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not stat.S_ISREG(os.lstat(p).st_mode):
                skipped += 1
                continue
            shutil.copyfile(p, dst / rel / f, follow_symlinks=False)
    return skipped


def _section(text: str, nonce: str, name: str) -> str | None:
    begin, end = re.escape(mark(nonce, f"{name}_BEGIN")), re.escape(mark(nonce, f"{name}_END"))
    found = re.findall(f"{begin}\n(.*?)\n{end}", text, re.S)
    return found[-1] if found else None


def _status(text: str, nonce: str) -> dict | str:
    """The wrapper's status dict, or why there is none."""
    lines = re.findall("^" + re.escape(mark(nonce, "STATUS")) + r" (.*)$", text, re.M)
    if not lines:
        return "the job ended without reporting a status (cancelled, or the worker died)"
    try:
        status = json.loads(lines[-1])
        if not isinstance(status, dict):
            raise ValueError("not an object")
        rc, sig = status.get("returncode"), status.get("signal")
        if not all(v is None or isinstance(v, int) for v in (rc, sig)):
            raise ValueError("returncode/signal are not integers")
        return status
    except ValueError as e:
        return f"the job's status line is malformed ({e})"


def parse_job_output(log_text: str, nonce: str) -> RawRun:
    """RawRun from a job_entry log; only this run's nonce-marked sections count."""
    status = _status(log_text, nonce)
    if isinstance(status, str):
        return RawRun(exit_code=None, stdout=_section(log_text, nonce, "STDOUT") or "",
                      stderr=_section(log_text, nonce, "STDERR") or "",
                      backend_error=f"{status}; logs:\n{log_text[-1500:]}")
    stderr = _section(log_text, nonce, "STDERR") or ""
    raw = RawRun(exit_code=status.get("returncode"), stdout=_section(log_text, nonce, "STDOUT") or "",
                 stderr=stderr, duration_s=float(status.get("duration_s") or 0.0),
                 timed_out=bool(status.get("timed_out")), signal=status.get("signal"),
                 limit_hit=status.get("limit_hit"), backend_error=status.get("backend_error"),
                 extra_metrics_text=_section(log_text, nonce, "METRICS"),
                 notes=[str(n) for n in status.get("notes") or []])
    if "copied" in status:
        raw.notes.append(f"copied {status['copied']} result file(s) back")
    if raw.exit_code == 1 and stderr.startswith("bwrap:"):
        raw.backend_error = f"bubblewrap failed on the node: {stderr.strip()[:500]}"
    return raw
