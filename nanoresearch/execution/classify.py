"""Turning what a backend observed into a `RunStatus` and a `FailureInfo`.

Shared by every backend so a program fails the same way everywhere. Tracebacks are
parsed for the innermost frame that lies in the experiment's own code (not numpy's),
because that is the line the debugging agent has to patch; paths are mapped back from
wherever the backend ran the code (/work_dir in the sandbox, a Ray runtime copy...).
"""
from __future__ import annotations

import re
import signal as _signal
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from nanoresearch.types import FailureInfo, MetricRecord, RunStatus

if TYPE_CHECKING:
    from nanoresearch.execution.base import RawRun

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_OOM = re.compile(r"\bMemoryError\b|Unable to allocate|std::bad_alloc|Cannot allocate memory|"
                  r"\bout of memory\b|OUT_OF_MEMORY|oom-kill", re.IGNORECASE)
SANDBOX_MOUNT = "/work_dir"  # where the sandbox mounts the work dir
_PREFIXES = (sys.base_prefix + "/lib", "/usr/lib")


@dataclass
class ParsedTraceback:
    text: str
    exception: str  # last line: "ValueError: shapes (3,) and (4,) not aligned"
    file: str | None  # relative to the work dir when the frame is in the experiment code
    line: int | None
    func: str | None = None


def signal_name(sig: int) -> str:
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _in_work_dir(path: str, work_dir: Path | None) -> str | None:
    """Map a frame's path to a path relative to the work dir, or None if it is library
    code. Tries the path itself, then ever shorter suffixes (a remote copy's prefix)."""
    p = PurePosixPath(path)
    if not p.is_absolute():
        return str(p) if work_dir is None or (work_dir / p).is_file() else None
    if {"site-packages", "dist-packages"} & set(p.parts) or str(p).startswith(_PREFIXES):
        return None  # library code: never the line to patch
    if p.is_relative_to(SANDBOX_MOUNT):
        return str(p.relative_to(SANDBOX_MOUNT))
    if work_dir is None:
        return None
    parts = p.parts[1:]
    for i in range(len(parts)):
        rel = PurePosixPath(*parts[i:])
        if (work_dir / rel).is_file():
            return str(rel)
    return None


def parse_traceback(stderr: str, work_dir: Path | None = None) -> ParsedTraceback | None:
    """The last Python traceback in `stderr`, or None."""
    start = stderr.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    block = stderr[start:]
    lines = block.splitlines()
    exc_line, end = "", len(lines)
    for i in range(1, len(lines)):
        ln = lines[i]
        if ln and not ln.startswith((" ", "\t")):
            exc_line, end = ln.strip(), i + 1
            break
    file = line = func = None
    for ln in lines[1:end]:
        m = _FRAME.match(ln)
        if m:
            rel = _in_work_dir(m["file"], work_dir)
            if rel is not None:
                file, line, func = rel, int(m["line"]), m["func"]
    return ParsedTraceback(text="\n".join(lines[:end]), exception=exc_line or lines[-1].strip(),
                           file=file, line=line, func=func)


def _last_lines(text: str, n: int = 5) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def _exception_failure(raw: "RawRun", work_dir: Path | None) -> tuple[RunStatus, FailureInfo]:
    tb = parse_traceback(raw.stderr, work_dir) or parse_traceback(raw.stdout, work_dir)
    oom = bool(_OOM.search(tb.exception if tb else _last_lines(raw.stderr)))
    if tb is not None:
        status = RunStatus.OOM if oom else RunStatus.FAILED
        return status, FailureInfo(category="oom" if oom else "exception", message=tb.exception,
                                   traceback=tb.text[-6000:], file=tb.file, line=tb.line)
    msg = _last_lines(raw.stderr) or _last_lines(raw.stdout) or "no output"
    if oom:
        return RunStatus.OOM, FailureInfo(category="oom", message=msg)
    return RunStatus.FAILED, FailureInfo(
        category="exception", message=f"exited with code {raw.exit_code}: {msg}")


def _signal_failure(raw: "RawRun") -> tuple[RunStatus, FailureInfo]:
    sig = raw.signal or 0
    name = signal_name(sig)
    if sig == _signal.SIGXCPU:
        return RunStatus.TIMEOUT, FailureInfo(category="timeout", message=(
            "killed by SIGXCPU: the CPU-time limit was reached; make the experiment cheaper "
            "(fewer epochs/samples) or raise execution.timeout_s"))
    if raw.limit_hit == "cancelled":
        return RunStatus.KILLED, FailureInfo(category="killed", message="killed: the project was cancelled")
    if sig == _signal.SIGXFSZ or raw.limit_hit == "disk":
        return RunStatus.KILLED, FailureInfo(category="killed", message=(
            f"killed by {name}: the disk quota was exceeded; write smaller outputs"))
    if raw.limit_hit == "memory" or (sig == _signal.SIGKILL and _OOM.search(raw.stderr)):
        return RunStatus.OOM, FailureInfo(category="oom", message=(
            f"killed by {name} at the memory limit; reduce batch size or data in memory"))
    return RunStatus.KILLED, FailureInfo(category="killed", message=(
        f"killed by {name}" + (f" ({raw.limit_hit} limit)" if raw.limit_hit else "")
        + (f"; last output: {_last_lines(raw.stderr, 2)}" if raw.stderr.strip() else "")))


def classify(raw: "RawRun", work_dir: Path | None, metrics: list[MetricRecord],
             metrics_error: str | None) -> tuple[RunStatus, FailureInfo | None]:
    if raw.backend_error:
        return RunStatus.FAILED, FailureInfo(category="sandbox", message=raw.backend_error)
    if raw.timed_out:
        return RunStatus.TIMEOUT, FailureInfo(category="timeout", message=(
            f"wall-clock timeout after {raw.duration_s:.0f}s; the process group was killed. "
            "Make the experiment faster or raise execution.timeout_s"),
            traceback=_last_lines(raw.stderr, 20))
    if raw.signal is not None:
        return _signal_failure(raw)
    if raw.limit_hit == "disk":
        return _signal_failure(raw)
    if raw.exit_code not in (0, None):
        return _exception_failure(raw, work_dir)
    if metrics_error or not metrics:
        return RunStatus.NO_METRICS, FailureInfo(
            category="missing_metrics", message=metrics_error or "no metrics")
    return RunStatus.SUCCEEDED, None
