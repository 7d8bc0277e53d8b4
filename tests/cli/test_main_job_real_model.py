"""The main job end to end with the real embedded model: `nanoresearch run` on local Ray
(agents as actors, the Serve planner on SmolLM2-135M, the store actor, the bubblewrap
sandbox, LaTeX) goes from a topic to a compiled paper whose numbers come from the run.
A small slice of the arXiv library keeps the index build short; everything else is the
default configuration."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.execution.conftest import free_port
from tests.helpers import small_library

REPO = Path(__file__).resolve().parents[2]
TOPIC = ("Does feature standardisation change which classifier (k-NN, SVM, logistic regression) "
         "is best for breast-cancer diagnosis?")


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.timeout(1800)
def test_topic_to_pdf_with_the_embedded_model_on_ray(tmp_path):
    home = tmp_path / "home"
    sets = [f"data_dir={home}", f"literature.library_path={small_library(tmp_path, 2000)}",
            f"serve.port={free_port()}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "nanoresearch_cli", "run", "--project", "p-main",
                          "--topic", TOPIC, "--domain", "tabular",
                          *[x for s in sets for x in ("--set", s)]],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1700)
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    proj = home / "projects" / "p-main"
    assert json.loads((proj / "project.json").read_text())["status"] == "done"
    # the planner wrote a plan before every task, through the Serve route, as JSON
    plans = [json.loads(p.read_text())["plan"] for p in proj.glob("*/plan_*.json")]
    assert len(plans) >= 4 and all(p["steps"] for p in plans)
    # the experiment really ran and the paper reports its numbers
    metrics = json.loads((proj / "experiment" / "code" / "metrics.json").read_text())
    assert metrics and all(0 <= m["value"] <= 1 for m in metrics if m["metric"] == "accuracy")
    pdf = proj / "writing" / "paper.pdf"
    assert pdf.stat().st_size > 20_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "References" in text and "Figure 1" in text and "Table 1" in text
    checks = json.loads((proj / "writing" / "checks.json").read_text())
    assert not [f for f in checks["numbers"] if f["action"] == "blocked"]
    assert not checks["unknown_cite_keys"] and not checks["bib_problems"]
    # every model call is metered in the project's ledger
    agents = {json.loads(line)["agent"] for line in (proj / "ledger.jsonl").read_text().splitlines()}
    assert {"ideation", "writing", "review"} <= agents
