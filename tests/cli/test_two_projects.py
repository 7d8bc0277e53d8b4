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
    env["COLUMNS"] = "250"  # log lines unwrapped
    script = tmp_path / "responses.json"
    sets += ["--set", f"models.per_agent.planner=scripted:{script}"]
    procs = [subprocess.Popen(CLI + ["ideate", "-v", "--project", pid, "--topic", TOPIC, "--domain", "tabular",
                                     *sets], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for pid in ("p-one", "p-two")]
    outs = [p.communicate(timeout=1100)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
        assert "is open in another process" not in out and "Traceback" not in out
    for pid in ("p-one", "p-two"):
        proj = tmp_path / "home" / "projects" / pid
        assert json.loads((proj / "project.json").read_text())["status"] == "done"
        events = [json.loads(line) for line in (proj / "events.jsonl").read_text().splitlines()]
        assert events[-1]["kind"] == "cycle_done"
    # exactly one of them started Ray; the other joined it (and so its store owner)
    assert sum("joined the local Ray" in out for out in outs) == 1, [o[-2000:] for o in outs]
    assert not (tmp_path / "home" / "ray" / "head.json").exists()  # the owner cleaned up
