"""`nanoresearch doctor` and `--help` work; install hints print literally (rich must not
read "[gpu]" in `pip install -e '.[gpu]'` as markup and drop it)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.cli.test_kill_resume import REPO


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nanoresearch_cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_help_and_doctor():
    assert _cli("--help").returncode == 0
    res = _cli("doctor")
    assert "nanoresearch doctor" in res.stdout and "available" in res.stdout
    assert "'.[gpu]'" in res.stdout
