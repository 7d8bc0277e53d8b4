"""End to end: the sweep CLI on Ray over 1 task x 1 round x (base, full) with scripted
models (the agents' fallbacks carry the cycle; the experiment really runs in the sandbox
and the full variant really trains the planner adapter with SDPO), then a resumed rerun.
"""
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


def run_cli(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "benchmarks.sweep", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.timeout(2700)
def test_scripted_sweep_on_ray_then_resume(tmp_path):
    out = tmp_path / "sw"
    args = ["--tasks", "tab_01", "--rounds", "1", "--variants", "base,full", "--dry-scripted",
            "--out", str(out), "--set", f"literature.library_path={small_library(tmp_path)}",
            # a one-step SDPO round on short sequences: the full variant still trains and
            # publishes a real adapter per phase, in a fraction of the default round's time
            "--set", "training.profile=cpu", "--set", "training.steps=1",
            "--set", "training.max_prompt_tokens=256", "--set", "training.max_completion_tokens=64"]
    p = run_cli(args + ["--workers", "2"], 2400)
    assert p.returncode == 0, p.stderr[-3000:]
    last = json.loads(p.stdout.strip().splitlines()[-1])
    assert last["cells_done"] == 2 and set(last["variants_mean"]) == {"base", "full"}
    assert last["persona_kinds"] == ["deterministic"]
    assert "DETERMINISTIC" in p.stdout and "| full | 1 | 1 |" in p.stdout
    for f in ("report.md", "results.json", "curve_quality.png", "curve_tokens.png",
              "curve_debug_iterations.png"):
        assert (out / f).stat().st_size > 0
    layout = SweepLayout(out)
    base, full = layout.load(Cell("tab_01", "base", 1)), layout.load(Cell("tab_01", "full", 1))
    assert base.status == "done" and full.status == "done" and base.tokens > 0
    assert base.feedback["answers"] == 3  # the simulated user answered after every phase
    # only the full variant evolves: SDPO published an adapter in its own home
    assert list((layout.home("tab_01", "full") / "adapters").rglob("adapter_config.json"))
    assert not list((layout.home("tab_01", "base") / "adapters").rglob("adapter_config.json"))
    # a lost cell record: the rerun resumes that finished project (no phase redone)
    layout.record_path(Cell("tab_01", "base", 1)).unlink()
    p2 = run_cli(args + ["--no-ray"], 600)
    assert p2.returncode == 0, p2.stderr[-3000:]
    assert "1 cell(s) already done" in p2.stderr and "start tab_01/base/r1" in p2.stderr
    again = layout.load(Cell("tab_01", "base", 1))
    assert again.resumed and again.tokens == base.tokens and again.wall_s < base.wall_s
