"""A task's conditions: what skills are tagged with and what memories are bound to.

    conds = task_conditions(topic, profile, blueprint)
    # {"domain": "text", "dataset": "tweets", "task": "classification",
    #  "method": "logreg", "metric": "accuracy", "resources": "cpu", "venue": "acl"}
    tags = condition_tags(conds)          # ["accuracy", "classification", "logreg", ...]

Retrieval filters memories on the stable keys (domain, dataset, task) only: a memory
recorded under dataset=mnist is never shown for dataset=cifar10. The others (method,
metric, resources, venue) are stored and raise the score when they match, but a new
method or venue must not hide what the researcher taught the system about the dataset.
"""
from __future__ import annotations

import re

from nanoresearch.scaffolds.specs import BASELINE_KEYWORDS
from nanoresearch.types import Blueprint, ResearchTopic, UserProfile

FILTER_KEYS = ("domain", "dataset", "task")
_TASKS = (("forecast", "forecasting"), ("node classif", "node_classification"),
          ("link predict", "link_prediction"), ("regress", "regression"),
          ("cluster", "clustering"))


def task_type(text: str) -> str:
    low = text.lower()
    return next((t for kw, t in _TASKS if kw in low), "classification")


def method_family(name: str) -> str:
    low = name.lower()
    return next((fam for words, fam in BASELINE_KEYWORDS if any(w in low for w in words)), "")


def task_conditions(topic: ResearchTopic, profile: UserProfile | None = None,
                    blueprint: Blueprint | None = None) -> dict[str, str]:
    datasets = [d.name for d in blueprint.datasets] if blueprint else list(topic.datasets)
    conds = {"domain": topic.domain if topic.domain != "general" else "",
             "dataset": ", ".join(datasets[:4]),
             "task": task_type(f"{topic.problem_statement} {topic.background}")}
    if blueprint is not None:
        conds["method"] = method_family(blueprint.proposed_method.name) or \
            re.sub(r"\s+", " ", blueprint.proposed_method.name.lower())[:40]
        conds["metric"] = blueprint.primary_metric.lower()
    if profile is not None:
        conds["resources"] = "gpu" if profile.resources.gpus > 0 else "cpu"
        if profile.target_venue:
            conds["venue"] = profile.target_venue.lower()
    return {k: v for k, v in conds.items() if v}


def filter_conditions(conds: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in conds.items() if k in FILTER_KEYS}


def condition_tags(conds: dict[str, str], *extra: str) -> list[str]:
    vals = [v.strip() for k, v in conds.items() if k != "venue" for v in v.split(",")]
    return sorted({t.lower() for t in (*vals, *extra) if t and t.strip()})
