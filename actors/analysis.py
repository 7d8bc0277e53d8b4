"""Analysis agent: metrics from real runs -> comparisons, ablations, figures, verdict.

Everything numeric is computed here from the MetricRecords (mean, std over seeds, delta,
a paired t-test on shared seeds or Welch's t-test, when both sides have >= 3 seeds). The
model only writes the prose summary, and that summary is kept only if every number in
it appears in the computed table and it claims no win the verdict does not support;
otherwise a deterministic summary is used. The path taken is recorded in the notes.

Like every agent that acts, it is given what the orchestrator retrieved for it (skills of
the experiment stage, the user's memories for the task's conditions; actors/learning_steps.py
`retrieve_for`): they go into the summary prompt with their ids, the model names the ids it
followed (`used_ids`), and only the ids cited by a summary that passed the checks count as
used (`last_used`; the deterministic path uses none).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict
from pathlib import Path

import jinja2
import numpy as np
import yaml
from pydantic import BaseModel, Field, field_validator

from actors.agent_context import cited_ids, context_lines
from nanoresearch import artifacts as A
from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (
    AnalysisReport, Blueprint, Comparison, FigureRef, MemoryEntry, MetricRecord, RunResult, SkillEntry,
)

log = logging.getLogger(__name__)
PROMPTS = yaml.safe_load((Path(__file__).parent / "prompts" / "analysis.yaml").read_text())
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
LOWER_IS_BETTER = ("rmse", "mae", "mse", "mase", "smape", "mape", "loss", "error", "perplexity", "time")
ALPHA = 0.05
WIN_WORDS = re.compile(r"\b(outperform\w*|improv\w*|better|beats?|superior|surpass\w*|significant\w*)\b", re.I)


class SummaryOut(BaseModel):
    # bounded so a grammar-constrained small model closes the JSON within max_tokens
    summary: str = Field(max_length=400)
    used_ids: list[str] = Field(default_factory=list)

    @field_validator("used_ids")
    @classmethod
    def _few(cls, v: list) -> list:
        return v[:6]  # truncated, not a grammar bound (slow constrained decoding)


def higher_is_better(metric: str) -> bool:
    return not any(k in metric.lower() for k in LOWER_IS_BETTER)


def compare(method: str, baseline: str, dataset: str, metric: str,
            a: dict[int, float], b: dict[int, float]) -> Comparison:
    """a, b: seed -> value. Paired t-test on >= 3 shared seeds, else Welch with >= 3 each."""
    from scipy import stats

    va, vb = np.array(list(a.values())), np.array(list(b.values()))
    shared = sorted(set(a) & set(b))
    p = None
    if len(shared) >= 3:
        diff = np.array([a[s] - b[s] for s in shared])
        p = 1.0 if np.allclose(diff, diff[0]) and diff[0] == 0 else \
            (0.0 if np.allclose(diff, diff[0]) else float(stats.ttest_rel([a[s] for s in shared],
                                                                             [b[s] for s in shared]).pvalue))
    elif len(va) >= 3 and len(vb) >= 3:
        p = float(stats.ttest_ind(va, vb, equal_var=False).pvalue)
    if p is not None and not math.isfinite(p):
        p = None
    return Comparison(method=method, baseline=baseline, dataset=dataset, metric=metric,
                      mean=float(va.mean()), std=float(va.std(ddof=1)) if len(va) > 1 else 0.0,
                      baseline_mean=float(vb.mean()), baseline_std=float(vb.std(ddof=1)) if len(vb) > 1 else 0.0,
                      n_seeds=int(min(len(va), len(vb))), delta=float(va.mean() - vb.mean()), p_value=p)


class AnalysisAgent:
    def __init__(self, llm: LLM | None, retries: int = 0, max_tokens: int = 160):
        self.llm = llm
        self.retries = retries  # 0: one attempt, then the deterministic summary
        self.max_tokens = max_tokens
        self.last_used: list[str] = []  # skill/memory ids the accepted summary cited

    def analyze(self, blueprint: Blueprint, runs: list[RunResult], out_dir: Path,
                skills: list[SkillEntry] = (), memories: list[MemoryEntry] = ()) -> AnalysisReport:
        out_dir = Path(out_dir)
        notes: list[str] = []
        self.last_used = []
        skills, memories = list(skills), list(memories)
        records = _collect(runs, notes)
        table = _table(records)  # (method, dataset, metric) -> {seed: value}
        methods = list(dict.fromkeys(r.method for r in records))
        proposed = _find_proposed(blueprint, methods, notes)
        ablations = [m for m in methods if m != proposed and _is_ablation(m, proposed, blueprint)]
        baselines = [m for m in methods if m not in ablations and m != proposed]
        comps, abl = self._comparisons(table, proposed, baselines, ablations)
        primary = _primary(blueprint, table, notes)
        verdict, why = _verdict(comps, proposed, primary, baselines)
        notes.append(why)
        figures = _figures(table, primary, [proposed] + [m for m in methods if m != proposed], out_dir) \
            if records else []
        summary = self._summary(blueprint, proposed, verdict, comps, abl, notes, skills, memories)
        if skills or memories:
            notes.append(f"retrieved {len(skills)} skill(s), {len(memories)} memory(ies); cited by "
                         f"the summary: {', '.join(self.last_used) or 'none'}")
        metrics_path = A.METRICS_ALL.at(out_dir)
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        metrics_path.write_text(json.dumps([r.model_dump() for r in records], indent=1))
        report = AnalysisReport(summary=summary, comparisons=comps + abl, figures=figures,
                                verdict=verdict, notes=notes, metrics_path=str(metrics_path.name))
        A.ANALYSIS.at(out_dir).write_text(report.model_dump_json(indent=2))
        return report

    def _comparisons(self, table, proposed, baselines, ablations):
        comps, abl = [], []
        for (m, ds, metric), vals in table.items():
            if m != proposed:
                continue
            for other, bucket in [(b, comps) for b in baselines] + [(a, abl) for a in ablations]:
                if (other, ds, metric) in table:
                    bucket.append(compare(proposed, other, ds, metric, vals, table[(other, ds, metric)]))
        return comps, abl

    # ------------------------------------------------------------------ summary
    def _summary(self, bp, proposed, verdict, comps, abl, notes, skills=(), memories=()) -> str:
        fallback = deterministic_summary(proposed, verdict, comps, abl, bp.primary_metric)
        if self.llm is None or not comps:
            notes.append("summary: deterministic")
            return fallback
        sk_lines, mem_lines = context_lines(skills, memories)
        prompt = _ENV.from_string(PROMPTS["summarize"]).render(
            title=bp.title, method=proposed, verdict=verdict,
            comparisons=[_line(c) for c in _primary_first(comps, bp.primary_metric)[:6]],
            ablations=[_line(c) for c in _primary_first(abl, bp.primary_metric)[:2]],
            skills=sk_lines, memories=mem_lines)
        msgs = [{"role": "system", "content": PROMPTS["system"].strip()}, {"role": "user", "content": prompt}]
        try:
            out, _ = generate_structured(self.llm, msgs, SummaryOut, retries=self.retries,
                                         max_tokens=self.max_tokens)
        except ModelError as e:
            notes.append(f"summary: deterministic (model output unusable: {e})")
            return fallback
        problem = check_summary(out.summary, comps + abl, verdict)
        if problem:
            notes.append(f"summary: deterministic (model summary rejected: {problem})")
            return fallback
        notes.append("summary: model-written, numbers checked")
        self.last_used = cited_ids(out.used_ids, out.summary, skills, memories)
        return out.summary.strip()


def _primary_first(comps: list[Comparison], primary: str) -> list[Comparison]:
    return sorted(comps, key=lambda c: _norm(c.metric) != _norm(primary))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _line(c: Comparison) -> str:
    p = "n/a" if c.p_value is None else _fmt(c.p_value)
    return (f"{c.dataset} {c.metric}: {c.method} {_fmt(c.mean)} +- {_fmt(c.std)} vs {c.baseline} "
            f"{_fmt(c.baseline_mean)} +- {_fmt(c.baseline_std)} (delta {_fmt(c.delta)}, p {p}, {c.n_seeds} seeds)")


def check_summary(text: str, comps: list[Comparison], verdict: str) -> str | None:
    """None when acceptable, else why not: unknown numbers, or win claims against the verdict."""
    if len(text.split()) < 8:
        return "too short to be a summary"
    allowed = set()
    for c in comps:
        for v in (c.mean, c.std, c.baseline_mean, c.baseline_std, c.delta, abs(c.delta), c.p_value, c.n_seeds):
            if v is not None:
                allowed |= {_fmt(v), f"{v:.2f}", f"{v:.3f}", f"{v:.1f}", f"{v * 100:.1f}", f"{v * 100:.2f}",
                            str(int(v)) if float(v).is_integer() else _fmt(v)}
    allowed |= {"0.05", "0.0001", "95", "3"}
    nums = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", text)
    bad = [n for n in nums if n.lstrip("-") not in allowed and n not in allowed]
    if bad:
        return f"numbers not in the results: {bad[:5]}"
    if not nums:
        return "cites no result"
    if verdict != "supported" and WIN_WORDS.search(text) and not re.search(r"\b(not|no|fail\w*|worse|lost|loses)\b", text, re.I):
        return "claims a win the statistics do not support"
    return None


def deterministic_summary(proposed: str, verdict: str, comps: list[Comparison], abl: list[Comparison],
                          primary: str) -> str:
    if not comps:
        return f"No comparable results were produced for {proposed}; nothing can be concluded."
    prim = [c for c in comps if c.metric == primary] or comps
    parts = []
    for c in prim[:6]:
        better = (c.delta > 0) == higher_is_better(c.metric) and c.delta != 0
        sig = "" if c.p_value is None else ", p < 0.0001" if c.p_value < 1e-4 else f", p = {_fmt(c.p_value)}"
        parts.append(f"on {c.dataset}, {proposed} reaches {c.metric} {_fmt(c.mean)} +- {_fmt(c.std)} vs "
                     f"{_fmt(c.baseline_mean)} for {c.baseline} ({'better' if better else 'not better'}, "
                     f"delta {_fmt(c.delta)}{sig}, {c.n_seeds} seeds)")
    text = "; ".join(parts) + "."
    text = text[0].upper() + text[1:] + f" Verdict: the hypothesis is {verdict}."
    if abl:
        a = abl[0]
        text += f" Ablation: {a.baseline} reaches {_fmt(a.baseline_mean)} ({a.metric}, delta {_fmt(a.delta)})."
    return text


# ---------------------------------------------------------------------- helpers
def _collect(runs: list[RunResult], notes: list[str]) -> list[MetricRecord]:
    seen, out = set(), []
    for run in runs:
        for r in run.metrics:
            key = (r.method, r.dataset, r.metric, r.seed, r.split)
            if key in seen or not math.isfinite(r.value):
                continue
            seen.add(key)
            out.append(r)
    failed = [r.run_id for r in runs if not r.metrics]
    if failed:
        notes.append(f"{len(failed)} run(s) produced no metrics and were ignored: {failed}")
    test = [r for r in out if r.split == "test"]
    return test or out


def _table(records: list[MetricRecord]) -> dict[tuple[str, str, str], dict[int, float]]:
    t: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
    for r in records:
        t[(r.method, r.dataset, r.metric)][r.seed] = r.value
    return dict(t)


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _find_proposed(bp: Blueprint, methods: list[str], notes: list[str]) -> str:
    name = bp.proposed_method.name
    if name in methods or not methods:
        return name
    match = next((m for m in methods if _norm(m) == _norm(name)), None)
    if match is None:
        notes.append(f"proposed method {name!r} has no results; methods found: {methods}")
        return name
    return match


def _is_ablation(method: str, proposed: str, bp: Blueprint) -> bool:
    names = {_norm(a.name) for a in bp.ablations}
    return _norm(method) in names or method.startswith(proposed + " ")


def _primary(bp: Blueprint, table, notes: list[str]) -> str:
    metrics = list(dict.fromkeys(k[2] for k in table))
    if bp.primary_metric in metrics or not metrics:
        return bp.primary_metric
    match = next((m for m in metrics if _norm(m) == _norm(bp.primary_metric)), None) or \
        next((m for m in metrics if _norm(bp.primary_metric) in _norm(m) or _norm(m) in _norm(bp.primary_metric)), metrics[0])
    notes.append(f"primary metric {bp.primary_metric!r} read as {match!r}")
    return match


def _verdict(comps: list[Comparison], proposed: str, primary: str, baselines: list[str]) -> tuple[str, str]:
    """Per dataset on the primary metric: 'win' = better than every baseline, significantly
    (p < 0.05) where a test exists; 'loss' = mean worse than the best baseline."""
    prim = [c for c in comps if c.metric == primary]
    if not prim:
        return "inconclusive", f"verdict inconclusive: no results of {proposed} vs baselines on {primary}"
    by_ds: dict[str, list[Comparison]] = defaultdict(list)
    for c in prim:
        by_ds[c.dataset].append(c)
    sign = 1 if higher_is_better(primary) else -1
    wins, losses = [], []
    for ds, cs in by_ds.items():
        if all(sign * c.delta > 0 and c.p_value is not None and c.p_value < ALPHA for c in cs):
            wins.append(ds)
        elif any(sign * c.delta < 0 for c in cs):
            losses.append(ds)
    n = len(by_ds)
    if len(wins) == n:
        return "supported", f"verdict supported: significantly better than every baseline on {primary} on all {n} dataset(s)"
    if len(losses) * 2 > n:
        return "refuted", f"verdict refuted: worse than the best baseline on {primary} on {len(losses)} of {n} dataset(s)"
    return "inconclusive", (f"verdict inconclusive: significant wins on {len(wins)}, losses on {len(losses)} "
                            f"of {n} dataset(s) ({primary})")


def _figures(table, primary: str, methods: list[str], out_dir: Path) -> list[FigureRef]:
    """One bar chart per metric (primary first); methods[0], the proposed one, in red."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    refs = []
    metrics = [primary] + [m for m in dict.fromkeys(k[2] for k in table) if m != primary][:1]
    for metric in metrics:
        datasets = sorted({k[1] for k in table if k[2] == metric})
        if not datasets:
            continue
        fig, axes = plt.subplots(1, len(datasets), figsize=(max(4.5, 1.0 + 0.7 * len(methods)) * len(datasets), 3.4),
                                 squeeze=False)
        for ax, ds in zip(axes[0], datasets):
            ms = [m for m in methods if (m, ds, metric) in table]
            vals = [list(table[(m, ds, metric)].values()) for m in ms]
            ax.bar(range(len(ms)), [np.mean(v) for v in vals], yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
                   capsize=4, color=["#c44e52" if i == 0 else "#4c72b0" for i in range(len(ms))])
            ax.set_xticks(range(len(ms)), ms, rotation=30, ha="right", fontsize=7)
            ax.set_title(ds, fontsize=9)
            ax.set_ylabel(metric)
        fig.tight_layout()
        label = f"fig:{_norm(metric)}"
        stem = fig_dir / f"results_{_norm(metric)}"
        for ext in ("pdf", "png"):
            fig.savefig(stem.with_suffix(f".{ext}"), dpi=150)
        plt.close(fig)
        refs.append(FigureRef(path=str(stem.with_suffix(".pdf").relative_to(out_dir)), label=label,
                              caption=f"{metric} per method (mean over seeds, error bars: one standard deviation)."))
    return refs
