"""Sandbox and local executors on ordinary (non-hostile) experiments: results collected,
failures classified the same way a debugging agent will read them."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nanoresearch.config import Settings
from nanoresearch.errors import ConfigError, UserError
from nanoresearch.execution import (LocalExecutor, Limits, SandboxExecutor, make_executor,
                                    parse_traceback)
from nanoresearch.execution.env import minimal_env
from nanoresearch.execution.sandbox import sandbox_problem
from nanoresearch.types import RunStatus

needs_bwrap = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
FAST = Limits(timeout_s=20, memory_mb=1024, disk_mb=50)

GOOD = """
import json
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
X, y = load_iris(return_X_y=True)
rows = []
for seed in (0, 1):
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=seed)
    acc = LogisticRegression(max_iter=300).fit(Xtr, ytr).score(Xte, yte)
    rows.append(dict(method="logreg", dataset="iris", metric="accuracy", value=acc, seed=seed))
json.dump(rows, open("metrics.json", "w"))
open("figure.txt", "w").write("plot placeholder")
print("ok")
"""
SHAPE_BUG_MODEL = """
import numpy as np
def forward(x):
    w = np.ones((3, 4))
    return np.dot(x, w)
"""
SHAPE_BUG_RUN = """
import numpy as np
from model import forward
forward(np.ones((2, 5)))
"""


def write(work_dir: Path, files: dict[str, str]) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work_dir / name).write_text(text)
    return work_dir


@pytest.fixture(params=[pytest.param("sandbox", marks=needs_bwrap), "local"])
def executor(request):
    return SandboxExecutor(FAST) if request.param == "sandbox" else LocalExecutor(FAST)


def test_normal_experiment_collects_metrics_and_artifacts(executor, tmp_path):
    res = executor.run(write(tmp_path / "wd", {"run.py": GOOD}))
    assert res.status == RunStatus.SUCCEEDED, res.stderr_tail
    assert res.exit_code == 0 and res.failure is None
    assert [m.seed for m in res.metrics] == [0, 1]
    assert all(0.8 < m.value <= 1.0 and m.split == "test" for m in res.metrics)
    assert set(res.artifacts) == {"metrics.json", "figure.txt"}
    assert "ok" in res.stdout_tail and res.backend == executor.backend


def test_traceback_points_at_innermost_frame_in_work_dir(executor, tmp_path):
    wd = write(tmp_path / "wd", {"run.py": SHAPE_BUG_RUN, "model.py": SHAPE_BUG_MODEL})
    res = executor.run(wd)
    assert res.status == RunStatus.FAILED
    f = res.failure
    assert f.category == "exception" and f.file == "model.py" and f.line == 5
    assert "shapes (2,5) and (3,4) not aligned" in f.message
    assert "Traceback" in f.traceback


def test_timeout_kills_the_program(executor, tmp_path):
    wd = write(tmp_path / "wd", {"run.py": "import time\nprint('start', flush=True)\ntime.sleep(60)\n"})
    res = executor.run(wd, limits=FAST.with_(timeout_s=1.5))
    assert res.status == RunStatus.TIMEOUT and res.failure.category == "timeout"
    assert res.duration_s < 10 and "start" in res.stdout_tail


def test_memory_limit_is_reported_as_oom(executor, tmp_path):
    wd = write(tmp_path / "wd", {"run.py": "import numpy as np\nx = np.ones((40000, 40000))\n"})
    res = executor.run(wd, limits=FAST.with_(memory_mb=512))
    assert res.status == RunStatus.OOM and res.failure.category == "oom"
    assert res.failure.file == "run.py" and res.failure.line == 2


@pytest.mark.parametrize("content,needle", [
    (None, "no metrics.json"),
    ('{"accuracy": 0.9}', "must hold a JSON list"),
    ('[{"method": "m", "dataset": "d", "metric": "acc"}]', "value"),
    ('[{"method": "m", "dataset": "d", "metric": "acc", "value": NaN}]', "finite"),
    ("[1, 2", "not valid JSON"),
])
def test_missing_or_invalid_metrics(content, needle, tmp_path):
    code = "print('done')\n" if content is None else f"open('metrics.json','w').write({content!r})\n"
    res = LocalExecutor(FAST).run(write(tmp_path / "wd", {"run.py": code}))
    assert res.status == RunStatus.NO_METRICS and res.failure.category == "missing_metrics"
    assert needle in res.failure.message
    assert "JSON list like" in res.failure.message or "diverged" in res.failure.message


def test_stale_metrics_from_a_previous_attempt_never_count(tmp_path):
    wd = write(tmp_path / "wd", {"run.py": "print('forgot to write metrics')\n",
                                 "metrics.json": json.dumps([dict(method="m", dataset="d",
                                                                  metric="acc", value=1.0)])})
    assert LocalExecutor(FAST).run(wd).status == RunStatus.NO_METRICS


@needs_bwrap
def test_torch_experiment_runs_in_sandbox(tmp_path):
    code = ("import json, torch\ntorch.manual_seed(0)\nx = torch.randn(64, 3)\n"
            "loss = float(((x @ torch.ones(3, 1)) ** 2).mean())\n"
            "json.dump([dict(method='t', dataset='synthetic', metric='mse', value=loss)],"
            " open('metrics.json', 'w'))\nprint(torch.get_num_threads())\n")
    res = SandboxExecutor(Limits(timeout_s=60, memory_mb=2048)).run(write(tmp_path / "wd", {"run.py": code}))
    assert res.status == RunStatus.SUCCEEDED, res.stderr_tail
    assert res.stdout_tail.strip() == "1"  # one thread per experiment


def test_bad_inputs_raise_user_errors(tmp_path):
    ex = LocalExecutor(FAST)
    with pytest.raises(UserError, match="does not exist"):
        ex.run(tmp_path / "missing")
    with pytest.raises(UserError, match="not found"):
        ex.run(write(tmp_path / "wd", {"other.py": ""}))
    with pytest.raises(UserError, match="inside the work dir"):
        ex.run(tmp_path / "wd", "../x.py")
    with pytest.raises(UserError, match="looks like a secret"):
        minimal_env("/w", extra={"OPENAI_API_KEY": "x"})


def test_sandbox_without_bwrap_says_how_to_install(monkeypatch):
    import nanoresearch.execution.sandbox as sb
    real = shutil.which
    monkeypatch.setattr(sb.shutil, "which", lambda name: None if name == "bwrap" else real(name))
    with pytest.raises(UserError, match="apt-get install bubblewrap"):
        sb.SandboxExecutor(FAST)


def test_make_executor_from_settings(tmp_path):
    with pytest.raises(ConfigError, match="execution.allow_unsandboxed"):  # C1: no silent host runs
        make_executor(Settings(data_dir=tmp_path, execution={"backend": "local"}))
    s = Settings(data_dir=tmp_path, execution={"backend": "local", "timeout_s": 30, "memory_mb": 700,
                                               "allow_unsandboxed": True})
    ex = make_executor(s)
    assert isinstance(ex, LocalExecutor) and ex.default_limits.memory_mb == 700
    if sandbox_problem() is None:
        assert isinstance(make_executor(Settings(data_dir=tmp_path)), SandboxExecutor)
    with pytest.raises((ConfigError, ValueError)):
        make_executor(Settings(data_dir=tmp_path, execution={"backend": "nope"}))


def test_parse_traceback_maps_remote_paths(tmp_path):
    write(tmp_path, {"train.py": "x"})
    err = ('Traceback (most recent call last):\n'
           '  File "/tmp/ray/session_1/runtime_resources/working_dir_files/abc/train.py", line 7, in <module>\n'
           '    main()\n'
           '  File "/usr/lib/python3/dist-packages/numpy/core/x.py", line 3, in f\n'
           '    raise ValueError\n'
           'ValueError: bad\n')
    tb = parse_traceback(err, tmp_path)
    assert (tb.file, tb.line, tb.exception) == ("train.py", 7, "ValueError: bad")
