"""A Ray sweep's SDPO rounds go through the Ray Train job (issue 16): the smallest sweep
that trains, one task x one round x the sdpo variant with scripted models, on a local Ray
of ONE CPU held by the cell's own task (the case where 2 chains on 2 CPUs would deadlock
if the Train worker could not get the CPU of the task waiting for it). Every adapter the
round published says, in its own record, that a Ray Train worker made it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.sweep_cells import Cell, SweepLayout
from tests.helpers import small_library

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.ray
@pytest.mark.timeout(1800)
def test_a_ray_sweeps_sdpo_rounds_train_in_the_ray_train_job(tmp_path):
    from storage.adapters import AdapterRegistry
    from training.trained_by import RAY_TRAIN_METRIC

    out = tmp_path / "sw"
    args = ["--tasks", "tab_01", "--rounds", "1", "--variants", "sdpo", "--dry-scripted",
            "--workers", "1", "--out", str(out),
            "--set", f"literature.library_path={small_library(tmp_path)}",
            "--set", "training.profile=cpu", "--set", "training.steps=1",
            "--set", "training.max_prompt_tokens=128", "--set", "training.max_completion_tokens=16"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own local Ray
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-m", "benchmarks.sweep", *args], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=1700)
    assert p.returncode == 0, p.stderr[-3000:]
    last = json.loads(p.stdout.strip().splitlines()[-1])
    assert last["cells_done"] == 1 and last["workers"] == 1
    layout = SweepLayout(out)
    cell = layout.load(Cell("tab_01", "sdpo", 1))
    assert cell.status == "done" and cell.sdpo["path"] == "ray_train"
    n = cell.sdpo["feedback"]
    assert n >= 1 and cell.sdpo["trained_by"] == ["ray_train"] * n
    user = next(p.name for p in (layout.home("tab_01", "sdpo") / "adapters").iterdir()
                if p.is_dir() and not p.name.startswith("."))
    versions = AdapterRegistry(layout.home("tab_01", "sdpo") / "adapters").list(user)
    assert len(versions) == n and all(v.metrics[RAY_TRAIN_METRIC] == 1.0 for v in versions)
    updates = json.loads((layout.home("tab_01", "sdpo") / "projects" / cell.project_id /
                          "planner_updates.json").read_text())
    assert [u["trained_by"] for u in updates] == ["ray_train"] * n
