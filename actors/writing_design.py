"""Results of a factorial design (methods x {without, with} an intervention) in the words
the question asked them: the ranking of the methods in each condition, whether the best
method changes, and the significance of the change (a paired t-test over seeds of the
interaction: the gap between the two leading methods with vs without the intervention).
Every number it prints is added to the evidence set, so the number check traces it.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Sequence

from nanoresearch.types import DesignSpec, MetricRecord

LOWER_IS_BETTER = {"rmse", "mae", "mse", "mape", "smape", "mase", "log_loss", "error_rate"}


@dataclass
class Ranking:
    dataset: str
    metric: str
    levels: list[str]
    order: dict[str, list[tuple[str, float]]]  # level -> [(method, mean)], best first
    changed: bool
    p_value: float | None
    n_seeds: int


def _values(metrics: Sequence[MetricRecord], arm: str, dataset: str, metric: str) -> dict[int, float]:
    return {m.seed: m.value for m in metrics if m.method.lower() == arm.lower()
            and m.dataset == dataset and m.metric == metric}


def rankings(design: DesignSpec, metrics: Sequence[MetricRecord], primary: str) -> list[Ranking]:
    if design.kind != "factorial" or not design.levels:
        return []
    out = []
    for ds in dict.fromkeys(m.dataset for m in metrics):
        order, per_seed = {}, {}
        for lv in design.levels:
            rows = []
            for meth in design.methods:
                vals = _values(metrics, f"{meth} {lv}", ds, primary)
                if vals:
                    rows.append((meth, mean(vals.values())))
                    per_seed[(meth, lv)] = vals
            rows.sort(key=lambda r: r[1], reverse=primary not in LOWER_IS_BETTER)
            order[lv] = rows
        if any(len(order[lv]) < 2 for lv in design.levels):
            continue
        tops = [order[lv][0][0] for lv in design.levels]
        p, n = _interaction_p(per_seed, order, design.levels)
        out.append(Ranking(ds, primary, design.levels, order, tops[0] != tops[-1], p, n))
    return out


def _interaction_p(per_seed, order, levels) -> tuple[float | None, int]:
    """Paired t-test over seeds of (A - B | with) - (A - B | without), A and B the two
    methods leading in the 'with' condition."""
    a, b = order[levels[-1]][0][0], order[levels[-1]][1][0]
    seeds = set.intersection(*(set(per_seed.get((m, lv), {})) for m in (a, b) for lv in levels))
    diffs = [(per_seed[(a, levels[-1])][s] - per_seed[(b, levels[-1])][s])
             - (per_seed[(a, levels[0])][s] - per_seed[(b, levels[0])][s]) for s in sorted(seeds)]
    if len(diffs) < 2 or max(diffs) == min(diffs):
        return None, len(diffs)
    from scipy.stats import ttest_1samp

    return float(ttest_1samp(diffs, 0.0).pvalue), len(diffs)
