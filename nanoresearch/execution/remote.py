"""What the Ray job and SLURM backends share: staging a job directory around
`job_entry.py`, and reading its marked output back into a `RawRun`."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from nanoresearch.execution.base import Limits, RawRun
from nanoresearch.execution.env import minimal_env
from nanoresearch.execution.job_entry import MARK, SPEC_FILE

ENTRY = Path(__file__).with_name("job_entry.py")
_SECTION = r"{}\n(.*?)\n{}"


def job_spec(entrypoint: str, limits: Limits) -> dict:
    env = minimal_env(home=".", tmp=".", threads=1)
    for k in ("PATH", "HOME", "TMPDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        env.pop(k)  # set on the worker, where the paths are known
    return {"entrypoint": entrypoint, "timeout_s": limits.timeout_s, "memory_mb": limits.memory_mb,
            "cpu_s": limits.cpu_seconds(), "disk_mb": limits.disk_mb, "env": env}


def write_job_files(dest: Path, entrypoint: str, limits: Limits) -> None:
    shutil.copyfile(ENTRY, dest / "job_entry.py")
    (dest / SPEC_FILE).write_text(json.dumps(job_spec(entrypoint, limits)))


def stage_copy(work_dir: Path, staging: Path, entrypoint: str, limits: Limits) -> Path:
    """A copy of the work dir plus the wrapper, for backends that upload a directory."""
    shutil.copytree(work_dir, staging, symlinks=True, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".mpl"))
    write_job_files(staging, entrypoint, limits)
    return staging


def _section(text: str, name: str) -> tuple[str | None, str]:
    pat = re.compile(_SECTION.format(re.escape(MARK.format(f"{name}_BEGIN")),
                                     re.escape(MARK.format(f"{name}_END"))), re.S)
    m = pat.search(text)
    if not m:
        return None, text
    return m.group(1), text[: m.start()] + text[m.end():]


def parse_job_output(log_text: str) -> RawRun:
    """RawRun from a job_entry log. No status marker means the wrapper never finished
    (the job was cancelled, or the worker died): reported as a backend error."""
    stderr, rest = _section(log_text, "STDERR")
    metrics, rest = _section(rest, "METRICS")
    m = re.search(re.escape(MARK.format("STATUS")) + r" (\{.*\})", rest)
    if not m:
        return RawRun(exit_code=None, stdout=rest, stderr=stderr or "",
                      backend_error="the job ended without reporting a status; logs:\n" + rest[-1500:])
    status = json.loads(m.group(1))
    stdout = rest[: m.start()].rstrip("\n")
    rc = status["returncode"]
    return RawRun(exit_code=rc, stdout=stdout, stderr=stderr or "",
                  duration_s=status.get("duration_s", 0.0), timed_out=status["timed_out"],
                  signal=-rc if rc is not None and rc < 0 and not status["timed_out"] else None,
                  extra_metrics_text=metrics,
                  notes=[f"copied {status.get('copied', 0)} result file(s) back"])
