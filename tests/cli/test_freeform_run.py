"""Done-when of issue 13: `nanoresearch run --set coding.mode=freeform --set
models.per_agent.coding=scripted:<competent model>` produces a paper whose experiment
code was written by the model, ran in the sandbox, and whose tables come from that
code's metrics.json. The other agents answer '{}' (their rule-built fallbacks carry the
cycle); the coding model is the competent stand-in's co2 forecaster."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanoresearch.execution.sandbox import sandbox_problem
from tests.coding import competent as C
from tests.helpers import small_library

REPO = Path(__file__).resolve().parents[2]
TOPIC = "Can a ridge autoregression on differenced lags beat seasonal naive forecasts of monthly CO2?"


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
def test_freeform_run_writes_a_paper_from_the_model_written_code(tmp_path):
    (tmp_path / "default.json").write_text(json.dumps(["{}"]))
    coder = tmp_path / "coder.json"
    coder.write_text(json.dumps([C.answer(C.co2_files(), "24-lag differenced ridge AR")]))
    sets = [f"data_dir={tmp_path / 'home'}", f"models.default=scripted:{tmp_path / 'default.json'}",
            f"models.per_agent.coding=scripted:{coder}", "coding.mode=freeform", "storage.embedder=hash",
            f"literature.library_path={small_library(tmp_path)}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "nanoresearch_cli", "run", "--no-ray", "--project", "p-free",
                          "--topic", TOPIC, "--domain", "timeseries", *[x for s in sets for x in ("--set", s)]],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1400)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert "coding mode free: coding.mode=freeform set explicitly" in " ".join(res.stdout.split())
    proj = tmp_path / "home" / "projects" / "p-free"
    code = proj / "experiment" / "code"
    notes = json.loads((code / "coding_notes.json").read_text())
    assert notes["mode"] == "free" and notes["method_source"] == "llm_files" and notes["fallback"] == ""
    assert (code / "forecast.py").read_text() == C.CO2_FORECAST  # the model's code is what ran
    tree = json.loads((proj / "experiment" / "tree.json").read_text())
    assert tree["best"] is not None and tree["nodes"][tree["best"]]["status"] == "good"
    # the results table holds the model-written code's own test numbers
    mf = json.loads((code / "metrics.json").read_text())
    assert mf["runs"] and all(r["peak_memory_mb"] > 0 for r in mf["runs"])
    method = json.loads((code / "config.json").read_text())["method"]["name"]
    vals = [m["value"] for m in mf["metrics"] if m["method"] == method and m["split"] == "test"
            and m["metric"] == tree["primary_metric"]]
    results = (proj / "writing" / "sections" / "results.tex").read_text()
    assert f"{sum(vals) / len(vals):.3f}" in results
    assert "written entirely by the coding model" in (proj / "writing" / "sections" / "method.tex").read_text()
    assert (proj / "writing" / "paper.pdf").exists()
