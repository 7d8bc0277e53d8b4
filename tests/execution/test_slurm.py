"""The SLURM backend against a real one-node SLURM started by scripts/slurm_local.sh
(marker `slurm`; skipped with the reason where slurm-wlm/munge are missing or the
cluster cannot start, e.g. without root)."""
from __future__ import annotations

import shutil

import pytest

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.execution import Limits, make_executor
from nanoresearch.types import RunStatus

EXPERIMENT = """
import json, os
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
X, y = load_wine(return_X_y=True)
rows = []
for seed in (0, 1):
    clf = RandomForestClassifier(n_estimators=20, random_state=seed)
    rows.append(dict(method="rf", dataset="wine", metric="accuracy",
                     value=float(cross_val_score(clf, X, y, cv=3).mean()), seed=seed))
json.dump(rows, open("metrics.json", "w"))
print("key visible:", "OPENAI_API_KEY" in os.environ)
"""


@pytest.mark.slurm
def test_slurm_runs_generated_experiment_end_to_end(slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm_cluster)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-must-not-reach-the-job")
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.py").write_text(EXPERIMENT)
    ex = make_executor(Settings(data_dir=tmp_path / "d",
                                execution={"backend": "slurm", "timeout_s": 120, "memory_mb": 1024}))
    res = ex.run(wd)
    assert res.status == RunStatus.SUCCEEDED, (res.failure, res.stderr_tail[-1500:])
    assert res.backend == "slurm" and [m.seed for m in res.metrics] == [0, 1]
    assert all(m.value > 0.8 for m in res.metrics)
    assert "key visible: False" in res.stdout_tail
    # the wrapper and SLURM's logs live in a private job dir beside the work dir, removed after
    assert not (wd / "job_entry.py").exists() and not list(wd.glob("slurm-*"))
    assert not list(tmp_path.glob(".nr-slurm-*"))

    (wd / "run.py").write_text("import numpy as np\nnp.zeros(3) @ np.zeros(4)\n")
    res = ex.run(wd, limits=Limits(timeout_s=60, memory_mb=1024))
    assert res.status == RunStatus.FAILED
    assert (res.failure.file, res.failure.line) == ("run.py", 2) and "mismatch" in res.failure.message

    (wd / "run.py").write_text("import time\ntime.sleep(600)\n")
    res = ex.run(wd, limits=Limits(timeout_s=3, memory_mb=1024))
    assert res.status == RunStatus.TIMEOUT


@pytest.mark.slurm
def test_slurm_never_runs_the_codes_own_batch_script(slurm_cluster, tmp_path, monkeypatch):
    """C1: job.sbatch is written by a model and would run as the SLURM user (root on one
    node), outside any sandbox; the backend ignores it and runs its own template."""
    monkeypatch.setenv("SLURM_CONF", slurm_cluster)
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.py").write_text(
        "import json, os\njson.dump([dict(method='m', dataset='d', metric='acc', value=0.5)],"
        " open('metrics.json', 'w'))\nprint('uid', os.getuid(), 'home', os.environ['HOME'])\n")
    marker = tmp_path / "batch-script-ran"
    (wd / "job.sbatch").write_text(f"#!/bin/sh\n#SBATCH --job-name=custom\ntouch {marker}\n"
                                   "echo from-batch-script\nexit 4\n")
    res = make_executor(Settings(data_dir=tmp_path / "d",
                                 execution={"backend": "slurm", "timeout_s": 60})).run(wd)
    assert res.status == RunStatus.SUCCEEDED, (res.failure, res.stderr_tail)
    assert "from-batch-script" not in res.stdout_tail and not marker.exists()
    assert res.metrics[0].value == 0.5 and "home /work_dir" in res.stdout_tail  # in the sandbox
    assert "uid 0 " not in res.stdout_tail


def test_slurm_backend_without_sbatch_says_how_to_install(tmp_path, monkeypatch):
    import nanoresearch.execution.slurm as sl
    real = shutil.which
    monkeypatch.setattr(sl.shutil, "which", lambda n: None if n == "sbatch" else real(n))
    with pytest.raises(UserError, match="apt-get install slurm-wlm"):
        make_executor(Settings(data_dir=tmp_path, execution={"backend": "slurm"}))
