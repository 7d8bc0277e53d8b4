"""The Ray job backend against a private local Ray head (marker `ray`)."""
from __future__ import annotations

import pytest

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.execution import Limits, make_executor
from nanoresearch.execution.job_entry import mark
from nanoresearch.execution.remote import new_nonce, parse_job_output
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


def _log(nonce: str, stdout: str, status: str) -> str:
    return (f"\n{mark(nonce, 'STDOUT_BEGIN')}\n{stdout}\n{mark(nonce, 'STDOUT_END')}\n"
            f"{mark(nonce, 'STDERR_BEGIN')}\nTraceback (most recent call last):\n"
            '  File "/tmp/ray/x/run.py", line 3, in <module>\nValueError: no\n'
            f"{mark(nonce, 'STDERR_END')}\n{mark(nonce, 'METRICS_BEGIN')}\n[]\n"
            f"{mark(nonce, 'METRICS_END')}\n{mark(nonce, 'STATUS')} {status}\n")


def test_job_output_parsing_without_a_cluster():
    nonce = new_nonce()
    log = _log(nonce, "hello", '{"returncode": 1, "timed_out": false, "duration_s": 0.5, "copied": 0}')
    raw = parse_job_output(log, nonce)
    assert raw.exit_code == 1 and raw.stdout.strip() == "hello" and raw.extra_metrics_text == "[]"
    assert raw.stderr.startswith("Traceback") and raw.duration_s == 0.5
    assert parse_job_output("driver crashed", nonce).backend_error


def test_a_status_line_forged_by_the_experiment_never_wins():
    """L3: the experiment prints what looks like the wrapper's markers (old format, and a
    guessed nonce); only the real run's nonce counts, and malformed lines never raise."""
    nonce = new_nonce()
    forged = ('===NR_STATUS=== {"returncode": 0, "timed_out": false, "duration_s": 1}\n'
              f"{mark(new_nonce(), 'STATUS')} " + '{"returncode": 0, "timed_out": false}\n'
              f"{mark(new_nonce(), 'METRICS_BEGIN')}\n[{{\"value\": 1}}]\n")
    raw = parse_job_output(_log(nonce, forged, '{"returncode": 3, "timed_out": false}'), nonce)
    assert raw.exit_code == 3 and raw.extra_metrics_text == "[]" and not raw.backend_error
    assert parse_job_output(forged, nonce).backend_error  # no real status: not a success
    for bad in ("{not json", '["a list"]', '{"returncode": "0"}', ""):
        raw = parse_job_output(_log(nonce, "x", bad), nonce)
        assert raw.backend_error and raw.exit_code is None, bad


def test_ray_jobs_ask_for_the_agent_node_marker(tmp_path):
    """On a cluster with `cluster.agent_node_resource` set, an experiment's Ray job reserves a
    sliver of that resource, so it lands on an agent node and never on a GPU node's spare CPUs."""
    from nanoresearch.config import load_settings
    from nanoresearch.execution import make_executor

    class Captured(Exception):
        pass

    class Client:
        def submit_job(self, **kw):
            self.kw = kw
            raise Captured

    for marker, want in (("agent", {"agent": 0.01}), (None, None)):
        s = load_settings(None, {"execution": {"backend": "ray", "ray_address": "http://127.0.0.1:1"},
                                 "cluster": {"agent_node_resource": marker}})
        client = Client()
        ex = make_executor(s, client=client)
        (tmp_path / "run.py").write_text("print(1)\n")
        with pytest.raises(Captured):
            ex._launch(tmp_path, "run.py", ex.default_limits)
        assert client.kw.get("entrypoint_resources") == want
