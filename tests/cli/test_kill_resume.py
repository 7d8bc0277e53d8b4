"""The CLI survives `kill -9`: a project killed mid-run resumes from its last finished
step (nothing finished is redone) and ends with a compiled paper. Scripted models ('{}'
for every call: the agents' fallbacks carry the cycle), the real sandbox, LaTeX and
store; a real subprocess killed with SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import small_library

REPO = Path(__file__).resolve().parents[2]
TOPIC = "Does feature standardisation change which classifier is best for breast-cancer diagnosis?"


def _cli(tmp: Path) -> tuple[list[str], dict]:
    script = tmp / "responses.json"
    script.write_text(json.dumps(["{}"]))
    spec = f"scripted:{script}"
    sets = [f"data_dir={tmp / 'home'}", f"models.default={spec}", "storage.embedder=hash",
            f"literature.library_path={small_library(tmp)}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return [x for s in sets for x in ("--set", s)], env


CLI = [sys.executable, "-m", "nanoresearch_cli"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_9_mid_run_then_resume_redoes_nothing_finished(tmp_path):
    sets, env = _cli(tmp_path)
    proj = tmp_path / "home" / "projects" / "p-kill9"
    run = subprocess.Popen(CLI + ["run", "--no-ray", "--project", "p-kill9", "--topic", TOPIC,
                                  "--domain", "tabular", *sets], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = proj / "ideation" / "ideation.json"  # the first step's artifact
    deadline = time.time() + 600
    while not marker.exists() and run.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), run.communicate(timeout=30)[0][-3000:] if run.poll() is not None else "no step finished"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL
    before = marker.stat().st_mtime_ns
    state = json.loads((proj / "project.json").read_text())
    assert state["status"] == "running"  # killed: nobody marked it finished

    res = subprocess.run(CLI + ["resume", "p-kill9", "--no-ray", *sets], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert "skip ideation (finished earlier)" in res.stdout
    assert marker.stat().st_mtime_ns == before  # the finished step was read back, not rerun
    final = json.loads((proj / "project.json").read_text())
    assert final["status"] == "done"
    assert (proj / "writing" / "paper.pdf").stat().st_size > 10_000
    runs = list((proj / "experiment").rglob("metrics.json"))
    assert runs, "the experiment ran in the sandbox and wrote metrics"
