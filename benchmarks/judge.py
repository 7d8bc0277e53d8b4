"""Scores one finished project workspace; nothing the system says about itself counts.

- requirements: every task requirement is checked by rule against the successful runs'
  metric records, the runs' durations and the paper's section text
  (benchmarks/judge_checks.py), or reported "unchecked"; never a package line or a
  file's mere existence;
- alignment: each of the persona's preferences checked the same way; score = the share of
  checked preferences met (0-1), None when none is checkable;
- compliance: the LLM rubric (1-10) averaged with 10 x the share of checked requirements met;
- executability (E2E): 1 only when the paper compiled to a real PDF AND every planned run
  finished (a metric for the proposed method and each baseline on each planned dataset);
- effectiveness: the proposed method's primary metric vs the best baseline (relative),
  from the metric records only;
- innovation / expression: the LLM rubric alone (the system's own novelty estimate and
  meta-review are not used); None when the rubric failed, and the failure is recorded.
The judgement records the judge model and every failed rubric call.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from benchmarks.judge_checks import Evidence, Verdict, check_text, share_met
from nanoresearch import artifacts
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (
    AnalysisReport, IdeationResult, MetricRecord, PlanningResult, ResearchTopic, WritingResult,
)

log = logging.getLogger(__name__)
LOWER_IS_BETTER = ("mae", "rmse", "mse", "error", "loss", "ece", "mape")
RUBRIC = {
    "compliance": "How well does the work follow the research question and EVERY user "
                  "requirement? 1 = ignores them, 5 = follows about half, 10 = follows all.",
    "innovation": "How novel is the hypothesis relative to the closest prior work? "
                  "1 = a known result restated, 5 = a modest variation, 10 = a genuinely new idea.",
    "expression": "How clear, well organised and correct is the writing? 1 = unreadable, "
                  "5 = understandable with problems, 10 = publication quality.",
}


class RubricScore(BaseModel):
    score: int = Field(ge=1, le=10)
    reason: str = ""


class Judgement(BaseModel):
    question_id: str
    compliance: float | None
    executability: float
    effectiveness: float | None
    innovation: float | None
    expression: float | None
    alignment: float | None = None
    requirements: list[Verdict] = []
    preferences: list[Verdict] = []
    judge_model: str = "none"
    rubric_failures: list[str] = []
    flags: list[str] = []
    details: dict[str, Any] = {}


def effectiveness(metrics: list[MetricRecord], method: str, baselines: list[str],
                  metric: str) -> float | None:
    """Relative improvement of `method` over the best baseline on `metric`, averaged over
    datasets; None when either side has no number."""
    lower = any(k in metric.lower() for k in LOWER_IS_BETTER)
    out = []
    for ds in sorted({m.dataset for m in metrics}):
        def mean(name: str) -> float | None:
            v = [m.value for m in metrics if m.dataset == ds and m.method == name and m.metric == metric]
            return sum(v) / len(v) if v else None
        mine = mean(method)
        base = [b for b in (mean(x) for x in baselines) if b is not None]
        if mine is None or not base:
            continue
        best = min(base) if lower else max(base)
        denom = abs(best) if abs(best) > 1e-12 else 1.0
        out.append(((best - mine) if lower else (mine - best)) / denom)
    return sum(out) / len(out) if out else None


class Rubric:
    """The LLM rubric calls of one judgement, with every failure kept."""

    def __init__(self, llm: LLM | None):
        self.llm = llm
        self.failures: list[str] = []

    def __call__(self, axis: str, context: str) -> float | None:
        if self.llm is None:
            return None
        try:
            got, _ = generate_structured(self.llm, [
                {"role": "system", "content": "You are a strict reviewer. " + RUBRIC[axis]},
                {"role": "user", "content": context[:3000] + "\n\nScore it 1-10 with a short reason."},
            ], RubricScore, retries=1, max_tokens=96)
            return float(got.score)
        except Exception as e:  # recorded in the judgement; the sweep goes on
            log.warning("judge rubric %s failed: %s", axis, e)
            self.failures.append(f"{axis}: {type(e).__name__}: {str(e)[:200]}")
            return None


def _mean(*vals: float | None) -> float | None:
    v = [x for x in vals if x is not None]
    return sum(v) / len(v) if v else None


def planned_runs_finished(plan: PlanningResult | None, ev: Evidence) -> tuple[bool, list[str]]:
    """Every (method, dataset) the blueprint planned has a metric from a successful run."""
    if plan is None:
        return False, ["no blueprint"]
    bp = plan.blueprint
    have = {(m.method, m.dataset) for m in ev.metrics}
    missing = [f"{meth} on {d.name}" for meth in [bp.proposed_method.name, *(b.name for b in bp.baselines)]
               for d in bp.datasets if (meth, d.name) not in have]
    return not missing, missing


def compiled_pdf(ws: Path, wr: WritingResult | None) -> bool:
    pdf = ws / artifacts.PAPER_PDF.path
    return bool(wr and wr.pdf_path and pdf.exists() and pdf.read_bytes()[:5] == b"%PDF-")


def judge_project(ws: Path, topic: ResearchTopic, llm: LLM | None = None,
                  preferences: list[str] = ()) -> Judgement:
    ws = Path(ws)
    # through the artifact registry: missing or invalid (logged) -> None, judged as absent
    ide: IdeationResult | None = artifacts.read(ws, artifacts.IDEATION)
    plan: PlanningResult | None = artifacts.read(ws, artifacts.PLANNING)
    rep: AnalysisReport | None = artifacts.read(ws, artifacts.ANALYSIS)
    wr: WritingResult | None = artifacts.read(ws, artifacts.WRITING)
    ev = Evidence.from_workspace(ws)
    runs_ok, missing = planned_runs_finished(plan, ev)
    pdf_ok = compiled_pdf(ws, wr)
    eff = None
    if plan and ev.metrics:
        bp = plan.blueprint
        eff = effectiveness(ev.metrics, bp.proposed_method.name, [b.name for b in bp.baselines],
                            bp.primary_metric)
    reqs = [check_text(r, ev) for r in topic.user_requirements]
    prefs = [check_text(p, ev) for p in preferences]
    req_share = share_met(reqs)
    hyp = ide.selected() if ide else None
    flags = list(wr.draft.problems) if wr else ["no writing result"]
    flags += [] if pdf_ok else ["no compiled PDF"]
    flags += [f"planned run missing: {m}" for m in missing[:10]]
    rub = Rubric(llm)
    ctx = f"Question: {topic.problem_statement}\nRequirements: {topic.user_requirements}\n"
    paper_text = "\n".join(ev.sections.values())[:3000]
    return Judgement(
        question_id=topic.question_id,
        compliance=_mean(rub("compliance", ctx + "Blueprint: " + (plan.blueprint.model_dump_json() if plan else "none")),
                         req_share * 10 if req_share is not None else None),
        executability=1.0 if pdf_ok and runs_ok else 0.0,
        effectiveness=eff,
        innovation=rub("innovation", ctx + f"Hypothesis: {hyp.statement if hyp else 'none'}"),
        expression=rub("expression", paper_text) if paper_text else None,
        alignment=share_met(prefs),
        requirements=reqs, preferences=prefs,
        judge_model=getattr(llm, "name", None) or (type(llm).__name__ if llm else "none"),
        rubric_failures=rub.failures, flags=flags,
        details={"verdict": rep.verdict if rep else None, "n_metrics": len(ev.metrics),
                 "pdf": pdf_ok, "planned_runs_missing": missing,
                 "requirements_unchecked": [v.text for v in reqs if v.status == "unchecked"]},
    )
