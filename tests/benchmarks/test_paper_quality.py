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


def test_a_design_the_harness_could_not_run_fails_the_design_check(tmp_path):
    """A capacity axis the offline harness has no knob for (the number of trees): the
    blueprint says so (`unrealised`), the paper states it as a limitation, and the check
    counts it as a design failure instead of passing it. cv_03's axis (principal
    components) runs, and its check fails only while its capacity levels have not run."""
    from actors.planning_design import derive_design
    from nanoresearch import artifacts as A
    from nanoresearch.types import (Blueprint, DatasetSpec, MethodSpec, PlanningResult,
                                    ResearchTopic)

    task = json.loads((pq.TASKS / "cv_03.json").read_text())
    cv03 = ResearchTopic.model_validate({k: v for k, v in task.items() if k in ResearchTopic.model_fields})
    assert derive_design(cv03).kind == "capacity" and not derive_design(cv03).unrealised
    topic = cv03.model_copy(update={"problem_statement": "How many trees does a random forest need to match "
                                                          "k-NN on Fashion-MNIST?"})
    design = derive_design(topic)
    assert design.unrealised  # the harness has no knob for the number of trees
    bp = Blueprint(title="PCA components for k-NN", domain="cv", datasets=[DatasetSpec(name="fashion_mnist")],
                   proposed_method=MethodSpec(name="k-NN"), baselines=[MethodSpec(name="k-NN on raw pixels")],
                   metrics=["accuracy"], primary_metric="accuracy", seeds=[0], design=design)
    project = tmp_path / "cv_03"
    (project / "ideation").mkdir(parents=True)
    A.PLANNING.at(project / "ideation").write_text(PlanningResult(blueprint=bp).model_dump_json())
    row = pq.measure(project, topic)
    assert row["design"] is False
    assert any(i.startswith("unrealised: curves over this axis") for i in row["design_issues"])
    # cv_03's capacity design is runnable: with no capacity runs recorded, the check says they did not run
    A.PLANNING.at(project / "ideation").write_text(PlanningResult(blueprint=bp.model_copy(
        update={"design": derive_design(cv03)})).model_dump_json())
    row = pq.measure(project, cv03)
    assert row["design"] is False and any("capacity conditions (capacity:...) did not run" in i
                                          for i in row["design_issues"])


def test_an_arm_without_its_technique_or_a_lost_named_baseline_fails_the_design_check(tmp_path):
    """cv_01's "random Fourier features" arm ran as a plain logistic regression and tab_02's
    "class-weighted" baseline was merged into the unweighted one; both passed before. The
    check reads the run config and the coding notes: a merge the notes record passes."""
    from nanoresearch.types import Blueprint, MethodSpec

    project = tmp_path / "p"
    (project / "experiment" / "code").mkdir(parents=True)
    bp = Blueprint(title="t", domain="tabular", proposed_method=MethodSpec(name="RFF with a linear classifier"),
                   datasets=[], primary_metric="macro_f1", seeds=[0],
                   baselines=[MethodSpec(name="default threshold logistic regression"),
                              MethodSpec(name="class-weighted logistic regression")], metrics=["macro_f1"])
    cfg = {"method": {"name": "RFF with a linear classifier", "family": "logreg", "steps": []},
           "baselines": [{"name": "default threshold logistic regression", "family": "logreg"}], "ablations": []}
    (project / "experiment" / "code" / "config.json").write_text(json.dumps(cfg))
    ran = {"RFF with a linear classifier", "default threshold logistic regression"}
    assert pq._arm_issues(project, bp, ran) == [
        "arm 'RFF with a linear classifier' names random Fourier features but runs without it",
        "named baseline 'class-weighted logistic regression' did not run"]
    cfg["method"]["steps"] = ["standardize", {"rff": 1000}]
    (project / "experiment" / "code" / "config.json").write_text(json.dumps(cfg))
    (project / "experiment" / "code" / "coding_notes.json").write_text(json.dumps({
        "kind": "coding_notes", "mode": "seeded", "notes": [
        "baseline 'class-weighted logistic regression' is the same configuration as "
        "'default threshold logistic regression'; it runs once"]}))
    assert pq._arm_issues(project, bp, ran) == []
