"""Scores one finished project workspace on the paper's five axes.

- compliance: does the work follow the topic and the user's explicit requirements
  (LLM rubric 1-10, averaged with the fraction of requirements checked in the artifacts);
- executability (E2E): 1 only if an experiment run succeeded with metrics AND a PDF exists;
- effectiveness: the proposed method's primary metric vs the best baseline, as a relative
  improvement (sign-corrected for lower-is-better metrics), from metrics JSON only;
- innovation: the selected hypothesis' novelty score (search-based) blended with an LLM
  rubric score;
- expression: LLM rubric on the paper text, blended with the meta-review's overall score.
Fabrication problems found by the writing checks are reported as flags, never folded
silently into a score.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (
    AnalysisReport, IdeationResult, MetricRecord, PlanningResult, ResearchTopic, RunStatus,
    WritingResult,
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
    compliance: float
    executability: float
    effectiveness: float | None
    innovation: float
    expression: float
    flags: list[str] = []
    details: dict[str, Any] = {}


def _read(ws: Path, rel: str, cls):
    p = ws / rel
    return cls.model_validate_json(p.read_text()) if p.exists() else None


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


def requirement_checks(topic: ResearchTopic, ws: Path) -> dict[str, bool]:
    """Deterministic checks of requirements that the artifacts can show."""
    plan = _read(ws, "ideation/planning.json", PlanningResult)
    tex = "\n".join(p.read_text(errors="ignore") for p in (ws / "writing").glob("*.tex")) \
        if (ws / "writing").exists() else ""
    checks: dict[str, bool] = {}
    for req in topic.user_requirements:
        r = req.lower()
        if "ablation" in r:
            checks[req] = bool(plan and plan.blueprint.ablations)
        elif m := re.search(r"(\d+)\s+seeds?", r):
            checks[req] = bool(plan and len(plan.blueprint.seeds) >= int(m.group(1)))
        elif "efficien" in r or "time" in r:
            checks[req] = bool(re.search(r"time|second|efficien", tex, re.I))
        elif "journal" in r or "conference" in r:
            checks[req] = bool(tex)  # the format itself is applied by the template
    return checks


def rubric(llm: LLM | None, axis: str, context: str) -> float | None:
    if llm is None:
        return None
    try:
        got, _ = generate_structured(llm, [
            {"role": "system", "content": "You are a strict reviewer. " + RUBRIC[axis]},
            {"role": "user", "content": context[:3000] + "\n\nScore it 1-10 with a short reason."},
        ], RubricScore, retries=1, max_tokens=96)
        return float(got.score)
    except Exception as e:  # a judge failure must not sink the whole sweep
        log.warning("judge rubric %s failed: %s", axis, e)
        return None


def _blend(*vals: float | None) -> float:
    v = [x for x in vals if x is not None]
    return sum(v) / len(v) if v else 0.0


def judge_project(ws: Path, topic: ResearchTopic, llm: LLM | None = None) -> Judgement:
    ws = Path(ws)
    ide = _read(ws, "ideation/ideation.json", IdeationResult)
    plan = _read(ws, "ideation/planning.json", PlanningResult)
    rep = _read(ws, "experiment/analysis.json", AnalysisReport)
    wr = _read(ws, "writing/result.json", WritingResult)
    runs_p = ws / "experiment" / "runs.json"
    runs = json.loads(runs_p.read_text())["runs"] if runs_p.exists() else []
    ok_runs = [r for r in runs if r.get("status") == RunStatus.SUCCEEDED.value and r.get("metrics")]
    metrics = [MetricRecord.model_validate(m) for r in ok_runs for m in r["metrics"]]
    pdf = ws / "writing" / "paper.pdf"
    e2e = 1.0 if ok_runs and pdf.exists() else 0.0
    eff = None
    if plan and metrics:
        bp = plan.blueprint
        eff = effectiveness(metrics, bp.proposed_method.name, [b.name for b in bp.baselines],
                            bp.primary_metric)
    checks = requirement_checks(topic, ws)
    req_frac = (sum(checks.values()) / len(checks)) if checks else None
    hyp = ide.selected() if ide else None
    novelty = hyp.novelty.score * 10 if hyp and hyp.novelty else None
    paper_text = "\n".join(s.latex for s in wr.draft.sections)[:3000] if wr else ""
    metas = [r for r in wr.reviews if r.is_meta] if wr else []
    flags = list(wr.draft.problems) if wr else ["no writing result"]
    if not pdf.exists():
        flags.append("no compiled PDF")
    ctx = f"Question: {topic.problem_statement}\nRequirements: {topic.user_requirements}\n"
    return Judgement(
        question_id=topic.question_id,
        compliance=_blend(rubric(llm, "compliance", ctx + f"Blueprint: {plan.blueprint.model_dump_json() if plan else 'none'}"),
                          req_frac * 10 if req_frac is not None else None),
        executability=e2e,
        effectiveness=eff,
        innovation=_blend(novelty, rubric(llm, "innovation", ctx + f"Hypothesis: {hyp.statement if hyp else 'none'}")),
        expression=_blend(rubric(llm, "expression", paper_text) if paper_text else 1.0,
                          float(metas[-1].overall) if metas else None),
        flags=flags,
        details={"requirements": checks, "verdict": rep.verdict if rep else None,
                 "n_runs": len(runs), "n_metrics": len(metrics)},
    )
