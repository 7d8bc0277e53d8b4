"""The harness contract a model-written codebase is held to, checked before and after
each run.

Before: every .py file parses; every import is a file of the codebase or a package
installed for the sandbox's Python (else a clear message naming it); no network or
process-spawning modules; no literal path outside the work dir; no eval/exec. After: the
run's metrics.json parses as `MetricsFile` (per dataset/method/seed values, runtime, peak
memory), every value is finite, and the proposed method has the primary metric on the
validation split (the tree search selects on it, never on test). `ContractExecutor` wraps
any backend so a violation comes back as a failed run with category "contract": the
debug loop then patches it like any other failure, with the contract error in hand.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import sys
from importlib import resources
from pathlib import Path, PurePosixPath

import yaml
from pydantic import ValidationError

from nanoresearch.execution.metrics import METRICS_FILE
from nanoresearch.types import FailureInfo, MetricRecord, MetricsFile, RunResult, RunStatus

CONTRACT = yaml.safe_load(resources.files("nanoresearch.coding").joinpath("contract.yaml").read_text())
NETWORK_MODULES = {"socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib",
                   "smtplib", "telnetlib", "xmlrpc", "websocket", "websockets", "paramiko",
                   "subprocess", "multiprocessing", "ctypes", "pty"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint", "input"}
FORBIDDEN_ATTRS = {"system", "popen", "execv", "execve", "fork", "spawnv", "kill", "chroot"}
LOWER_IS_BETTER = {"rmse", "mae", "mse", "mase", "smape", "mape", "loss", "nll", "error",
                   "log_loss", "brier", "perplexity"}
VALIDATION_SPLITS = ("validation", "val")


def higher_is_better(metric: str) -> bool:
    return metric.lower() not in LOWER_IS_BETTER


# ---------------------------------------------------------------------- before the run
def _installed(top: str) -> bool:
    if top in sys.builtin_module_names or top in sys.stdlib_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module.split(".")[0], node.lineno))
    return out


def _bad_path(value: str) -> bool:
    p = PurePosixPath(value)
    return (p.is_absolute() and not value.startswith("/tmp")) or ".." in p.parts or value.startswith("~")


def _check_calls(path: str, tree: ast.AST) -> list[str]:
    errors = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id in FORBIDDEN_CALLS:
            errors.append(f"{path}:{node.lineno}: call to {fn.id}() is not allowed")
        if isinstance(fn, ast.Attribute) and fn.attr in FORBIDDEN_ATTRS:
            errors.append(f"{path}:{node.lineno}: .{fn.attr}() (process control) is not allowed")
        for arg in node.args[:1]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _bad_path(arg.value):
                errors.append(f"{path}:{node.lineno}: path {arg.value!r} is outside the work dir; "
                              "use paths relative to run.py (data/, figures/, logs/)")
    return errors


def precheck(files: dict[str, str]) -> list[str]:
    """Contract violations found statically in a codebase ({relative path: content})."""
    if "run.py" not in files:
        return ["no run.py: the entry point must be run.py at the top of the codebase"]
    local = {PurePosixPath(p).parts[0].removesuffix(".py") for p in files}
    errors: list[str] = []
    for path, text in sorted(files.items()):
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            errors.append(f"{path}:{e.lineno}: syntax error: {e.msg}")
            continue
        for top, line in _imports(tree):
            if top in NETWORK_MODULES:
                errors.append(f"{path}:{line}: import {top!r} is not allowed (no network, no "
                              "subprocesses in the sandbox)")
            elif top not in local and not _installed(top):
                errors.append(f"{path}:{line}: import {top!r}: no such package is installed for "
                              "the sandbox's Python; use numpy, scipy, sklearn, torch, pandas, "
                              "networkx, statsmodels or matplotlib")
        errors += _check_calls(path, tree)
    return errors


# ---------------------------------------------------------------------- after the run
def postcheck(work_dir: Path, primary_metric: str, method: str) -> tuple[MetricsFile | None, list[str]]:
    """(parsed metrics file, violations) for a run that exited cleanly."""
    path = Path(work_dir) / METRICS_FILE
    if not path.is_file() or path.is_symlink():
        return None, [f"no {METRICS_FILE} in the work dir; {CONTRACT['metrics_hint']}"]
    try:
        mf = MetricsFile.model_validate(json.loads(path.read_text(errors="replace")))
    except (ValueError, ValidationError) as e:
        first = e.errors()[0] if isinstance(e, ValidationError) else {"loc": (), "msg": str(e)}
        where = ".".join(str(x) for x in first["loc"])
        return None, [f"{METRICS_FILE} does not follow the contract at {where or 'top level'}: "
                      f"{first['msg']}; {CONTRACT['metrics_hint']}"]
    errors = [f"{METRICS_FILE}: {r.method}/{r.dataset}/seed {r.seed} {r.metric} is {r.value} "
              "(not finite: the run diverged; fix it, do not report it)"
              for r in mf.metrics if not math.isfinite(r.value)]
    errors += [f"{METRICS_FILE}: runs entry {r.method}/{r.dataset}/seed {r.seed}: {k} is {v}"
               for r in mf.runs for k, v in r.metrics.items() if not math.isfinite(v)]
    if not errors and val_score(mf.metrics, primary_metric, method) is None:
        errors.append(f"{METRICS_FILE}: no {primary_metric!r} record on split 'validation' for the "
                      f"proposed method {method!r}; the search selects on it (never on test)")
    if not errors and not any(r.split == "test" for r in mf.metrics):
        errors.append(f"{METRICS_FILE}: no record on split 'test'; the paper reports test numbers")
    return mf, errors


def val_score(metrics: list[MetricRecord], primary_metric: str, method: str) -> float | None:
    """Mean validation value of the primary metric for the proposed method, or None."""
    vals = [r.value for r in metrics if r.split in VALIDATION_SPLITS and r.metric == primary_metric
            and r.method == method and math.isfinite(r.value)]
    return sum(vals) / len(vals) if vals else None


def failure_class(result: RunResult) -> str:
    """The debug loop's class of a failed run: traceback, timeout, oom, contract,
    nan_metrics, missing_metrics, killed or sandbox."""
    f = result.failure
    if f is None:
        return "ok" if result.status == RunStatus.SUCCEEDED else "missing_metrics"
    if f.category in ("missing_metrics", "contract") and re.search(r"\bnan\b|\binf\b|finite", f.message, re.I):
        return "nan_metrics"
    return {"exception": "traceback"}.get(f.category, f.category)


def read_codebase(work_dir: Path) -> dict[str, str]:
    """The codebase's .py files as written in the work dir (data/ and outputs skipped)."""
    root = Path(work_dir)
    return {str(p.relative_to(root)): p.read_text(errors="replace") for p in sorted(root.rglob("*.py"))
            if not p.is_symlink() and p.relative_to(root).parts[0] not in ("data", "figures", "logs")}


class ContractExecutor:
    """Wraps an executor: prechecks before launching, postchecks after a clean exit; a
    violation becomes a failed run (category "contract") carrying the exact message."""

    def __init__(self, inner, primary_metric: str, method: str):
        self.inner, self.primary_metric, self.method = inner, primary_metric, method
        self.backend = getattr(inner, "backend", "sandbox")

    def run(self, work_dir: Path, entrypoint: str = "run.py", limits=None) -> RunResult:
        problems = precheck(read_codebase(work_dir))
        if problems:
            return _violation(self.backend, problems, 0.0)
        result = self.inner.run(Path(work_dir), entrypoint, limits)
        if result.status != RunStatus.SUCCEEDED:
            return result
        _, problems = postcheck(Path(work_dir), self.primary_metric, self.method)
        if problems:
            return _violation(self.backend, problems, result.duration_s,
                              result.stdout_tail, result.stderr_tail)
        return result


def _violation(backend: str, problems: list[str], duration: float, out: str = "",
               err: str = "") -> RunResult:
    msg = "contract violation: " + "; ".join(problems[:6])
    return RunResult(backend=backend, status=RunStatus.FAILED, duration_s=duration,
                     stdout_tail=out, stderr_tail=err,
                     failure=FailureInfo(category="contract", message=msg[:2000]))
