"""`--no-ray` trains and composes without importing Ray (training/background.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_ray_path_imports_no_ray():
    code = ("import sys; import training.background, nanoresearch_app.compose, nanoresearch_cli.commands;"
            "from nanoresearch_app.compose import train_round, agent_builders;"
            "bad = [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_background_round_hands_back_the_jobs_result(tmp_path):
    from nanoresearch.config import load_settings
    from nanoresearch.types import AdapterVersion
    from training.background import train_in_background

    s = load_settings(overrides={"data_dir": str(tmp_path)})
    rec = AdapterVersion(user_id="u", version=3, path=str(tmp_path), base_model="m", checksum="0" * 64)
    h = train_in_background(s, "u", tmp_path, job=lambda: rec)
    assert h.wait(30) is rec and h.done()
