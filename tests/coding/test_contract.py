"""The harness contract: static checks before a run (syntax, imports against what is
installed, no network/subprocess, no paths outside the work dir) and metrics checks after
(schema, finite values, a validation record for selection, test records for the paper)."""
import json

import pytest

from nanoresearch.coding.contract import ContractExecutor, failure_class, postcheck, precheck
from nanoresearch.types import FailureInfo, RunResult, RunStatus
from tests.coding import competent as C


def test_competent_codebases_pass_the_precheck():
    for files in (C.digits_files(), C.co2_files(), C.graph_files()):
        assert precheck(files) == []


@pytest.mark.parametrize("code,needle", [
    ("def f(:\n", "syntax error"),
    ("import torchvision_nonexistent_pkg\n", "no such package is installed"),
    ("import socket\n", "import 'socket' is not allowed"),
    ("import subprocess\n", "no subprocesses"),
    ("import numpy as np\nnp.load('/etc/passwd')\n", "outside the work dir"),
    ("open('../secret.txt')\n", "outside the work dir"),
    ("eval('1')\n", "eval() is not allowed"),
    ("import os\nos.system('ls')\n", ".system()"),
])
def test_precheck_names_each_violation(code, needle):
    problems = precheck({"run.py": code})
    assert any(needle in p for p in problems), problems
    assert all(p.startswith("run.py:") for p in problems)


def test_local_modules_count_as_installed():
    assert precheck({"run.py": "import helpers\nfrom pkg.sub import x\n", "helpers.py": "",
                     "pkg/sub.py": "x = 1\n"}) == []
    assert precheck({"model.py": "x = 1\n"}) == ["no run.py: the entry point must be run.py at the top of the codebase"]


def _metrics(tmp_path, metrics, runs=None):
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": metrics, "runs": runs or []}))


def rec(method="M", split="validation", value=0.9, metric="accuracy"):
    return {"method": method, "dataset": "d", "metric": metric, "value": value, "seed": 0, "split": split}


def run_row(split="validation", value=0.9):
    return {"dataset": "d", "method": "M", "seed": 0, "split": split, "metrics": {"accuracy": value},
            "runtime_s": 1.2, "peak_memory_mb": 80.0}


def test_postcheck_accepts_a_valid_file(tmp_path):
    _metrics(tmp_path, [rec(), rec(split="test")], [run_row(), run_row("test")])
    mf, problems = postcheck(tmp_path, "accuracy", "M")
    assert problems == [] and mf.runs[0].peak_memory_mb == 80.0


@pytest.mark.parametrize("metrics,runs,needle", [
    ([rec(), rec(split="test")], None, "runs"),  # runs missing entirely -> schema error below
    ([rec(value=float("nan")), rec(split="test")], [run_row()], "not finite"),
    ([rec(split="test")], [run_row("test")], "no 'accuracy' record on split 'validation'"),
    ([rec(method="Baseline"), rec(split="test")], [run_row()], "proposed method 'M'"),
    ([rec()], [run_row()], "no record on split 'test'"),
])
def test_postcheck_violations(tmp_path, metrics, runs, needle):
    if runs is None:
        (tmp_path / "metrics.json").write_text(json.dumps({"metrics": metrics}))
    else:
        _metrics(tmp_path, metrics, runs)
    _, problems = postcheck(tmp_path, "accuracy", "M")
    assert any(needle in p for p in problems), problems


def test_old_flat_list_is_a_contract_violation_with_the_schema(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps([rec(), rec(split="test")]))
    _, problems = postcheck(tmp_path, "accuracy", "M")
    assert problems and '"runs"' in problems[0]


class _Fake:
    backend = "local"

    def __init__(self, result):
        self.result, self.calls = result, 0

    def run(self, work_dir, entrypoint="run.py", limits=None):
        self.calls += 1
        return self.result


def test_contract_executor_turns_violations_into_failed_runs(tmp_path):
    (tmp_path / "run.py").write_text("import socket\n")
    inner = _Fake(RunResult(backend="local", status=RunStatus.SUCCEEDED))
    res = ContractExecutor(inner, "accuracy", "M").run(tmp_path)
    assert inner.calls == 0 and res.failure.category == "contract" and "socket" in res.failure.message
    (tmp_path / "run.py").write_text("print('ok')\n")
    _metrics(tmp_path, [rec(split="test")], [run_row("test")])
    res = ContractExecutor(inner, "accuracy", "M").run(tmp_path)
    assert inner.calls == 1 and failure_class(res) == "contract" and "validation" in res.failure.message


@pytest.mark.parametrize("category,message,cls", [
    ("exception", "ValueError: x", "traceback"), ("timeout", "t", "timeout"), ("oom", "m", "oom"),
    ("contract", "contract violation: import", "contract"),
    ("missing_metrics", "metrics.json item 0: value is nan, not a finite number", "nan_metrics"),
    ("missing_metrics", "the program wrote no metrics.json", "missing_metrics")])
def test_failure_classes(category, message, cls):
    r = RunResult(status=RunStatus.FAILED, failure=FailureInfo(category=category, message=message))
    assert failure_class(r) == cls
