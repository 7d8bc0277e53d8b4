"""Two `nanoresearch ideate` runs at once with the same data dir both finish: the second
joins the first one's local Ray (its store owner actor) instead of dying on the embedded
store's lock; each project runs in its own orchestrator actor. Scripted models (agents and
planner), the real store, Ray, agents as actors."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.cli.test_kill_resume import CLI, REPO, TOPIC, _cli


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_cli_projects_at_once_share_one_ray_and_store(tmp_path):
    sets, env = _cli(tmp_path)
    script = tmp_path / "responses.json"
    sets += ["--set", f"models.per_agent.planner=scripted:{script}"]
    procs = [subprocess.Popen(CLI + ["ideate", "--project", pid, "--topic", TOPIC, "--domain", "tabular",
                                     *sets], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for pid in ("p-one", "p-two")]
    outs = [p.communicate(timeout=1100)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
        assert "is open in another process" not in out and "Traceback" not in out
    spans = []
    for pid in ("p-one", "p-two"):
        proj = tmp_path / "home" / "projects" / pid
        assert json.loads((proj / "project.json").read_text())["status"] == "done"
        events = [json.loads(line) for line in (proj / "events.jsonl").read_text().splitlines()]
        assert events[-1]["kind"] == "cycle_done"
        spans.append((events[0]["time"], events[-1]["time"]))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1  # the two cycles overlapped: neither waited for the other
    assert not (tmp_path / "home" / "ray" / "head.json").exists()  # the owner cleaned up
