"""One place sets the offline environment (nanoresearch/offline.py), at process start; Ray
workers get the same variables through the job's runtime_env; no constructor sets them."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nanoresearch import offline

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("nanoresearch", "storage", "training", "actors", "serve", "nanoresearch_app",
         "nanoresearch_cli", "benchmarks")
# bubble.py builds an experiment's environment from nothing (a dict for the child process,
# never this process's env) and is shipped alone to Ray workers, so it cannot import offline.py
ALLOWED = {"nanoresearch/offline.py", "nanoresearch/execution/bubble.py"}
NAMES = re.compile("|".join(re.escape(k) for k in offline.ENV))


def test_exactly_one_module_names_the_offline_variables():
    hits = sorted(str(f.relative_to(REPO)) for room in ROOMS for f in (REPO / room).rglob("*.py")
                  if NAMES.search(f.read_text()))
    assert "nanoresearch/offline.py" in hits
    assert set(hits) <= ALLOWED, f"offline variables set outside nanoresearch/offline.py: {hits}"
    setters = [h for h in hits if re.search(r"os\.environ(\.setdefault\(|\[)", (REPO / h).read_text())]
    assert setters == ["nanoresearch/offline.py"]


def test_apply_sets_them_and_keeps_what_the_user_chose(monkeypatch):
    for k in offline.ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the user allows downloads
    got = offline.apply()
    assert got["HF_HUB_OFFLINE"] == "0" and os.environ["HF_HUB_OFFLINE"] == "0"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1" and got["TOKENIZERS_PARALLELISM"] == "false"


def test_the_cli_entry_applies_them_before_any_command(monkeypatch):
    from nanoresearch_cli import commands, main

    for k in offline.ENV:
        monkeypatch.delenv(k, raising=False)
    seen = {}
    monkeypatch.setattr(commands, "dispatch", lambda args: seen.update(os.environ) or 0)
    monkeypatch.setattr(commands, "setup_logging", lambda level: None)
    assert main.main(["status"]) == 0
    assert {k: seen.get(k) for k in offline.ENV} == offline.ENV


def test_ray_workers_get_them_through_the_runtime_env(monkeypatch):
    ray = pytest.importorskip("ray")
    from nanoresearch import ray_runtime

    for k in offline.ENV:
        monkeypatch.delenv(k, raising=False)  # even a driver that did not apply() ships them
    got = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: got.update(kw))
    assert ray_runtime.init_ray("ray://nowhere:1", env={"OMP_NUM_THREADS": "1"})
    env_vars = got["runtime_env"]["env_vars"]
    assert {k: env_vars[k] for k in offline.ENV} == offline.ENV and env_vars["OMP_NUM_THREADS"] == "1"
