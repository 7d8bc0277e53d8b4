"""The values a paper may state, each with where it came from, and the matching rule.

Evidence is everything the runs and the inputs actually produced: raw metric values,
per-method aggregates over seeds (mean, sample/population std, min, max), the analysis
comparisons (means, stds, deltas, p-values, seed counts, ratios and relative changes),
pairwise differences of aggregate means, dataset sizes from the catalog cards, counts
(seeds, methods, datasets, metrics, references), blueprint numbers and the years of the
retrieved papers. A shown number matches when the evidence rounds to it at the shown
precision (also as a percentage of a fraction).
"""
from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from nanoresearch.latex.numbers import NumberMention
from nanoresearch.types import (AnalysisReport, Blueprint, DatasetCard, LiteratureRecord,
                                MetricRecord)

P_THRESHOLDS = (0.1, 0.05, 0.01, 0.005, 0.001, 0.0001)


@dataclass
class EvidenceValue:
    value: float
    label: str
    kind: str = "value"  # "value" | "ratio" | "p_value" | "year" | "count"


@dataclass
class EvidenceSet:
    values: list[EvidenceValue] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # method/dataset/metric names (masked)

    def add(self, value: float | int | None, label: str, kind: str = "value") -> None:
        if value is None or not math.isfinite(float(value)):
            return
        self.values.append(EvidenceValue(float(value), label, kind))

    # ------------------------------------------------------------------ matching
    def match(self, n: NumberMention) -> EvidenceValue | None:
        """The evidence this mention states, or None (a fabricated number)."""
        if n.comparator in ("<", "<=", ">", ">=") and _is_threshold(n.value):
            for ev in self.values:
                if ev.kind == "p_value" and _compare(ev.value, n.comparator, n.value):
                    return ev
        for ev in self.values:
            if n.unit and n.unit not in ev.label.lower():
                continue  # "3 features" is matched only by a count of features
            if ev.kind == "year" and (n.decimals != 0 or n.form != "plain"):
                continue
            if ev.kind == "ratio" and n.form != "ratio":
                continue
            if n.form == "ratio" and ev.kind != "ratio":
                continue
            for cand in _candidates(ev, n):
                if _rounds_to(cand, n):
                    return ev
        return None


def _is_threshold(x: float) -> bool:
    return any(abs(x - t) < 1e-12 for t in P_THRESHOLDS)


def _compare(a: float, op: str, b: float) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _candidates(ev: EvidenceValue, n: NumberMention) -> list[float]:
    v = ev.value
    cands = [v]
    if ev.kind in ("value", "p_value") and abs(v) <= 1.0 + 1e-9:
        cands.append(v * 100.0)  # 0.932 shown as 93.2% (or 93.2 points)
    if n.form == "percent" and ev.kind == "count":
        return []  # "12%" is never a count
    # An unsigned number may state a magnitude ("a drop of 1.5"); a signed one must
    # agree in sign with the evidence ("+1.5" against a delta of -1.5 is false).
    return cands if n.signed else [abs(c) for c in cands]


def _rounds_to(cand: float, n: NumberMention) -> bool:
    shown = n.value if n.signed else abs(n.value)
    tol = 0.5 * 10.0 ** (-n.decimals) + 1e-9 * max(1.0, abs(shown))
    if abs(cand - shown) > tol:
        return False
    # An integer with one significant digit ("1", "5") says too little to be matched by
    # rounding a non-integer: 0.93 is not "1". It must equal the evidence exactly.
    if n.decimals <= 0 and abs(shown) < 10 and abs(cand - round(cand)) > 1e-9:
        return False
    return True


# ---------------------------------------------------------------------- construction
def _aggregate(metrics: Sequence[MetricRecord]) -> dict[tuple[str, str, str], list[float]]:
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for m in metrics:
        groups[(m.method, m.dataset, m.metric)].append(m.value)
    return groups


def add_metrics(ev: EvidenceSet, metrics: Sequence[MetricRecord]) -> None:
    for m in metrics:
        ev.add(m.value, f"metrics.json: {m.method}/{m.dataset}/{m.metric} seed {m.seed}")
        ev.names.update({m.method, m.dataset, m.metric})
    groups = _aggregate(metrics)
    for (meth, ds, met), vals in groups.items():
        tag = f"{meth}/{ds}/{met}"
        ev.add(statistics.fmean(vals), f"mean of {tag}")
        ev.add(min(vals), f"min of {tag}")
        ev.add(max(vals), f"max of {tag}")
        ev.add(len(vals), f"runs of {tag}", "count")
        if len(vals) > 1:
            ev.add(statistics.stdev(vals), f"std of {tag}")
            ev.add(statistics.pstdev(vals), f"population std of {tag}")
    for (a, va), (b, vb) in itertools.permutations(groups.items(), 2):
        if a[1:] == b[1:]:
            ma, mb = statistics.fmean(va), statistics.fmean(vb)
            ev.add(ma - mb, f"difference of means {a[0]} - {b[0]} on {a[1]}/{a[2]}")
            if mb:
                ev.add(ma / mb, f"ratio of means {a[0]} / {b[0]} on {a[1]}/{a[2]}", "ratio")
                ev.add((ma - mb) / abs(mb) * 100, f"relative change % {a[0]} vs {b[0]}")
    _counts(ev, metrics)


def _counts(ev: EvidenceSet, metrics: Sequence[MetricRecord]) -> None:
    for attr in ("seed", "method", "dataset", "metric"):
        ev.add(len({getattr(m, attr) for m in metrics}), f"number of {attr}s in metrics", "count")
    ev.add(len(metrics), "number of metric records", "count")
    for s in {m.seed for m in metrics}:
        ev.add(s, f"seed {s}", "count")


def add_analysis(ev: EvidenceSet, analysis: AnalysisReport) -> None:
    for c in analysis.comparisons:
        tag = f"{c.method} vs {c.baseline} on {c.dataset}/{c.metric}"
        ev.names.update({c.method, c.baseline, c.dataset, c.metric})
        for name in ("mean", "std", "baseline_mean", "baseline_std", "delta"):
            ev.add(getattr(c, name), f"analysis {name} ({tag})")
        ev.add(c.n_seeds, f"analysis n_seeds ({tag})", "count")
        ev.add(c.p_value, f"analysis p-value ({tag})", "p_value")
        if c.baseline_mean:
            ev.add(c.mean / c.baseline_mean, f"ratio ({tag})", "ratio")
            ev.add(c.delta / abs(c.baseline_mean) * 100, f"relative change % ({tag})")
        if c.mean:
            ev.add(c.baseline_mean / c.mean, f"inverse ratio ({tag})", "ratio")
    ev.add(len(analysis.comparisons), "number of comparisons", "count")
    ev.add(len(analysis.figures), "number of figures", "count")


def add_blueprint(ev: EvidenceSet, bp: Blueprint) -> None:
    ev.names.update({d.name for d in bp.datasets} | {b.name for b in bp.baselines}
                    | {bp.proposed_method.name} | set(bp.metrics))
    ev.names.update(a.name for a in bp.ablations)
    ev.add(len(bp.seeds), "blueprint: number of seeds", "count")
    for s in bp.seeds:
        ev.add(s, f"blueprint seed {s}", "count")
    ev.add(len(bp.datasets), "blueprint: number of datasets", "count")
    ev.add(len(bp.baselines), "blueprint: number of baselines", "count")
    ev.add(len(bp.ablations), "blueprint: number of ablations", "count")
    ev.add(len(bp.metrics), "blueprint: number of metrics", "count")
    # Hyperparameters written into the method descriptions are configuration, so
    # "a random forest of 100 trees" may be restated.
    for m in [bp.proposed_method, *bp.baselines, *bp.ablations]:
        for num in re.findall(r"(?<![A-Za-z_])\d+(?:\.\d+)?(?![A-Za-z_])", m.description):
            ev.add(float(num), f"blueprint config: {m.name}: {m.description}", "count")
    cb = bp.compute_budget
    for name in ("cpus", "gpus", "minutes", "memory_mb"):
        ev.add(getattr(cb, name), f"blueprint compute budget {name}", "count")


def add_cards(ev: EvidenceSet, cards: Iterable[DatasetCard]) -> None:
    for card in cards:
        ev.names.add(card.name)
        ev.add(card.n_samples, f"dataset card {card.name}: n_samples (samples)", "count")
        for num, word in re.findall(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", card.size.replace(",", "")):
            ev.add(float(num), f"dataset card {card.name}: {num} {word}", "count")


def add_papers(ev: EvidenceSet, papers: Sequence[LiteratureRecord]) -> None:
    ev.add(len(papers), "number of retrieved papers", "count")
    for p in papers:
        ev.add(p.year, f"year of {p.id}", "year")


def build_evidence(metrics: Sequence[MetricRecord] = (), analysis: AnalysisReport | None = None,
                   blueprint: Blueprint | None = None, cards: Iterable[DatasetCard] = (),
                   papers: Sequence[LiteratureRecord] = (),
                   extra: dict[str, float] | None = None) -> EvidenceSet:
    ev = EvidenceSet()
    add_metrics(ev, metrics)
    if analysis is not None:
        add_analysis(ev, analysis)
    if blueprint is not None:
        add_blueprint(ev, blueprint)
    add_cards(ev, cards)
    add_papers(ev, papers)
    for label, value in (extra or {}).items():
        ev.add(value, f"config: {label}", "count")
    return ev
