"""The learning loop's steps inside a phase (called by actors/phases.py).

- `failed_directions` / `avoid_failed`: refuted hypotheses of the user's earlier projects
  (user-bound failed_direction memories) go to ideation, and a candidate that repeats one
  is not selected when another candidate exists.
- `enforce_requirements` / `check_paper_requirements`: standing requirements
  (storage/requirements.py) are enforced on the blueprint by rule and checked on the
  paper's section text; `requirements.json` at the project root says which were met.
- `record_debug`: each debug-loop event becomes a trajectory event whose action is what
  was done (the fix itself) and whose outcome is what happened, so reflection distills
  "when <error class> on <dataset>: <fix>" rather than "fix" or "gave_up".
- `record_verdict`: a refuted hypothesis becomes a failed direction, a supported one a
  validated configuration, both bound to the user (every later project sees them).
"""
from __future__ import annotations

import logging

from pydantic import BaseModel

from actors.orchestrator import Orchestrator
from nanoresearch.types import (
    AnalysisReport, IdeationResult, MemoryEntry, Phase, PlanningResult, WritingResult,
)
from storage.requirements import Check, check_all, enforce_blueprint, enforced_ids, unique_forms
from storage.scoring import overlap, tokens

log = logging.getLogger(__name__)
REFUTED = "refuted hypothesis: "
SEP = " -- "
REPEAT_OVERLAP = 0.7  # share of the shorter statement's content words that makes a repeat


class RequirementsRecord(BaseModel):
    checks: list[Check] = []

    @property
    def met(self) -> int:
        return sum(c.met is True for c in self.checks)


# ---------------------------------------------------------------------- failed directions
def failed_directions(o: Orchestrator) -> list[MemoryEntry]:
    st = o.state
    mems = o.team.store.retrieve_memories(
        query=st.topic.problem_statement, user_id=st.user_id,
        conditions={"domain": st.topic.domain} if st.topic.domain != "general" else {},
        project_id=st.project_id, k=10, categories=("failed_direction",))
    return [m for m in mems if REFUTED in m.content]


def refuted_statement(m: MemoryEntry) -> str:
    return m.content.split(REFUTED, 1)[-1].split(SEP)[0]


def repeats(statement: str, failed: list[MemoryEntry]) -> MemoryEntry | None:
    t = tokens(statement)
    return next((m for m in failed if overlap(t, tokens(refuted_statement(m))) >= REPEAT_OVERLAP), None)


def avoid_failed(o: Orchestrator, res: IdeationResult, failed: list[MemoryEntry]) -> IdeationResult:
    """Select the best candidate that repeats no refuted hypothesis (by rule, so even the
    embedded model does not walk into the same dead end twice)."""
    sel = res.selected()
    if sel is None or not failed or repeats(sel.statement, failed) is None:
        return res
    fresh = [h for h in sorted(res.hypotheses, key=lambda h: -h.score)
             if repeats(h.statement, failed) is None]
    hit = repeats(sel.statement, failed)
    if not fresh:
        o.record(Phase.IDEATION, "avoid_failed", f"every candidate repeats {hit.id}",
                 "kept the selected hypothesis; no other candidate", ok=False)
        return res
    o.record(Phase.IDEATION, "avoid_failed", f"dropped '{sel.statement[:120]}' (repeats {hit.id})",
             f"selected '{fresh[0].statement[:120]}' instead")
    return res.model_copy(update={"selected_hypothesis_id": fresh[0].id})


# ---------------------------------------------------------------------- requirements
def _requirements(o: Orchestrator) -> list[MemoryEntry]:
    return unique_forms(o.requirements())


def enforce_requirements(o: Orchestrator, pr: PlanningResult) -> PlanningResult:
    """Blueprint forms are met by rule: the blueprint gains the required baseline, metric,
    ablation or seeds; planning.json is rewritten and the checks recorded."""
    def run() -> RequirementsRecord:
        reqs, bp, enforced = _requirements(o), pr.blueprint, set()
        for m in reqs:
            new = enforce_blueprint(m.form, bp)
            if new is not bp:
                enforced.add(m.id)
                bp = new
        if enforced:
            o.ws.write_json("ideation/planning.json", pr.model_copy(update={"blueprint": bp}))
        rec = RequirementsRecord(checks=check_all(reqs, bp=bp, enforced=enforced))
        _write_project_record(o)
        return rec

    o.step(Phase.IDEATION, "requirements", "ideation/requirements.json", RequirementsRecord, run)
    return o.ws.read_model("ideation/planning.json", PlanningResult)


def check_paper_requirements(o: Orchestrator, res: WritingResult) -> None:
    def run() -> RequirementsRecord:
        reqs = _requirements(o)  # the writer enforced paper forms by rule (writing/provenance.json)
        prov = o.ws.read_json("writing/provenance.json") if o.ws.exists("writing/provenance.json") else {}
        rec = RequirementsRecord(checks=check_all(reqs, draft=res.draft,
                                                  enforced=enforced_ids(reqs, prov.get("requirements", []))))
        for c in rec.checks:
            if c.met is False:
                o.record(Phase.WRITING, "requirements", f"unmet: {c.form}", c.evidence, ok=False)
        o.ws.write_json("writing/requirements.json", rec)
        _write_project_record(o)
        return rec

    o.step(Phase.WRITING, "requirements", "writing/requirements.json", RequirementsRecord, run)


def _write_project_record(o: Orchestrator) -> None:
    """requirements.json: every requirement with its check on the artifact it names."""
    checks: list[Check] = []
    for rel in ("ideation/requirements.json", "writing/requirements.json"):
        if o.ws.exists(rel):
            checks += o.ws.read_model(rel, RequirementsRecord).checks
    by_id: dict[str, Check] = {}
    for c in checks:  # the paper's check is the later word on a paper form
        if c.met is not None or c.memory_id not in by_id:
            by_id[c.memory_id] = c
    out = RequirementsRecord(checks=list(by_id.values()))
    o.ws.write_json("requirements.json", out)


# ---------------------------------------------------------------------- debug events
def record_debug(o: Orchestrator, kind: str, data: dict) -> None:
    P = Phase.EXPERIMENT
    f = data.get("failure") or {}
    fail_class = f.get("category") or data.get("category", "")
    if kind == "failure":
        o.record(P, "run", f"attempt {data.get('attempt')} of the experiment",
                 f"{fail_class}: {data.get('message', '')}"[:1500], ok=False, failure=fail_class)
    elif kind == "outcome":
        src = str(data.get("source", ""))
        extra = {"skill_id": src.split(":", 1)[1]} if src.startswith("skill:") else {}
        o.record(P, "run", f"fix ({src}): {data.get('summary', '')}"[:600],
                 f"{'resolved' if data.get('resolved') else 'not resolved'} "
                 f"({data.get('status_after', '')}) {fail_class}: {f.get('message', '')}"[:1500],
                 ok=bool(data.get("resolved")), failure=fail_class, fix_source=src, **extra)
    elif kind == "gave_up":
        o.record(P, "debug", "the debugger produced no change",
                 f"{fail_class}: {f.get('message', '')}"[:1500], ok=False, failure=fail_class)


def record_verdict(o: Orchestrator, rep: AnalysisReport) -> None:
    from nanoresearch.types import Hypothesis, Trajectory
    rel = "experiment/trajectory.json"
    if o.ws.exists(rel) and any(e.step == "verdict" for e in o.ws.read_model(rel, Trajectory).events):
        return  # resumed: recorded already
    if rep.verdict not in ("refuted", "supported"):
        return
    ide = o.ws.read_model("ideation/ideation.json", IdeationResult)
    hyp = ide.selected() or Hypothesis(statement=o.state.topic.problem_statement)
    if rep.verdict == "refuted":
        o.record(Phase.EXPERIMENT, "verdict", "hypothesis tested",
                 f"{REFUTED}{hyp.statement}{SEP}{rep.summary[:300]}",
                 category="failed_direction", bound="user")
    else:
        o.record(Phase.EXPERIMENT, "verdict", "hypothesis tested",
                 f"supported: {hyp.statement}{SEP}{rep.summary[:300]}",
                 category="validated_config", bound="user")
