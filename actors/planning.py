"""Planning agent (Stage I, second half): hypothesis -> JSON experiment blueprint ->
internal review (rule checks + model critique) -> refine until it passes or
`budgets.blueprint_rounds` is spent. Every round's critique is kept.

The dataset catalog is passed in (dict name -> DatasetCard), so this module does not
depend on how the catalog is built. With `offline=True` only catalog datasets survive:
unknown names are mapped to the nearest catalog dataset of the topic's domain or flagged.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import yaml
from jinja2 import Template

from actors.planning_blueprint import (DraftOut, as_draft_text, budget_from, default_draft,
                                       from_blueprint, scrub, to_blueprint)
from actors.planning_inputs import resolve_topic
from actors.planning_review import model_issues, repair, rule_issues
from nanoresearch.errors import ModelError
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (Blueprint, Critique, DatasetCard, Hypothesis, MemoryEntry, Plan,
                                PlanningResult, ResearchTopic, SkillEntry, UserProfile)

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "planning.yaml").read_text())


def render(key: str, **kw: Any) -> list[dict]:
    return [{"role": "system", "content": PROMPTS["system"]},
            {"role": "user", "content": Template(PROMPTS[key]).render(**kw).strip()}]


class PlanningAgent:
    def __init__(self, llm: Any, reviewer_llm: Any, dataset_catalog: dict[str, DatasetCard],
                 budgets: Any, *, offline: bool = True, writes_code: bool = False):
        self.llm, self.reviewer = llm, reviewer_llm or llm
        self.writes_code = writes_code  # the coding model writes baselines the scaffold lacks
        self.catalog, self.budgets, self.offline = dataset_catalog, budgets, offline
        self.trace: list[dict[str, Any]] = []  # which path each round took (for logs/tests)

    def _catalog_text(self, domain: str) -> str:
        names = [f"{k} ({c.task}, {c.default_metric})" for k, c in self.catalog.items() if c.domain == domain]
        return ", ".join(names or [f"{k} ({c.domain})" for k, c in self.catalog.items()][:20])

    def _ask(self, key: str, **kw: Any) -> DraftOut | None:
        try:
            d, _ = generate_structured(self.llm, render(key, **kw), DraftOut,
                                       retries=self.budgets.structured_retries, max_tokens=400)
        except ModelError as e:
            log.info("planning %s unusable: %s", key, e)
            return None
        return d if (d.datasets or d.baselines or d.method) else None

    def draft(self, topic: ResearchTopic, profile: UserProfile, hyp: Hypothesis, plan: Plan | None,
              skills: Sequence[SkillEntry], memories: Sequence[MemoryEntry]) -> tuple[Blueprint, str]:
        cap = budget_from(profile)
        d = self._ask("draft", hypothesis=hyp.statement, question=topic.problem_statement,
                      domain=topic.domain, baselines=", ".join(topic.baselines) or "your choice",
                      catalog=self._catalog_text(topic.domain),
                      requirements="; ".join(topic.user_requirements + profile.methodological_preferences),
                      plan_steps="; ".join(plan.steps[:5]) if plan else "",
                      skills="; ".join(s.instructions[0] if s.instructions else s.name for s in skills[:4]),
                      memories="; ".join(m.content[:120] for m in memories[:4]),
                      cpus=cap.cpus, gpus=cap.gpus, minutes=cap.minutes)
        fallback = default_draft(topic, hyp, self.catalog)
        if d is None:
            return to_blueprint(fallback, topic, hyp, profile, self.catalog, self.offline), "template"
        d, fixed = scrub(d, fallback)
        path = f"llm+repaired({', '.join(fixed)})" if fixed else "llm"
        bp = to_blueprint(d, topic, hyp, profile, self.catalog, self.offline)
        drafted = {d.method, *d.baselines}
        if bp.design and bp.design.kind == "factorial" and not set(bp.design.arms) <= drafted:
            path += f"; {bp.design.kind} design from the question replaced the drafted arms"
        return bp, path

    def review(self, bp: Blueprint, rnd: int, topic: ResearchTopic, profile: UserProfile,
               hyp: Hypothesis) -> Critique:
        rules = rule_issues(bp, topic, profile, self.catalog, self.offline)
        cap = budget_from(profile)
        _, model, note = model_issues(
            self.reviewer, render("review", hypothesis=hyp.statement, blueprint=as_draft_text(bp),
                                  cpus=cap.cpus, gpus=cap.gpus, minutes=cap.minutes),
            self.budgets.structured_retries)
        issues = rules + model
        passed = not any(i.severity == "major" for i in issues)
        summary = f"round {rnd}: {len(rules)} rule issue(s); {note}"
        return Critique(round=rnd, passed=passed, issues=issues, summary=summary)

    def refine(self, bp: Blueprint, crit: Critique, topic: ResearchTopic, profile: UserProfile,
               hyp: Hypothesis) -> tuple[Blueprint, list[str]]:
        d = self._ask("refine", blueprint=as_draft_text(bp), catalog=self._catalog_text(topic.domain),
                      issues="\n".join(f"- {i.category}: {i.message}" for i in crit.issues))
        changes = ["refined by model" if d else "model refinement unusable; kept design"]
        if d is not None:
            d, fixed = scrub(d, from_blueprint(bp))
            changes += [f"kept previous {f} (model copied the example)" for f in fixed]
            new = to_blueprint(d, topic, hyp, profile, self.catalog, self.offline, bp.version + 1)
        else:
            new = bp.model_copy(deep=True, update={"version": bp.version + 1})
        rules = rule_issues(new, topic, profile, self.catalog, self.offline)
        changes += repair(new, rules, topic, profile, self.catalog, self.offline)
        return new, changes

    def run(self, topic: ResearchTopic, profile: UserProfile, hypothesis: Hypothesis,
            plan: Plan | None = None, skills: Sequence[SkillEntry] = (),
            memories: Sequence[MemoryEntry] = ()) -> PlanningResult:
        # the task in catalog terms first: an unresolvable dataset or baseline stops here,
        # before Stage II, instead of a substitute running under the user's question
        topic, resolved = resolve_topic(topic, self.catalog, writes_code=self.writes_code)
        bp, path = self.draft(topic, profile, hypothesis, plan, skills, memories)
        bp.resolved_inputs = list(dict.fromkeys(resolved + bp.resolved_inputs))
        self.trace = [{"stage": "draft", "path": path, "version": bp.version, "resolved": resolved}]
        history: list[Critique] = []
        for rnd in range(1, self.budgets.blueprint_rounds + 1):
            crit = self.review(bp, rnd, topic, profile, hypothesis)
            if rnd == 1:  # the history shows how the reviewed design was produced
                crit.summary = f"draft: {path}; {crit.summary}"
            history.append(crit)
            if crit.passed or rnd == self.budgets.blueprint_rounds:
                break
            bp, changes = self.refine(bp, crit, topic, profile, hypothesis)
            bp.resolved_inputs = list(dict.fromkeys(resolved + bp.resolved_inputs))
            crit.summary += "; then: " + "; ".join(changes)
            self.trace.append({"stage": "refine", "round": rnd, "changes": changes, "version": bp.version})
        log.info("planning: blueprint v%d %s after %d round(s)", bp.version,
                 "passed" if history[-1].passed else "not passed", len(history))
        return PlanningResult(blueprint=bp, critiques=history, passed=history[-1].passed)
