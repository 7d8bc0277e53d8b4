"""The one interface every execution backend implements.

`Executor.run(work_dir, entrypoint, limits)` runs an experiment that already sits in
`work_dir` and returns a `RunResult`. Backends only *launch* (sandbox, local process, Ray
job, SLURM job) and hand back a `RawRun`; reading `metrics.json` and classifying the
failure is shared here, so every backend reports the same statuses for the same program.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.execution.classify import classify
from nanoresearch.execution.metrics import METRICS_FILE, read_metrics
from nanoresearch.progress import channel_near, report
from nanoresearch.types import RunFinished, RunResult, RunStarted, new_id

log = logging.getLogger(__name__)
TAIL_CHARS = 4000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. `disk_mb` caps the work dir's growth and any single
    file; `tmp_mb` is the size of the private /tmp; `max_procs` caps processes/threads
    (the whole tree where a cgroup can be made); `max_files` caps new inodes."""

    timeout_s: float = 600.0
    memory_mb: int = 2048
    cpus: int = 1
    max_procs: int = 128
    disk_mb: int = 1024
    tmp_mb: int = 256
    cpu_s: int | None = None  # CPU-seconds cap; None: timeout_s * cpus + slack
    max_files: int = 20_000  # new entries (inodes) the run may create in its work dir
    cancel_file: str | None = None  # the run is killed when this file appears (a cancel)

    def cpu_seconds(self) -> int:
        return int(self.cpu_s if self.cpu_s is not None else self.timeout_s * self.cpus + 5)

    def to_spec(self) -> dict:
        """The plain dict bubble.py and job_entry.py take (they import no nanoresearch)."""
        return {"timeout_s": self.timeout_s, "memory_mb": self.memory_mb, "cpus": self.cpus,
                "max_procs": self.max_procs, "disk_mb": self.disk_mb, "tmp_mb": self.tmp_mb,
                "max_files": self.max_files, "cpu_s": self.cpu_seconds(), "cancel_file": self.cancel_file}

    def with_(self, **kw) -> "Limits":
        return replace(self, **kw)

    @classmethod
    def from_settings(cls, execution) -> "Limits":
        return cls(timeout_s=float(execution.timeout_s), memory_mb=int(execution.memory_mb),
                   cpus=int(execution.cpus))


@dataclass
class RawRun:
    """What a backend observed, before metrics and classification."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    signal: int | None = None  # the signal that ended the program, if any
    limit_hit: str | None = None  # "disk", "memory", "procs"... when a watchdog fired
    backend_error: str | None = None  # the backend itself failed (not the program)
    state: str = ""  # backend-specific final state (Ray job status, SLURM state)
    extra_metrics_text: str | None = None  # metrics.json content shipped back via logs
    notes: list[str] = field(default_factory=list)


def tail(text: str, n: int = TAIL_CHARS) -> str:
    return text if len(text) <= n else "..." + text[-n:]


class Executor(ABC):
    """Base class: subclasses implement `_launch`; `run` is shared."""

    backend: str = "local"
    cancel_file: str | None = None  # set per project (its cancel marker): a cancel kills the run

    def __init__(self, limits: Limits | None = None):
        self.default_limits = limits or Limits()

    def run(self, work_dir: Path, entrypoint: str = "run.py",
            limits: Limits | None = None) -> RunResult:
        work_dir = Path(work_dir).resolve()
        self._check_inputs(work_dir, entrypoint)
        limits = limits or self.default_limits
        if self.cancel_file and not limits.cancel_file:
            limits = limits.with_(cancel_file=str(self.cancel_file))
        stale = work_dir / METRICS_FILE
        if stale.exists():  # a previous attempt's numbers must never count for this one
            stale.unlink()
        before = snapshot(work_dir)
        # progress for the CLI and the page: run started, its output tail, run finished
        channel, run_id = channel_near(work_dir), new_id("run-")
        attempts = self.__dict__.setdefault("_attempts", {})
        attempt = attempts[str(work_dir)] = attempts.get(str(work_dir), 0) + 1
        report(channel, RunStarted(run_id=run_id, attempt=attempt, backend=self.backend))
        t0 = time.monotonic()
        if channel is not None:
            from nanoresearch.execution.live import LiveOutput
            with LiveOutput(channel, run_id, attempt):
                raw = self._launch(work_dir, entrypoint, limits)
        else:
            raw = self._launch(work_dir, entrypoint, limits)
        if not raw.duration_s:
            raw.duration_s = time.monotonic() - t0
        result = self._result(work_dir, raw, before)
        report(channel, RunFinished(run_id=run_id, attempt=attempt, status=result.status,
                                    duration_s=result.duration_s, exit_code=result.exit_code))
        return result

    @abstractmethod
    def _launch(self, work_dir: Path, entrypoint: str, limits: Limits) -> RawRun:
        ...

    def _check_inputs(self, work_dir: Path, entrypoint: str) -> None:
        if not work_dir.is_dir():
            raise UserError(f"work dir {work_dir} does not exist; write the code there first")
        if Path(entrypoint).is_absolute() or ".." in Path(entrypoint).parts:
            raise UserError(f"entrypoint {entrypoint!r} must be a path inside the work dir")
        if not (work_dir / entrypoint).is_file():
            raise UserError(f"entrypoint {entrypoint} not found in {work_dir}; "
                            "the code artifact must contain it")

    def _result(self, work_dir: Path, raw: RawRun, before: dict[str, int]) -> RunResult:
        for note in raw.notes:  # a weaker containment on this node is never silent
            (log.warning if note.startswith("no ") else log.info)("%s run: %s", self.backend, note)
        metrics, metrics_error = read_metrics(work_dir, raw.extra_metrics_text)
        status, failure = classify(raw, work_dir, metrics, metrics_error)
        artifacts = sorted(p for p, m in snapshot(work_dir).items() if before.get(p) != m)
        result = RunResult(backend=self.backend, status=status, exit_code=raw.exit_code,
                           duration_s=round(raw.duration_s, 3), stdout_tail=tail(raw.stdout),
                           stderr_tail=tail(raw.stderr), metrics=metrics, failure=failure,
                           artifacts=artifacts)
        log.info("%s run in %s: %s in %.1fs (%d metrics)%s", self.backend, work_dir,
                 status.value, raw.duration_s, len(metrics),
                 f" - {failure.category}: {failure.message[:120]}" if failure else "")
        return result


def snapshot(work_dir: Path, cap: int = 5000) -> dict[str, int]:
    """relative path -> mtime_ns of the regular files (symlinks excluded), to tell which
    files a run created or rewrote."""
    out: dict[str, int] = {}
    try:
        for p in work_dir.rglob("*"):
            if not p.is_symlink() and p.is_file():
                out[str(p.relative_to(work_dir))] = p.stat().st_mtime_ns
                if len(out) >= cap:
                    break
    except OSError:
        pass
    return out
