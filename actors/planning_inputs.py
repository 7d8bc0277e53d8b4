"""The task as the researcher wrote it -> catalog terms, before any design work.

Domains and datasets are resolved (display names, module paths, package names; see
nanoresearch/datasets/resolve.py) and every named baseline is checked against what Stage
II can run. Anything that cannot be resolved or run stops the project here, before Stage
II, with a UserError that names the closest entries and what to do. The resolutions are
returned so the blueprint records them.
"""
from __future__ import annotations

import re

from nanoresearch.datasets.resolve import resolve_dataset, resolve_domain
from nanoresearch.errors import UserError
from nanoresearch.types import DatasetCard, ResearchTopic

DOMAINS = ("nlp", "cv", "multimodal", "tabular", "timeseries", "graph", "audio")


def resolve_topic(topic: ResearchTopic, catalog: dict[str, DatasetCard], *,
                  writes_code: bool = False) -> tuple[ResearchTopic, list[str]]:
    """(topic in catalog terms, resolution notes). `writes_code`: the coding model writes a
    baseline the scaffold lacks (strong models), so an unknown baseline is not a stop."""
    notes: list[str] = []
    domain = resolve_domain(topic.domain, DOMAINS)
    if domain != topic.domain:
        notes.append(f"{topic.domain!r} -> {domain} (domain)")
    names: list[str] = []
    refs = list(topic.datasets)
    if not refs:  # a free-text topic: the datasets its question names ("breast-cancer diagnosis")
        refs = datasets_in_text(topic.problem_statement, catalog, domain)
        notes += [f"{r!r} named in the question (dataset)" for r in refs]
    for ref in refs:
        r = resolve_dataset(ref, catalog, domain if domain in DOMAINS else None)
        if r.name != ref:
            notes.append(r.note())
        names.append(r.name)
    if names and domain not in DOMAINS:  # "general": the named data decide the domain
        domain = catalog[names[0]].domain
        notes.append(f"domain -> {domain} (from dataset {names[0]})")
    wrong = [n for n in names if catalog[n].domain != domain]
    if wrong and domain in DOMAINS:
        raise UserError(f"dataset(s) {', '.join(wrong)} belong to domain "
                        f"{catalog[wrong[0]].domain!r}, not {domain!r}: fix the task's `domain` or `datasets`")
    if not writes_code:
        check_baselines(topic.baselines, domain, [catalog[n].task for n in names], catalog)
    return topic.model_copy(update={"domain": domain, "datasets": list(dict.fromkeys(names))}), notes


def datasets_in_text(text: str, catalog: dict[str, DatasetCard], domain: str) -> list[str]:
    low = text.lower()
    hits = []
    for key, card in catalog.items():
        pat = r"\b" + r"[\s_-]?".join(map(re.escape, key.split("_"))) + r"\b"
        if (domain not in DOMAINS or card.domain == domain) and len(key) > 3 and re.search(pat, low):
            hits.append((re.search(pat, low).start(), key))
    return [k for _, k in sorted(hits)]


def check_baselines(baselines: list[str], domain: str, tasks: list[str],
                    catalog: dict[str, DatasetCard]) -> None:
    """Every named baseline must be one the seeded scaffold runs under that name."""
    from nanoresearch.scaffolds import DOMAIN_SPECS, match_baseline

    if domain not in DOMAIN_SPECS or not baselines:
        return
    task = tasks[0] if tasks else next(iter(DOMAIN_SPECS[domain]["tasks"]))
    missing = [b for b in baselines if match_baseline(domain, task, b) is None]
    if missing:
        fams = ", ".join(sorted({f for t in DOMAIN_SPECS[domain]["tasks"].values() for f in t["families"]}))
        raise UserError(
            f"named baseline(s) {', '.join(map(repr, missing))} cannot be run by the offline {domain} "
            f"scaffold, and nanoresearch will not drop them silently. Name them by a family it runs "
            f"({fams}), or route the coding agent to a model that writes code (capability 'strong').")
