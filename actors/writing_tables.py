"""Tables and sentences for what the runs recorded beside the test scores: learning curves
(split "train_fraction=F"), perturbed test sets (split "perturbed:NAME"), capacity levels
(split "capacity:LEVEL", their cost "capacity_cost:LEVEL") and per-method fit time, peak
memory and model size (split "efficiency"). All rule-built from metrics.json; every number
they print is added to the evidence set, so the number check traces it.
"""
from __future__ import annotations

import re
import statistics
from typing import Sequence

from nanoresearch.latex import EvidenceSet, escape_latex, results_table
from nanoresearch.latex.evidence import add_metrics
from nanoresearch.types import MetricRecord

EFFICIENCY = "efficiency"
CONDITION_PREFIXES = ("train_fraction=", "perturbed:", "capacity:", "capacity_cost:")
EFF_NAMES = {"fit_seconds": "fit time (s)", "peak_memory_mb": "peak memory (MB)", "model_size_kb": "model size (kB)"}


def split_metrics(records: Sequence[MetricRecord]) -> tuple[list[MetricRecord], list[MetricRecord],
                                                             list[MetricRecord]]:
    """(test scores, efficiency records, condition scores); test scores are every record
    when none is on the test split (older runs)."""
    eff = [m for m in records if m.split == EFFICIENCY]
    cond = [m for m in records if m.split.startswith(CONDITION_PREFIXES)]
    rest = [m for m in records if m.split != EFFICIENCY and not m.split.startswith(CONDITION_PREFIXES)]
    test = [m for m in rest if m.split == "test"] or rest
    return test, eff, cond


def condition_label(split: str, kind: str) -> str:
    if split.startswith("train_fraction="):
        return f"{float(split.split('=', 1)[1]) * 100:g}% of the training split"
    if split.startswith(("perturbed:", "capacity:", "capacity_cost:")):
        return split.split(":", 1)[1]
    return {"scaling": "100% of the training split", "capacity": "all features"}.get(kind, "clean test set")


def _order(split: str) -> tuple[int, float]:
    if split.startswith("train_fraction="):
        return 0, float(split.split("=", 1)[1])
    if split.startswith("capacity:"):  # plain levels by size, then whitened ones, then all features
        lv = split.split(":", 1)[1]
        return ("whitened" in lv), float(re.match(r"\d+", lv).group(0)) if re.match(r"\d+", lv) else 0.0
    return (1, 0.0) if split == "test" else (2, 0.0)


def condition_records(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], kind: str,
                      metric: str, eff: Sequence[MetricRecord] = ()) -> list[MetricRecord]:
    """The primary metric per (method, condition), the condition in the dataset column
    ("diabetes, 25% of the training split") so the results table lays them out; for a
    capacity design one row per level (capacity_records)."""
    if not cond:
        return []
    if kind == "capacity":
        return capacity_records(test, cond, metric, eff)
    recs = [*cond, *test]
    splits = sorted({m.split for m in recs}, key=_order)
    return [MetricRecord(method=m.method, dataset=f"{m.dataset}, {condition_label(m.split, kind)}",
                         metric=m.metric, value=m.value, seed=m.seed, split="test")
            for s in splits for m in recs if m.split == s and m.metric == metric]


def perturbed_records(cond: Sequence[MetricRecord]) -> list[MetricRecord]:
    """The perturbed-test-set scores, one group per (dataset, perturbation)."""
    return [m.model_copy(update={"dataset": f"{m.dataset}, {m.split.split(':', 1)[1]}", "split": "test"})
            for m in cond if m.split.startswith("perturbed:")]


def capacity_base(cond: Sequence[MetricRecord]) -> str:
    """The method the capacity levels refitted (the harness's capacity_base)."""
    return next((m.method for m in cond if m.split.startswith("capacity:")), "")


def capacity_records(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], metric: str,
                     eff: Sequence[MetricRecord] = ()) -> list[MetricRecord]:
    """Rows of the capacity table: the refitted method with all features (its test-split
    score and efficiency record), then each level; columns the primary metric, model size
    and fit time per dataset."""
    base = capacity_base(cond)
    ref = [m.model_copy(update={"split": "capacity:all features"}) for m in [*test, *eff] if m.method == base]
    cost = [m.model_copy(update={"split": "capacity:" + m.split.split(":", 1)[1]}) for m in cond
            if m.split.startswith("capacity_cost:")]
    scores = [m for m in cond if m.split.startswith("capacity:")]
    rows = [*ref, *sorted([*scores, *cost], key=lambda m: _order(m.split))]
    keep = {metric: metric, "model_size_kb": EFF_NAMES["model_size_kb"], "fit_seconds": EFF_NAMES["fit_seconds"]}
    return [MetricRecord(method=m.split.split(":", 1)[1], dataset=m.dataset, metric=keep[m.metric], value=m.value,
                         seed=m.seed, split="test") for m in rows if m.metric in keep]


def tolerance(question: str, metric: str) -> float:
    """How close a reduced model must stay: "within 1 point" (of an accuracy-like score in
    [0, 1]) is 0.01; the default is 0.01."""
    m = re.search(r"\bwithin (\d+(?:\.\d+)?) (?:percentage )?points?\b", question, re.I)
    return float(m.group(1)) / 100 if m else 0.01


def capacity_answers(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], eff: Sequence[MetricRecord],
                     metric: str, tol: float) -> list[dict]:
    """Per dataset and variant (plain / whitened levels): the refitted method's mean with all
    features, the smallest level within `tol` of it (or the closest level when none is),
    and the model sizes of both."""
    base, out = capacity_base(cond), []
    low = any(t in metric.lower() for t in ("rmse", "mae", "mse", "loss", "error", "mape", "mase"))
    for ds in dict.fromkeys(m.dataset for m in cond):
        ref = _means([m for m in test if m.dataset == ds and m.method == base and m.metric == metric])
        def size(split: str) -> float | None:
            vals = [m.value for m in [*eff, *cond] if m.dataset == ds and m.method == base and m.split == split
                    and m.metric == "model_size_kb"]
            return statistics.fmean(vals) if vals else None
        if (base, ds) not in ref:
            continue
        r = ref[(base, ds)]
        splits = sorted({m.split for m in cond if m.dataset == ds and m.split.startswith("capacity:")}, key=_order)
        for variant in dict.fromkeys("whitened" in s for s in splits):
            levels = [s for s in splits if ("whitened" in s) == variant]
            means = {s: statistics.fmean([m.value for m in cond if m.dataset == ds and m.split == s
                                          and m.metric == metric]) for s in levels}
            ok = [s for s in levels if (means[s] <= r + tol if low else means[s] >= r - tol)]
            pick = ok[0] if ok else min(levels, key=lambda s: abs(means[s] - r))
            out.append({"dataset": ds, "base": base, "whitened": variant, "ref": r, "within": bool(ok),
                        "level": pick.split(":", 1)[1], "value": means[pick],
                        "size_ref": size("efficiency"), "size_level": size("capacity_cost:" + pick.split(":", 1)[1])})
    return out


def capacity_sentences(answers: Sequence[dict], metric: str, tol: float) -> list[str]:
    """The answer per dataset: the fewest levels within `tol` of all features (or the
    closest level), with the model's size there; whitened levels in a sentence of their own."""
    e, out = escape_latex, []
    for a in answers:
        size = (f"; the fitted model takes {a['size_level']:.1f} kB there against {a['size_ref']:.1f} kB"
                if a["size_ref"] and a["size_level"] else "")
        if not a["whitened"]:
            head = (f"On {e(a['dataset'])}, {e(a['base'])} reaches a mean {e(metric)} of {a['ref']:.3f} with all "
                    "features, and ")
            out.append(head + (f"{e(a['level'])} are the fewest of the levels run that stay within {tol:g} of it "
                               f"({a['value']:.3f}{size})." if a["within"] else
                               f"none of the levels run stays within {tol:g} of it: the closest is {e(a['level'])} "
                               f"({a['value']:.3f}{size})."))
        else:
            out.append("With whitening, " + (f"the fewest are {e(a['level'])} ({a['value']:.3f}{size})."
                                             if a["within"] else
                                             f"no level run comes within {tol:g}; the closest is {e(a['level'])} "
                                             f"({a['value']:.3f}{size})."))
    return out


def _means(recs: Sequence[MetricRecord]) -> dict[tuple[str, str], float]:
    groups: dict[tuple[str, str], list[float]] = {}
    for m in recs:
        groups.setdefault((m.method, m.dataset), []).append(m.value)
    return {k: statistics.fmean(v) for k, v in groups.items()}


def condition_sentences(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], kind: str,
                        metric: str) -> list[str]:
    """Per dataset: how each method's mean moves from the hardest condition to the
    reference one, and which method loses least."""
    e, out = escape_latex, []
    if kind == "capacity":  # capacity_sentences: the answer needs the tolerance and model sizes
        return []
    for ds in dict.fromkeys(m.dataset for m in test):
        ref = _means([m for m in test if m.dataset == ds and m.metric == metric])
        splits = sorted({m.split for m in cond if m.dataset == ds}, key=_order)
        if not splits or not ref:
            continue
        # the hardest condition: the smallest training share, or the strongest perturbation
        hard = splits[0] if kind == "scaling" else max(
            splits, key=lambda s: statistics.fmean(
                abs(ref.get((m.method, ds), m.value) - m.value) for m in cond if m.split == s and m.metric == metric))
        hm = _means([m for m in cond if m.dataset == ds and m.split == hard and m.metric == metric])
        moves = [(meth, ref[(meth, ds)], v) for (meth, _), v in hm.items() if (meth, ds) in ref]
        if not moves:
            continue
        where = condition_label(hard, kind)
        parts = ", ".join(f"{e(meth)} from {r:.3f} to {v:.3f}" for meth, r, v in moves)
        lead = (f"On {e(ds)}, training on {e(where)} instead of all of it moves the mean "
                f"{e(metric)} of {parts}." if kind == "scaling" else
                f"On {e(ds)}, {e(where)} moves the mean {e(metric)} of {parts} relative to the clean test set.")
        best = min(moves, key=lambda x: abs(x[2] - x[1]))
        out.append(lead + (f" {e(best[0])} changes least." if len(moves) > 1 else ""))
    return out


def efficiency_records(eff: Sequence[MetricRecord]) -> list[MetricRecord]:
    return [m.model_copy(update={"metric": EFF_NAMES.get(m.metric, m.metric), "split": "test"})
            for m in eff if m.metric in EFF_NAMES]


def efficiency_table(eff: Sequence[MetricRecord], method_order: Sequence[str] = ()) -> str:
    recs = efficiency_records(eff)
    if not recs:
        return ""
    n = max(len({m.seed for m in recs if m.method == meth}) for meth in {m.method for m in recs})
    return results_table(recs, label="tab:efficiency", method_order=method_order, caption=(
        f"Efficiency: time to fit each method (seconds, one CPU core) and its peak traced memory "
        f"(MB, Python/NumPy allocations during fitting), mean $\\pm$ standard deviation over {n} seeds; "
        "lowest in bold."))


def efficiency_sentence(eff: Sequence[MetricRecord]) -> str:
    """The fastest and slowest method to fit, and the memory range, with the table."""
    e = escape_latex
    secs = _means([m for m in eff if m.metric == "fit_seconds"])
    mem = _means([m for m in eff if m.metric == "peak_memory_mb"])
    if len(secs) < 2:
        return ""
    (fast, ds), t_fast = min(secs.items(), key=lambda kv: kv[1])
    (slow, _), t_slow = max(((k, v) for k, v in secs.items() if k[1] == ds), key=lambda kv: kv[1])
    out = (f"On {e(ds)}, fitting takes {t_fast:.3f} seconds on average for {e(fast)} and {t_slow:.3f} "
           f"seconds for {e(slow)}")
    mems = [v for (_, d), v in mem.items() if d == ds]
    if mems:
        out += f", with peak memory between {min(mems):.3f} and {max(mems):.3f} MB"
    return out + " (Table~\\ref{tab:efficiency})."


def add_evidence(ev: EvidenceSet, cond_recs: Sequence[MetricRecord], eff: Sequence[MetricRecord]) -> None:
    """The aggregates the condition and efficiency tables and sentences print."""
    if cond_recs:
        add_metrics(ev, cond_recs)
    if eff:
        add_metrics(ev, eff)
        add_metrics(ev, efficiency_records(eff))


def condition_figure(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], kind: str, metric: str,
                     path) -> bool:
    """The learning curve (mean primary metric per method against the training share) or
    the robustness profile (per test condition), error bars one std over seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if kind == "capacity":
        return capacity_figure(test, cond, metric, path)
    recs = [m for m in [*cond, *test] if m.metric == metric]
    splits = sorted({m.split for m in recs}, key=_order)
    if len(splits) < 2:
        return False
    xs = ([float(s.split("=", 1)[1]) if s != "test" else 1.0 for s in splits] if kind == "scaling"
          else list(range(len(splits))))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    many = len({m.dataset for m in recs}) > 1
    for ds in dict.fromkeys(m.dataset for m in recs):
        for meth in dict.fromkeys(m.method for m in recs):
            vals = [[m.value for m in recs if m.method == meth and m.dataset == ds and m.split == s] for s in splits]
            if all(vals):
                ax.errorbar(xs, [statistics.fmean(v) for v in vals],
                            yerr=[statistics.stdev(v) if len(v) > 1 else 0 for v in vals], marker="o", capsize=3,
                            label=f"{meth} ({ds})" if many else meth)
    if kind == "scaling":
        ax.set_xlabel("share of the training split")
    else:
        ax.set_xticks(xs, [condition_label(s, kind) for s in splits], fontsize=6, rotation=20, ha="right")
    return _save_figure(fig, ax, metric, path)


def _save_figure(fig, ax, metric: str, path) -> bool:
    import matplotlib.pyplot as plt

    ax.set_ylabel(metric)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return True


def capacity_figure(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], metric: str, path) -> bool:
    """The refitted method's mean score against the capacity level (log axis), one line
    per variant (plain / whitened), a dashed line for it with all features."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = capacity_base(cond)
    recs = [m for m in cond if m.metric == metric and m.split.startswith("capacity:")]
    if not recs:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    many = len({m.dataset for m in recs}) > 1
    for ds in dict.fromkeys(m.dataset for m in recs):
        splits = sorted({m.split for m in recs if m.dataset == ds}, key=_order)
        for variant in dict.fromkeys("whitened" in s for s in splits):
            lv = [s for s in splits if ("whitened" in s) == variant]
            vals = [[m.value for m in recs if m.dataset == ds and m.split == s] for s in lv]
            xs = [_order(s)[1] for s in lv]
            name = f"{base}{', whitened' if variant else ''}" + (f" ({ds})" if many else "")
            ax.errorbar(xs, [statistics.fmean(v) for v in vals],
                        yerr=[statistics.stdev(v) if len(v) > 1 else 0 for v in vals], marker="o", capsize=3,
                        label=name)
        ref = [m.value for m in test if m.dataset == ds and m.method == base and m.metric == metric]
        if ref:
            ax.axhline(statistics.fmean(ref), ls="--", color="grey", label=f"{base}, all features"
                       + (f" ({ds})" if many else ""))
    axis = re.sub(r"^\d+ (?:whitened )?", "", recs[0].split.split(":", 1)[1])
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"number of {axis}")
    return _save_figure(fig, ax, metric, path)


def condition_gap(test: Sequence[MetricRecord], cond: Sequence[MetricRecord], kind: str, metric: str):
    """The question's answer for a scaling / robustness design: on the first dataset, the
    gap between the two best methods (on the reference condition) there and under the
    hardest condition. -> (dataset, a, b, gap_ref, gap_hard, hard condition label) or None
    (a capacity design's answer is capacity_answers)."""
    if kind == "capacity":
        return None
    for ds in dict.fromkeys(m.dataset for m in test):
        ref = {k[0]: v for k, v in _means([m for m in test if m.dataset == ds and m.metric == metric]).items()}
        splits = sorted({m.split for m in cond if m.dataset == ds and m.metric == metric}, key=_order)
        if len(ref) < 2 or not splits:
            continue
        hard = splits[0] if kind == "scaling" else splits[-1]
        hm = {k[0]: v for k, v in _means([m for m in cond if m.dataset == ds and m.split == hard
                                          and m.metric == metric]).items()}
        low = any(t in metric.lower() for t in ("rmse", "mae", "mse", "loss", "error", "mape", "mase"))
        a, b = sorted(ref, key=lambda k: ref[k], reverse=not low)[:2]
        if a in hm and b in hm:
            return ds, a, b, ref[a] - ref[b], hm[a] - hm[b], condition_label(hard, kind)
    return None
