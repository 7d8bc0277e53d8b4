"""`nanoresearch submit`: the same CLI entry point runs as a `ray job submit` job on a
(local, private) Ray head, with this checkout shipped as the job's working_dir."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.cli.test_kill_resume import CLI, REPO, TOPIC, _cli


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_submit_runs_the_cli_as_a_ray_job(ray_head, tmp_path):
    sets, env = _cli(tmp_path)
    res = subprocess.run(CLI + ["submit", "--address", ray_head, "--", "ideate", "--no-ray",
                                "--project", "p-job", "--topic", TOPIC, "--domain", "tabular", *sets],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=800)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "ray job submit" in out and "succeeded" in out.lower()
    proj = tmp_path / "home" / "projects" / "p-job"
    assert json.loads((proj / "project.json").read_text())["status"] == "done"
    assert json.loads((proj / "ideation" / "ideation.json").read_text())["kind"] == "ideation_result"


def test_submit_without_an_address_says_what_to_do(tmp_path, monkeypatch):
    sets, env = _cli(tmp_path)
    env.pop("RAY_ADDRESS", None)
    res = subprocess.run(CLI + ["submit", "--", "status", *sets], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "--address" in (res.stdout + res.stderr)
