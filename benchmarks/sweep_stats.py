"""Sweep statistics: the bootstrap CI of a mean, and whether a variant learns: the rise of a metric from the first to the last round, paired
per task, with a bootstrap CI over tasks, and the verdict the sweep exists for: is the
full variant's rise beyond base's confidence interval?

The rise is paired: for each task whose chain finished both round 1 and round R of a
variant, rise = metric(R) - metric(1). Tasks where only one variant finished are kept in
that variant's rise but not in the paired full-minus-base difference. Three readings
are reported, from weakest to strongest: full's mean rise is above base's CI; the two
CIs are disjoint; the per-task difference of rises has a CI that excludes 0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

if TYPE_CHECKING:
    from benchmarks.sweep_cells import CellRecord

__all__ = ["bootstrap_ci", "learning_summary", "learning_markdown", "per_task_markdown"]


def bootstrap_ci(values: Iterable[float], n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float, float] | None:
    """(mean, low, high): percentile bootstrap of the mean with a fixed seed; None when
    there is no value; a single value gives a zero-width interval."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return None
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    a = (1 - level) / 2
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _by_chain(records: Iterable["CellRecord"], metric: str) -> dict[tuple[str, str], dict[int, float]]:
    out: dict[tuple[str, str], dict[int, float]] = {}
    for r in records:
        v = r.metric(metric)
        if v is not None and not r.errored:
            out.setdefault((r.variant, r.task), {})[r.round] = v
    return out


def _ci(values: list[float], seed: int) -> dict[str, Any] | None:
    ci = bootstrap_ci(values, seed=seed)
    return None if ci is None else {"mean": ci[0], "lo": ci[1], "hi": ci[2], "n": len(values)}


def learning_summary(records: list["CellRecord"], metric: str = "alignment", seed: int = 0,
                     treated: str = "full", control: str = "base") -> dict[str, Any]:
    """Per variant: the per-task rises from round 1 to the last round every chain of the
    sweep reached, their bootstrap CI; and the treated-vs-control verdict."""
    chains = _by_chain(records, metric)
    last = max((max(rs) for rs in chains.values()), default=1)
    rises: dict[str, dict[str, float]] = {}
    for (variant, task), rs in sorted(chains.items()):
        if 1 in rs and last in rs and last > 1:
            rises.setdefault(variant, {})[task] = rs[last] - rs[1]
    per_variant = {v: {"tasks": t, "rise": _ci(list(t.values()), seed)} for v, t in rises.items()}
    out: dict[str, Any] = {"metric": metric, "first_round": 1, "last_round": last,
                           "per_variant": per_variant, "verdict": None}
    tr, ct = per_variant.get(treated), per_variant.get(control)
    if tr and ct:
        paired = sorted(set(tr["tasks"]) & set(ct["tasks"]))
        diff = _ci([tr["tasks"][t] - ct["tasks"][t] for t in paired], seed)
        # a CI from one task is a point: no reading is made from it (None, "n/a")
        cis = tr["rise"]["n"] > 1 and ct["rise"]["n"] > 1
        out["verdict"] = {
            "treated": treated, "control": control, "paired_tasks": paired,
            "difference": diff,
            "mean_above_control_ci": tr["rise"]["mean"] > ct["rise"]["hi"] if cis else None,
            "cis_disjoint": tr["rise"]["lo"] > ct["rise"]["hi"] if cis else None,
            "difference_ci_excludes_0": diff["lo"] > 0 if diff and len(paired) > 1 else None,
        }
    return out


def _f(s: dict[str, Any] | None) -> str:
    if s is None:
        return "-"
    return f"{s['mean']:+.2f} [{s['lo']:+.2f}, {s['hi']:+.2f}] (n={s['n']})"


def learning_markdown(summary: dict[str, Any]) -> str:
    """The rise table and the verdict in words (empty when no chain reached round 2)."""
    if not summary["per_variant"]:
        return ""
    m, r1, rl = summary["metric"], summary["first_round"], summary["last_round"]
    lines = [f"## Learning: {m} rise from round {r1} to round {rl}", "",
             f"Per task, rise = {m}(round {rl}) - {m}(round {r1}); mean [95% bootstrap CI over "
             "tasks].", "", "| variant | rise | tasks |", "|---|---|---|"]
    for v, s in summary["per_variant"].items():
        tasks = ", ".join(f"{t} {x:+.2f}" for t, x in s["tasks"].items())
        lines.append(f"| {v} | {_f(s['rise'])} | {tasks} |")
    vd = summary["verdict"]
    if vd:
        yes = {True: "yes", False: "no", None: "n/a (a CI needs at least 2 tasks)"}
        lines += ["", f"Verdict, {vd['treated']} against {vd['control']} "
                  f"(paired over {len(vd['paired_tasks'])} task(s)):",
                  f"- {vd['treated']}'s mean rise above {vd['control']}'s CI: "
                  f"{yes[vd['mean_above_control_ci']]}",
                  f"- the two CIs disjoint: {yes[vd['cis_disjoint']]}",
                  f"- per-task difference of rises {_f(vd['difference'])}; CI excludes 0: "
                  f"{yes[vd['difference_ci_excludes_0']]}"]
    return "\n".join(lines)


def per_task_markdown(records: list["CellRecord"], metric: str = "alignment") -> str:
    """Task x variant: the metric per round, so a reader sees which tasks moved."""
    chains = _by_chain(records, metric)
    if not chains:
        return ""
    variants = sorted({v for v, _ in chains})
    tasks = sorted({t for _, t in chains})
    lines = [f"| task | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for t in tasks:
        cells = []
        for v in variants:
            rs = chains.get((v, t), {})
            cells.append(" / ".join(f"{rs[k]:.2f}" for k in sorted(rs)) if rs else "-")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return (f"{metric} per task, by round (r1 / r2 / ...):\n\n" + "\n".join(lines))
