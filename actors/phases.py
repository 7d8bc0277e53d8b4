"""The three phases of a research cycle as step sequences for the orchestrator.

Each step is resumable (see Orchestrator.step): its output artifact is written before the
step is marked done, and a trajectory event is recorded inside the step so a resumed run
does not record it twice.
"""
from __future__ import annotations

import logging

from actors.learning_steps import (
    avoid_failed, check_paper_requirements, count_cited, enforce_requirements, failed_directions,
    record_debug, record_verdict, retrieve_for,
)
from actors.orchestrator import Orchestrator
from nanoresearch import artifacts as A
from nanoresearch.types import (
    AnalysisReport, CodeArtifact, Hypothesis, IdeationResult, Phase, PlanningResult,
    RunsRecord, RunStatus, SkillStage, WritingResult,
)
from storage.conditions import condition_tags

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- Stage I
def run_ideation(o: Orchestrator) -> None:
    P = Phase.IDEATION
    st, prof = o.state, o.profile()
    topic = st.topic
    lit = o.plan(P, "literature", f"Survey the literature and propose a testable, novel "
                 f"hypothesis for: {topic.problem_statement}")

    failed = failed_directions(o)

    def ideate() -> IdeationResult:
        res = o.team.ideation.run(topic, prof, lit.plan, lit.skills, [*lit.memories, *failed])
        res = avoid_failed(o, res, failed)
        sel = res.selected()
        o.record(P, "ideation", "literature search, evidence, hypotheses",
                 f"{len(res.papers)} papers, {len(res.evidence)} evidence tuples, "
                 f"{len(res.hypotheses)} hypotheses; selected: {sel.statement if sel else 'none'}",
                 ok=sel is not None, papers=[p.id for p in res.papers[:10]])
        return res

    ide = o.step(P, "ideation", A.IDEATION.path, IdeationResult, ideate)
    hyp = ide.selected() or (ide.hypotheses[0] if ide.hypotheses else
                             Hypothesis(statement=topic.problem_statement))
    design = o.plan(P, "planning", f"Design an experiment blueprint (datasets, baselines, "
                    f"method, metrics, ablations) to test: {hyp.statement}")

    def blueprint() -> PlanningResult:
        res = o.team.planning.run(topic, prof, hyp, design.plan, design.skills, design.memories)
        for c in res.critiques:
            o.record(P, "blueprint", f"review round {c.round}", c.summary or
                     "; ".join(i.message for i in c.issues), ok=c.passed,
                     issues=[i.category for i in c.issues])
        return res

    pr = o.step(P, "blueprint", A.PLANNING.path, PlanningResult, blueprint)
    pr = enforce_requirements(o, pr)
    summary = (f"Hypothesis: {hyp.statement}\nBlueprint: {pr.blueprint.title} on "
               f"{', '.join(d.name for d in pr.blueprint.datasets)}; baselines "
               f"{', '.join(b.name for b in pr.blueprint.baselines)}; reviewer "
               f"{'passed' if pr.passed else 'did not pass'} after {len(pr.critiques)} round(s)")
    o.finish_phase(P, summary, [(lit, ide.selected() is not None), (design, pr.passed)])


# ---------------------------------------------------------------------- Stage II
def run_experiment(o: Orchestrator) -> None:
    P = Phase.EXPERIMENT
    pr = o.ws.read_model(A.PLANNING.path, PlanningResult)
    bp = pr.blueprint
    code_dir = o.ws.path("experiment", "code")
    b = o.plan(P, "coding", f"Write and run code for '{bp.title}': datasets "
               f"{[d.name for d in bp.datasets]}, method {bp.proposed_method.name}, "
               f"baselines {[x.name for x in bp.baselines]}, metric {bp.primary_metric}")

    def code() -> CodeArtifact:
        art = o.team.experiment.write_code(bp, b.plan, b.skills, code_dir)
        o.record(P, "coding", f"wrote {len(art.files)} files ({art.mode} mode)",
                 ", ".join(sorted(art.files))[:500])
        return art

    art = o.step(P, "coding", A.CODE.path, CodeArtifact, code)

    def run() -> RunsRecord:
        # the debugger's own skills: stored under "debugging" by reflection, retrieved here
        dbg = o.team.store.retrieve_skills(
            query=f"debug a failing {bp.domain} experiment: {bp.proposed_method.name} on "
                  f"{', '.join(d.name for d in bp.datasets)}", stage="debugging",
            user_id=o.state.user_id, tags=condition_tags(o.conditions()), k=6)

        def on_event(kind: str, data: dict) -> None:
            record_debug(o, kind, data)
            o.ws.check_cancel()  # a cancel stops the debug loop after the run in flight
        final, runs = o.team.experiment.run(art, code_dir, on_event=on_event, skills=dbg)
        last = runs[-1] if runs else None
        o.record(P, "runs", f"{len(runs)} attempt(s)", last.status.value if last else "none",
                 ok=bool(last and last.status == RunStatus.SUCCEEDED))
        return RunsRecord(code=final, runs=runs)

    rr = o.step(P, "run", A.RUNS.path, RunsRecord, run)
    ok_runs = [r for r in rr.runs if r.status == RunStatus.SUCCEEDED]

    def analyze() -> AnalysisReport:
        sk, mem = retrieve_for(o, SkillStage.EXPERIMENT, f"analyse and report the results of "
                               f"{bp.proposed_method.name} vs baselines on {bp.primary_metric}")
        rep = o.team.experiment.analyze(bp, ok_runs, o.ws.path("experiment"), skills=sk, memories=mem)
        cs, cm = count_cited(o, sk, mem, o.team.experiment.last_cited, ok=bool(ok_runs))
        o.record(P, "analysis", f"verdict {rep.verdict}", rep.summary[:800],
                 ok=bool(ok_runs), retrieved=[x.id for x in [*sk, *mem]], cited_skills=cs,
                 cited_memories=cm)
        return rep

    rep = o.step(P, "analysis", A.ANALYSIS.path, AnalysisReport, analyze)
    record_verdict(o, rep)
    summary = (f"Experiment: {len(rr.runs)} run attempt(s), "
               f"{'succeeded' if ok_runs else 'no successful run'}; verdict {rep.verdict}.\n"
               f"{rep.summary[:600]}")
    o.finish_phase(P, summary, [(b, bool(ok_runs))])


# ---------------------------------------------------------------------- Stage III
def run_writing(o: Orchestrator) -> None:
    P = Phase.WRITING
    st, prof = o.state, o.profile()
    ide = o.ws.read_model(A.IDEATION.path, IdeationResult)
    pr = o.ws.read_model(A.PLANNING.path, PlanningResult)
    rep = o.ws.read_model(A.ANALYSIS.path, AnalysisReport)
    rr = o.ws.read_model(A.RUNS.path, RunsRecord)
    metrics = [m for r in rr.runs if r.status == RunStatus.SUCCEEDED for m in r.metrics]
    hyp = ide.selected() or Hypothesis(statement=st.topic.problem_statement)
    b = o.plan(P, "writing", f"Write a {prof.paper_format} paper for "
               f"{prof.target_venue or 'a general ML venue'} on: {pr.blueprint.title}")

    def write() -> WritingResult:
        rsk, rmem = retrieve_for(o, SkillStage.REVIEW, f"review a paper on {pr.blueprint.title} "
                                 f"for {prof.target_venue or 'a general ML venue'}", requirements=True)
        res = o.team.writing.write(topic=st.topic, profile=prof, hypothesis=hyp,
                                   blueprint=pr.blueprint, papers=ide.papers, analysis=rep,
                                   metrics=metrics, paper_dir=o.ws.path("writing"),
                                   plan=b.plan, skills=b.skills, workspace_root=o.ws.root,
                                   review_skills=rsk, review_memories=rmem)
        cs, cm = count_cited(o, rsk, rmem, o.team.writing.review_cited, ok=bool(res.pdf_path))
        o.record(P, "review_context", f"reviewers given {len(rsk)} skill(s), {len(rmem)} memory(ies)",
                 f"cited: {', '.join(cs + cm) or 'none'}", retrieved=[x.id for x in [*rsk, *rmem]],
                 cited_skills=cs, cited_memories=cm)
        metas = [r for r in res.reviews if r.is_meta]
        for r in metas:
            o.record(P, "review", f"round {r.round} meta-review overall {r.overall}",
                     "; ".join(r.revision_requests)[:800], ok=r.overall >= o.budgets.review_threshold)
        o.record(P, "paper", "compiled" if res.pdf_path else "not compiled",
                 "; ".join(res.draft.problems)[:800], ok=bool(res.pdf_path))
        return res

    res = o.step(P, "paper", A.WRITING.path, WritingResult, write)
    check_paper_requirements(o, res)
    metas = [r for r in res.reviews if r.is_meta]
    summary = (f"Paper: {res.draft.title}; PDF {'at ' + res.pdf_path if res.pdf_path else 'missing'};"
               f" {res.rounds} review round(s), last meta score "
               f"{metas[-1].overall if metas else 'n/a'}")
    o.finish_phase(P, summary, [(b, bool(res.pdf_path))])


PHASE_RUNNERS = {Phase.IDEATION: run_ideation, Phase.EXPERIMENT: run_experiment,
                 Phase.WRITING: run_writing}
