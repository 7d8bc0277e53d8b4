from __future__ import annotations

import json

import pytest

from benchmarks.judge import effectiveness, judge_project
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import (
    Blueprint, DatasetSpec, MethodSpec, MetricRecord, PaperDraft, PlanningResult,
    ResearchTopic, Review, RunResult, RunStatus, WritingResult,
)
from nanoresearch.workspace import Workspace

TOPIC = ResearchTopic(question_id="t1", problem_statement="q", domain="tabular",
                      user_requirements=["3 seeds", "include an ablation"])


def _ws(tmp_path, *, pdf: bool, problems=(), ablations=True):
    ws = Workspace(tmp_path / "p")
    bp = Blueprint(title="t", datasets=[DatasetSpec(name="wine")], baselines=[MethodSpec(name="lr")],
                   proposed_method=MethodSpec(name="m"), metrics=["accuracy"],
                   primary_metric="accuracy", seeds=[0, 1, 2],
                   ablations=[MethodSpec(name="m-no-x")] if ablations else [])
    ws.write_json("ideation/planning.json", PlanningResult(blueprint=bp, passed=True))
    ms = [MetricRecord(method=m, dataset="wine", metric="accuracy", value=v, seed=s)
          for s in range(3) for m, v in (("m", 0.9), ("lr", 0.8))]
    ws.write_json("experiment/runs.json", {"runs": [RunResult(status=RunStatus.SUCCEEDED,
                                                              metrics=ms).model_dump(mode="json")]})
    ws.write_json("writing/result.json", WritingResult(
        draft=PaperDraft(title="T", problems=list(problems)),
        reviews=[Review(is_meta=True, overall=6)]))
    if pdf:
        ws.write_text("writing/paper.pdf", "%PDF-1.5 fake")
    return ws.root


def test_run_without_pdf_is_not_e2e(tmp_path):
    j = judge_project(_ws(tmp_path, pdf=False), TOPIC)
    assert j.executability == 0.0 and "no compiled PDF" in j.flags
    j2 = judge_project(_ws(tmp_path, pdf=True), TOPIC)
    assert j2.executability == 1.0


def test_fabrication_is_flagged_not_hidden(tmp_path):
    j = judge_project(_ws(tmp_path, pdf=True, problems=["unmatched number 97.3 in results"]), TOPIC)
    assert any("97.3" in f for f in j.flags)


def test_requirements_checked_from_artifacts(tmp_path):
    good = judge_project(_ws(tmp_path / "a", pdf=True), TOPIC)
    bad = judge_project(_ws(tmp_path / "b", pdf=True, ablations=False), TOPIC)
    assert good.compliance == 10.0 and bad.compliance == 5.0
    assert good.details["requirements"]["include an ablation"] is True


def test_effectiveness_sign_and_llm_rubric(tmp_path):
    ms = [MetricRecord(method="m", dataset="d", metric="mae", value=1.0),
          MetricRecord(method="b", dataset="d", metric="mae", value=2.0)]
    assert effectiveness(ms, "m", ["b"], "mae") == pytest.approx(0.5)
    assert effectiveness(ms, "m", ["b"], "accuracy") is None
    llm = ScriptedModel([json.dumps({"score": 8, "reason": "ok"})], cycle_last=True)
    j = judge_project(_ws(tmp_path, pdf=True), TOPIC, llm=llm)
    assert j.compliance == pytest.approx(9.0) and j.effectiveness == pytest.approx(0.125)
