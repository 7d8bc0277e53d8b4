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
- `retrieve_for` / `count_cited`: the agents that act without a planner call of their own
  (analysis, review) retrieve like the others: skills of their stage with the task's
  conditions as tags, memories filtered by those conditions and bound to this project or
  the user (standing requirements first where asked), this project's feedback in the
  query. A retrieved skill counts as used, and a memory is reinforced, only when the
  agent's accepted output cites its id; success is that step's outcome.
"""
from __future__ import annotations

import logging


from actors.orchestrator import Orchestrator
from nanoresearch import artifacts as A
from nanoresearch.errors import UserError
from nanoresearch.types import (
    AnalysisReport, Blueprint, IdeationResult, MemoryEntry, Phase, PlanningResult, RequirementsRecord,
    SkillEntry, SkillStage, WritingResult,
)
from storage.conditions import condition_tags, filter_conditions
from storage.requirements import Check, check_all, enforce_blueprint, enforced_ids, unique_forms
from storage.scoring import overlap, tokens

log = logging.getLogger(__name__)
REFUTED = "refuted hypothesis: "
SEP = " -- "
REPEAT_OVERLAP = 0.7  # share of the shorter statement's content words that makes a repeat


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


def count_options(bp: Blueprint) -> dict[str, list[str]]:
    """What a count requirement ("more datasets", "strong baselines") may add, best first:
    catalog datasets of the blueprint's first dataset's domain and task, smallest first
    (the experiment runs them all inside one budget), and the scaffold's baselines for it."""
    from nanoresearch.datasets import get_catalog
    from nanoresearch.scaffolds import task_spec

    catalog = get_catalog()
    first = next((catalog[d.name] for d in bp.datasets if d.name in catalog), None)
    if first is None:
        return {}
    same = sorted((c for c in catalog.values() if (c.domain, c.task) == (first.domain, first.task)),
                  key=lambda c: (c.n_samples or 10**9, c.name))
    try:
        baselines = sorted((b["name"] for b in task_spec(first.domain, first.task)["baselines"]),
                           key=lambda n: "majority" in n.lower())  # a strong one first
    except KeyError:
        baselines = []
    return {"datasets": [c.name for c in same], "baselines": baselines}


def enforce_requirements(o: Orchestrator, pr: PlanningResult) -> PlanningResult:
    """Blueprint forms are met by rule: the blueprint gains the required baseline, metric,
    ablation, seeds, or datasets/baselines up to a required count; planning.json is
    rewritten and the checks recorded."""
    def run() -> RequirementsRecord:
        reqs, bp, enforced = _requirements(o), pr.blueprint, set()
        options = count_options(bp) if any(m.form.get("field", "").startswith("min_") for m in reqs) else {}
        for m in reqs:
            new = enforce_blueprint(m.form, bp, options)
            if new is not bp:
                enforced.add(m.id)
                bp = new
        if enforced:
            o.ws.write_json(A.PLANNING.path, pr.model_copy(update={"blueprint": bp}))
        rec = RequirementsRecord(checks=check_all(reqs, bp=bp, enforced=enforced))
        _write_project_record(o)
        return rec

    o.step(Phase.IDEATION, "requirements", A.REQUIREMENTS.rel(phase=Phase.IDEATION), RequirementsRecord, run)
    return o.ws.read_model(A.PLANNING.path, PlanningResult)


def check_paper_requirements(o: Orchestrator, res: WritingResult) -> None:
    def run() -> RequirementsRecord:
        reqs = _requirements(o)  # the writer enforced paper forms by rule (provenance)
        prov = o.ws.read_json(A.PROVENANCE.path) if o.ws.exists(A.PROVENANCE.path) else {}
        # a blueprint form said after the blueprint was made (at the ideation gate) is
        # checked on the blueprint that ran, so the project's record says whether it held
        bp = o.ws.read_model(A.PLANNING.path, PlanningResult).blueprint if o.ws.exists(A.PLANNING.path) else None
        rec = RequirementsRecord(checks=check_all(reqs, bp=bp, draft=res.draft,
                                                  enforced=enforced_ids(reqs, prov.get("requirements", []))))
        for c in rec.checks:
            if c.met is False:
                o.record(Phase.WRITING, "requirements", f"unmet: {c.form}", c.evidence, ok=False)
        o.ws.write_json(A.REQUIREMENTS.rel(phase=Phase.WRITING), rec)
        _write_project_record(o)
        return rec

    o.step(Phase.WRITING, "requirements", A.REQUIREMENTS.rel(phase=Phase.WRITING), RequirementsRecord, run)


def _write_project_record(o: Orchestrator) -> None:
    """requirements.json: every requirement with its check on the artifact it names."""
    checks: list[Check] = []
    for rel in (A.REQUIREMENTS.rel(phase=Phase.IDEATION), A.REQUIREMENTS.rel(phase=Phase.WRITING)):
        if o.ws.exists(rel):
            checks += o.ws.read_model(rel, RequirementsRecord).checks
    by_id: dict[str, Check] = {}
    for c in checks:  # the later check is the word on a form; enforcement by either step stays
        if c.met is not None or c.memory_id not in by_id:
            prev = by_id.get(c.memory_id)
            by_id[c.memory_id] = c.model_copy(update={"enforced": c.enforced or bool(prev and prev.enforced)})
    out = RequirementsRecord(checks=list(by_id.values()))
    o.ws.write_json(A.PROJECT_REQUIREMENTS.path, out)


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
        extra: dict = {"skill_id": src.split(":", 1)[1]} if src.startswith("skill:") else {}
        if data.get("skills_cited"):  # a model patch that followed offered skills cites them
            extra["skill_ids"] = list(data["skills_cited"])
        o.record(P, "run", f"fix ({src}): {data.get('summary', '')}"[:600],
                 f"{'resolved' if data.get('resolved') else 'not resolved'} "
                 f"({data.get('status_after', '')}) {fail_class}: {f.get('message', '')}"[:1500],
                 ok=bool(data.get("resolved")), failure=fail_class, fix_source=src, **extra)
    elif kind == "gave_up":
        o.record(P, "debug", "the debugger produced no change",
                 f"{fail_class}: {f.get('message', '')}"[:1500], ok=False, failure=fail_class)


def record_verdict(o: Orchestrator, rep: AnalysisReport) -> None:
    from nanoresearch.types import Hypothesis, Trajectory
    rel = A.TRAJECTORY.rel(phase=Phase.EXPERIMENT)
    if o.ws.exists(rel) and any(e.step == "verdict" for e in o.ws.read_model(rel, Trajectory).events):
        return  # resumed: recorded already
    if rep.verdict not in ("refuted", "supported"):
        return
    ide = o.ws.read_model(A.IDEATION.path, IdeationResult)
    hyp = ide.selected() or Hypothesis(statement=o.state.topic.problem_statement)
    if rep.verdict == "refuted":
        o.record(Phase.EXPERIMENT, "verdict", "hypothesis tested",
                 f"{REFUTED}{hyp.statement}{SEP}{rep.summary[:300]}",
                 category="failed_direction", bound="user")
    else:
        o.record(Phase.EXPERIMENT, "verdict", "hypothesis tested",
                 f"supported: {hyp.statement}{SEP}{rep.summary[:300]}",
                 category="validated_config", bound="user")


# ---------------------------------------------------------------------- agent retrieval
def retrieve_for(o: Orchestrator, stage: SkillStage, query: str, k: int = 4,
                 requirements: bool = False) -> tuple[list[SkillEntry], list[MemoryEntry]]:
    """Skills of `stage` and memories for the task, as `Orchestrator.plan` retrieves them
    for the planner (conditions as tags and filters, project/user binding, feedback so far
    in the query); `requirements`: the user's standing requirements lead the memories."""
    st, store = o.state, o.team.store
    conds, fb = o.conditions(), o.feedback_so_far()
    q = f"{query}\nResearcher feedback so far:\n{fb}" if fb else query
    skills = store.retrieve_skills(query=q, stage=stage, user_id=st.user_id,
                                   tags=condition_tags(conds), k=k)
    mems = store.retrieve_memories(query=q, user_id=st.user_id, conditions=filter_conditions(conds),
                                   project_id=st.project_id, k=k)
    if requirements:
        reqs = unique_forms(o.requirements())
        mems = reqs + [m for m in mems if m.id not in {r.id for r in reqs}]
    return list(skills), list(mems)


def count_cited(o: Orchestrator, skills: list[SkillEntry], memories: list[MemoryEntry],
                cited: list[str], ok: bool) -> tuple[list[str], list[str]]:
    """Usage of the cited skills (success = `ok`, the step's outcome) and reinforcement of
    the cited memories, as `Orchestrator.finish_phase` does for a plan's citations: a
    memory a successful step relied on gains support, a validated configuration that a
    failed step relied on is contradicted. Returns (skill ids, memory ids) counted."""
    ids, store = set(cited), o.team.store
    cs = [s.id for s in skills if s.id in ids]
    cm = [m for m in memories if m.id in ids]
    for sid in cs:
        try:
            store.record_skill_usage(sid, ok)
        except UserError as e:  # evicted or deleted meanwhile: say so, go on
            log.warning("skill usage not recorded: %s", e)
    for m in cm:
        if ok or m.category == "validated_config":
            try:
                store.reinforce_memory(m.id, ok)
            except UserError as e:
                log.warning("memory not reinforced: %s", e)
    return cs, [m.id for m in cm]
