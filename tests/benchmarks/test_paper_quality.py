"""paper_quality takes a task list and an out dir, runs only the tasks not finished yet
(an interrupted sweep resumes), and writes its rows and summary there."""
import json

from benchmarks import paper_quality as pq


def test_finished_tasks_are_not_run_again_and_results_land_in_the_out_dir(tmp_path, monkeypatch):
    done = tmp_path / "projects" / "tab_01" / "writing"
    done.mkdir(parents=True)
    (done / "result.json").write_text("{}")
    ran = []
    monkeypatch.setattr(pq, "run_task", lambda qid, data_dir, fast, overrides=(): ran.append(qid) or 1)
    pq.main(["--tasks", "tab_01,ts_01", "--data-dir", str(tmp_path), "--fast"])
    assert ran == ["ts_01"]  # tab_01 finished: resumed, not rerun
    rows = [json.loads(x) for x in (tmp_path / "paper_quality.jsonl").read_text().splitlines()]
    assert [(r["task"], r["rc"]) for r in rows] == [("tab_01", "resumed"), ("ts_01", 1)]
    summary = json.loads((tmp_path / "paper_quality.json").read_text())
    assert summary["tasks"] == 2 and "ts_01" in summary["design_failures"]
    pq.main(["--tasks", "tab_01", "--data-dir", str(tmp_path), "--rerun"])
    assert ran == ["ts_01", "tab_01"]


def test_an_interrupted_project_is_resumed_not_restarted(tmp_path, monkeypatch):
    (tmp_path / "projects" / "ts_01").mkdir(parents=True)
    (tmp_path / "projects" / "ts_01" / "project.json").write_text("{}")
    calls = []
    monkeypatch.setattr(pq.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or type("R", (), {"returncode": 0})())
    pq.run_task("ts_01", tmp_path, fast=True, overrides=["providers.embedded_engine=transformers"])
    assert calls[0][3:6] == ["resume", "--no-ray", "ts_01"] and "budgets.review_rounds=0" in calls[0]
    assert calls[0][-2:] == ["--set", "providers.embedded_engine=transformers"]
