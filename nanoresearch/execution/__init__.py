"""Running generated experiments: one `Executor` interface, several backends.

    from nanoresearch.execution import make_executor, Limits
    result = make_executor(settings).run(work_dir, "run.py", Limits(timeout_s=60))

Backends: `sandbox` (bubblewrap, default), `local` (plain subprocess, weaker), `ray`
(Ray job submission, `ray_jobs.py`), `slurm` (sbatch). Every backend reads the same
`metrics.json` and classifies failures the same way (`classify.py`).
"""
from nanoresearch.execution.base import Executor, Limits, RawRun
from nanoresearch.execution.classify import parse_traceback
from nanoresearch.execution.factory import make_executor
from nanoresearch.execution.local import LocalExecutor
from nanoresearch.execution.metrics import METRICS_FILE, parse_metrics_text, read_metrics
from nanoresearch.execution.sandbox import SandboxExecutor

__all__ = ["Executor", "Limits", "RawRun", "make_executor", "LocalExecutor", "SandboxExecutor",
           "METRICS_FILE", "read_metrics", "parse_metrics_text", "parse_traceback"]
