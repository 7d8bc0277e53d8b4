"""The planner's internal reviewer: rule checks that need no model (catalog, budget,
ablation, baselines, metric/task fit, seeds) plus a model critique in small JSON, and the
deterministic repair for every rule issue.

A model critique blocks only when it is actionable (a known category and a specific
message): a weak model that says "failed" with no reason cannot stall the loop.
"""
from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from actors.planning_design import add_missing_methods, apply_design, derive_design, design_issues, drop_covered
from actors.planning_blueprint import (DEFAULT_BASELINES, budget_from,
                                       estimate_minutes, fits, map_dataset, required_seeds)
from nanoresearch.errors import ModelError
from nanoresearch.literature.text import is_placeholder
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (Blueprint, CritiqueIssue, DatasetCard, MethodSpec,
                                ResearchTopic, UserProfile)

log = logging.getLogger(__name__)
CATEGORIES = {"off_question", "infeasible", "unfair_comparison", "dataset_unavailable", "over_budget",
              "missing_ablation", "missing_baseline", "unclear_metric", "other"}
HEAVY = ("pretrain", "pre-train", "billion", "large language model", "from scratch", "gpu")


class IssueOut(BaseModel):
    category: str = Field(default="other", max_length=40)
    message: str = Field(default="", max_length=300)


class ReviewOut(BaseModel):
    passed: bool
    issues: list[IssueOut] = Field(default_factory=list, max_length=6)


def rule_issues(bp: Blueprint, topic: ResearchTopic, profile: UserProfile,
                catalog: dict[str, DatasetCard], offline: bool) -> list[CritiqueIssue]:
    out: list[CritiqueIssue] = []
    add = lambda cat, msg: out.append(CritiqueIssue(category=cat, severity="major", message=msg))  # noqa: E731
    if not bp.datasets:
        add("dataset_unavailable", "no dataset chosen")
    for d in bp.datasets:
        if offline and d.name not in catalog:
            add("dataset_unavailable", f"dataset {d.name!r} is not in the offline catalog")
    if not bp.baselines:
        add("missing_baseline", "no baseline to compare against")
    names = " ".join(b.name.lower() for b in bp.baselines)
    for b in topic.baselines:
        if b.lower() not in names:
            add("missing_baseline", f"required baseline {b!r} is missing")
    if not bp.ablations and not (bp.design and bp.design.kind == "factorial"):
        add("missing_ablation", "no ablation isolates the proposed change")
    if not bp.primary_metric:
        add("unclear_metric", "no primary metric")
    for d in bp.datasets:
        card = catalog.get(d.name)
        if card and bp.primary_metric and not fits(bp.primary_metric, card.task):
            add("unclear_metric", f"metric {bp.primary_metric!r} does not fit {d.name} ({card.task})")
    if len(bp.seeds) < required_seeds(topic):
        add("unfair_comparison", f"{len(bp.seeds)} seed(s); {required_seeds(topic)} required")
    cap = budget_from(profile)
    est = estimate_minutes(bp, catalog)
    if est > cap.minutes:
        add("over_budget", f"about {est:g} min of runs, budget {cap.minutes:g} min")
    if bp.compute_budget.gpus > profile.resources.gpus or bp.compute_budget.cpus > max(1, profile.resources.cpus):
        add("over_budget", "asks for more CPUs/GPUs than the researcher has")
    for why in design_issues(bp, topic):
        add("off_question", f"does not answer the question: {why}")
    text = f"{bp.proposed_method.name} {bp.proposed_method.description}".lower()
    if profile.resources.gpus == 0 and any(w in text for w in HEAVY):
        add("infeasible", "the method needs GPU-scale compute the researcher does not have")
    return out


def model_issues(llm: Any, messages: list[dict], retries: int) -> tuple[bool | None, list[CritiqueIssue], str]:
    """(model verdict or None if unusable, issues, note for the critique summary)."""
    try:
        rv, _ = generate_structured(llm, messages, ReviewOut, retries=retries, max_tokens=250)
    except ModelError as e:
        return None, [], f"model review unusable ({type(e).__name__})"
    issues, copied = [], 0
    for it in rv.issues[:6]:
        if is_placeholder(it.message):  # the example issue echoed back, not a finding
            copied += 1
            continue
        cat = it.category.strip().lower()
        actionable = cat in CATEGORIES and len(it.message.split()) >= 4
        issues.append(CritiqueIssue(category=cat if cat in CATEGORIES else "other",
                                    severity="major" if actionable and not rv.passed else "minor",
                                    message=it.message.strip() or "(no reason given)"))
    note = f"model review: {'passed' if rv.passed else 'failed'}"
    if copied:
        note += f" (ignored {copied} issue(s) copied from the example)"
    return rv.passed, issues, note


def repair(bp: Blueprint, issues: list[CritiqueIssue], topic: ResearchTopic, profile: UserProfile,
           catalog: dict[str, DatasetCard], offline: bool) -> list[str]:
    """Fix rule issues in place; returns what was changed (kept in the critique summary)."""
    done: list[str] = []
    cats = {i.category for i in issues}
    if "dataset_unavailable" in cats:
        specs = [map_dataset(d.name, topic, catalog, offline) for d in bp.datasets] or \
            [map_dataset(topic.datasets[0] if topic.datasets else topic.domain, topic, catalog, offline)]
        bp.datasets = list({s.name: s for s in specs}.values())
        done.append("datasets -> " + ", ".join(d.name for d in bp.datasets))
    if "missing_baseline" in cats:
        card = catalog.get(bp.datasets[0].name) if bp.datasets else None
        want = topic.baselines or DEFAULT_BASELINES.get(card.task if card else "", ["majority class"])
        have = " ".join(b.name.lower() for b in bp.baselines)
        bp.baselines += [MethodSpec(name=b) for b in want if b.lower() not in have]
        done += drop_covered(bp)
        done.append("baselines -> " + ", ".join(b.name for b in bp.baselines))
    if "missing_ablation" in cats:
        bp.ablations = [MethodSpec(name=f"{bp.proposed_method.name} without its key component",
                                   description="the proposed method with the hypothesised change removed")]
        done.append("added ablation")
    if "unclear_metric" in cats and bp.datasets and bp.datasets[0].name in catalog:
        bp.primary_metric = catalog[bp.datasets[0].name].default_metric
        bp.metrics = [bp.primary_metric] + [m for m in bp.metrics if m != bp.primary_metric
                                            and all(fits(m, catalog[d.name].task) for d in bp.datasets if d.name in catalog)]
        done.append(f"primary metric -> {bp.primary_metric}")
    if "unfair_comparison" in cats:
        bp.seeds = list(range(max(required_seeds(topic), len(bp.seeds))))
        done.append(f"seeds -> {bp.seeds}")
    if "off_question" in cats:  # the rule design replaces what the draft got wrong
        bp.design = bp.design or derive_design(topic)
        done += apply_design(bp, topic) + add_missing_methods(bp)
        for ds in topic.datasets:
            if ds in catalog and ds not in [d.name for d in bp.datasets]:
                bp.datasets.insert(0, map_dataset(ds, topic, catalog, offline))
                done.append(f"added the question's dataset {ds}")
        task = catalog[bp.datasets[0].name].task if bp.datasets and bp.datasets[0].name in catalog else ""
        bp.metrics += [m for m in bp.design.metrics if m not in bp.metrics and fits(m, task)]
        if bp.design.metrics and bp.primary_metric not in bp.design.metrics and fits(bp.design.metrics[0], task):
            bp.primary_metric = bp.design.metrics[0]
            done.append(f"primary metric -> {bp.primary_metric} (the question's)")
    if "over_budget" in cats:
        done += shrink(bp, profile, catalog, topic.baselines)
    return done


def shrink(bp: Blueprint, profile: UserProfile, catalog: dict[str, DatasetCard],
           topic_baselines: list[str]) -> list[str]:
    """Cut the design until it fits: extra ablations, extra datasets, then baselines the
    topic did not ask for. Required baselines and seeds stay: dropping them would make
    the comparison unfair."""
    bp.compute_budget = budget_from(profile)
    cap, done = bp.compute_budget.minutes, ["compute budget -> profile resources"]
    for attr, keep in (("ablations", 1), ("datasets", 1)):
        while estimate_minutes(bp, catalog) > cap and len(getattr(bp, attr)) > keep:
            getattr(bp, attr).pop()
            done.append(f"dropped one of {attr}")
    required = " ".join(topic_baselines + (bp.design.arms + bp.design.methods if bp.design else [])).lower()
    for b in list(reversed(bp.baselines)):
        if estimate_minutes(bp, catalog) <= cap or len(bp.baselines) <= 1:
            break
        if b.name.lower() not in required:
            bp.baselines.remove(b)
            done.append(f"dropped baseline {b.name!r}")
    return done

