"""Ideation agent (Stage I): literature search -> quantitative evidence -> ReAct gap
analysis -> candidate hypotheses -> novelty verification -> the hypothesis to pursue.

Plain class: the LLM, the literature search facade and the embedder come through the
constructor (actors/ray_app.py wraps it as a Ray actor). Every model step has a
deterministic fallback and the trace records which path each step took.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import yaml
from jinja2 import Template

from actors.ideation_hypotheses import generate
from actors.ideation_novelty import failed_directions, repeats_failure, select, verify
from actors.ideation_react import ReactLoop, ReactState
from nanoresearch.evidence import EvidenceExtractor
from nanoresearch.literature.text import tokenize
from nanoresearch.types import (IdeationResult, LiteratureRecord, MemoryEntry, Plan,
                                ResearchTopic, SkillEntry, UserProfile)

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "ideation.yaml").read_text())


def render(key: str, **kw: Any) -> list[dict]:
    return [{"role": "system", "content": PROMPTS["system"]},
            {"role": "user", "content": Template(PROMPTS[key]).render(**kw).strip()}]


def keywords(text: str, n: int = 10) -> str:
    seen: list[str] = []
    for t in tokenize(text):
        if t not in seen and len(t) > 2 and not t.isdigit():
            seen.append(t)
    return " ".join(seen[:n])


def default_embedder() -> Any:
    """HashEmbedder when none is given: deterministic and instant; MiniLM is better and is
    passed in by the composition root when available."""
    try:
        from nanoresearch.embeddings import HashEmbedder
        return HashEmbedder(dim=1024)
    except ImportError:  # similarity then falls back to term overlap
        return None


class IdeationAgent:
    def __init__(self, llm: Any, literature: Any, budgets: Any, embedder: Any = None, *,
                 llm_evidence: bool = False, papers_per_query: int = 8,
                 max_papers: int = 24, failed_threshold: float = 0.6):
        self.llm, self.literature, self.budgets = llm, literature, budgets
        self.embedder = embedder if embedder is not None else default_embedder()
        # the model reads abstracts the rules found nothing in only when asked: with the
        # embedded model that is one slow call per paper, with a hosted one it is cheap
        self.extractor = EvidenceExtractor(llm if llm_evidence else None, mode="fallback",
                                           retries=budgets.structured_retries)
        self.papers_per_query, self.max_papers = papers_per_query, max_papers
        self.failed_threshold = failed_threshold

    def queries(self, topic: ResearchTopic, plan: Plan | None) -> list[str]:
        qs = [keywords(topic.problem_statement),
              keywords(f"{topic.domain} {topic.background}", 8),
              keywords(" ".join(topic.baselines[:2] + topic.datasets[:1]), 8)]
        if plan:
            qs += [keywords(s, 8) for s in plan.steps[:2]]
        out: list[str] = []
        for q in qs:
            if q and q not in out:
                out.append(q)
        return out[:5]

    def retrieve(self, queries: list[str]) -> list[LiteratureRecord]:
        # interleave by rank: BM25 scores of different queries are not comparable, and the
        # first query (the problem statement itself) should lead
        lists = [self.literature.search(q, self.papers_per_query) for q in queries]
        papers: dict[str, LiteratureRecord] = {}
        for rank in range(self.papers_per_query):
            for hits in lists:
                if rank < len(hits):
                    papers.setdefault(hits[rank].id, hits[rank])
        return list(papers.values())[: self.max_papers]

    def run(self, topic: ResearchTopic, profile: UserProfile, plan: Plan | None = None,
            skills: Sequence[SkillEntry] = (), memories: Sequence[MemoryEntry] = ()) -> IdeationResult:
        trace: list[dict[str, Any]] = []
        qs = self.queries(topic, plan)
        papers = self.retrieve(qs)
        evidence = self.extractor.extract_many(papers)
        trace.append({"stage": "retrieve", "queries": qs, "papers": len(papers),
                      "evidence": len(evidence)})
        state = ReactState(papers=papers, evidence=evidence, memories=list(memories))
        plan_steps = "; ".join(plan.steps[:5]) if plan else ""
        ReactLoop(self.llm, self.literature, self.extractor, render,
                  self.budgets.react_steps, self.max_papers + 10).run(
            state, topic.problem_statement, plan_steps)
        trace.extend(state.trace)
        cands = self.candidates(topic, profile, skills, state)
        trace.append({"stage": "hypotheses", "paths": [cands.paths[h.id] for h in cands.hypotheses],
                      "rejected": cands.rejected})
        for h in cands.hypotheses:
            pool = self.literature.search(h.statement, 5) + state.papers[:10]
            h.novelty = verify(h, _dedupe(pool), self.embedder, self.llm, render,
                               self.budgets.structured_retries)
        best = select(cands.hypotheses, topic, profile)
        trace.append({"stage": "select", "selected": best.id, "scores": {
            h.id: {"novelty": h.novelty.score if h.novelty else None, "feasibility": h.feasibility,
                   "alignment": h.alignment, "score": h.score} for h in cands.hypotheses}})
        log.info("ideation: %d papers, %d evidence, %d hypotheses, selected %s (%s)",
                 len(state.papers), len(state.evidence), len(cands.hypotheses), best.id,
                 cands.paths[best.id])
        return IdeationResult(papers=state.papers, evidence=state.evidence, gaps=cands.gaps,
                              hypotheses=cands.hypotheses, selected_hypothesis_id=best.id,
                              react_trace=trace)

    def candidates(self, topic: ResearchTopic, profile: UserProfile,
                   skills: Sequence[SkillEntry], state: ReactState):
        failed = failed_directions(list(state.memories))
        findings = "\n".join(
            f"- {e.paper_id}: {e.method or 'a method'} {e.metric} {e.value:g} {e.dataset}".strip()
            for e in state.evidence[:8]) or "\n".join(f"- {p.id}: {p.title}" for p in state.papers[:6])
        msgs = render(
            "hypotheses", question=topic.problem_statement, background=topic.background[:400],
            baselines=", ".join(topic.baselines) or "none given",
            datasets=", ".join(topic.datasets) or "none given", findings=findings,
            notes=" ".join(state.notes)[:600],
            requirements="; ".join(topic.user_requirements + profile.methodological_preferences),
            skills="; ".join(s.instructions[0] if s.instructions else s.name for s in skills[:4]),
            avoid="; ".join(m.content[:150] for m in failed[:3]), n=self.budgets.hypotheses)

        def blocked(statement: str) -> str | None:
            return repeats_failure(statement, failed, self.embedder, self.failed_threshold)
        return generate(self.llm, msgs, topic, state.evidence, state.papers,
                        self.budgets.hypotheses, self.budgets.structured_retries, blocked)


def _dedupe(records: list[LiteratureRecord]) -> list[LiteratureRecord]:
    seen: dict[str, LiteratureRecord] = {}
    for r in records:
        seen.setdefault(r.id, r)
    return list(seen.values())
