"""The Ray job backend against a private local Ray head (marker `ray`)."""
from __future__ import annotations

import pytest

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.execution import Limits, make_executor
from nanoresearch.execution.remote import parse_job_output
from nanoresearch.types import RunStatus

EXPERIMENT = """
import json, os
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
import matplotlib.pyplot as plt
X, y = load_digits(return_X_y=True)
rows = []
for seed in (0, 1):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed)
    acc = LogisticRegression(max_iter=200).fit(Xtr / 16, ytr).score(Xte / 16, yte)
    rows.append(dict(method="logreg", dataset="digits", metric="accuracy", value=acc, seed=seed))
plt.plot([r["value"] for r in rows]); plt.savefig("acc.png")
json.dump(rows, open("metrics.json", "w"))
print("secret visible:", "OPENAI_API_KEY" in os.environ, "threads", os.environ["OMP_NUM_THREADS"])
"""


@pytest.mark.ray
def test_ray_job_runs_experiment_end_to_end(ray_head, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-should-not-reach-the-job")
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.py").write_text(EXPERIMENT)
    (wd / "util.py").write_text("def broken(x):\n    return x['missing']\n")
    settings = Settings(data_dir=tmp_path / "d",
                        execution={"backend": "ray", "ray_address": ray_head, "timeout_s": 120})
    ex = make_executor(settings)
    res = ex.run(wd)
    assert res.status == RunStatus.SUCCEEDED, (res.failure, res.stderr_tail[-2000:])
    assert res.backend == "ray" and [m.seed for m in res.metrics] == [0, 1]
    assert all(m.value > 0.9 for m in res.metrics)
    assert "secret visible: False threads 1" in res.stdout_tail
    assert "acc.png" in res.artifacts and (wd / "acc.png").stat().st_size > 0

    # a failure inside a helper module: traceback mapped back to the work dir's file
    (wd / "run.py").write_text("from util import broken\nbroken({})\n")
    res = ex.run(wd, limits=Limits(timeout_s=60))
    assert res.status == RunStatus.FAILED
    assert (res.failure.file, res.failure.line) == ("util.py", 2)
    assert "KeyError" in res.failure.message

    (wd / "run.py").write_text("import time\nprint('begin', flush=True)\ntime.sleep(600)\n")
    res = ex.run(wd, limits=Limits(timeout_s=3))
    assert res.status == RunStatus.TIMEOUT and "begin" in res.stdout_tail


def test_ray_backend_needs_an_address(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    for var in ("RAY_ADDRESS", "RAY_JOB_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UserError, match="ray_address"):
        make_executor(Settings(data_dir=tmp_path, execution={"backend": "ray"}))


def test_job_output_parsing_without_a_cluster():
    log = ("hello\n\n===NR_STDERR_BEGIN===\nTraceback (most recent call last):\n"
           '  File "/tmp/ray/x/run.py", line 3, in <module>\nValueError: no\n===NR_STDERR_END===\n'
           '===NR_METRICS_BEGIN===\n[]\n===NR_METRICS_END===\n'
           '===NR_STATUS=== {"returncode": 1, "timed_out": false, "duration_s": 0.5, "copied": 0}\n')
    raw = parse_job_output(log)
    assert raw.exit_code == 1 and raw.stdout.strip() == "hello" and raw.extra_metrics_text == "[]"
    assert raw.stderr.startswith("Traceback") and raw.duration_s == 0.5
    assert parse_job_output("driver crashed").backend_error
