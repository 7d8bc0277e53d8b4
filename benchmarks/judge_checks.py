"""Rule checks of requirements and preferences against what a project really produced.

Evidence is the successful runs' metric records (`MetricRecord`: method, dataset, metric,
value, seed), the runs' durations, and the paper's section text (never the preamble, a
package line, or whether a file exists). Each requirement text is matched against the
catalog below; a text no rule understands is reported "unchecked", never passed.

    ev = Evidence.from_workspace(ws)
    check_text("macro-F1 over 3 seeds", ev)   # -> Verdict(status="met", rule="metric+seeds", ...)
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel

from nanoresearch import artifacts
from nanoresearch.types import MetricRecord, PlanningResult, RunsRecord, RunStatus, WritingResult

_METRICS = {"macro-f1": ("f1",), "f1": ("f1",), "accuracy": ("acc",), "auc": ("auc",),
            "mae": ("mae",), "rmse": ("rmse",), "ece": ("ece", "calibration"),
            "recall": ("recall",), "calibration": ("ece", "calibration", "brier")}
_NUM = re.compile(r"\d+(?:\.\d+)?")
_SENT = re.compile(r"(?<=[.!?])\s+|\n{2,}")


class Evidence(BaseModel):
    metrics: list[MetricRecord] = []
    durations: list[float] = []
    sections: dict[str, str] = {}  # section name -> LaTeX body
    proposed: str = ""
    baselines: list[str] = []
    runs: list[str] = []  # every run's status, in the order they ran
    cpus: int | None = None  # the blueprint's compute budget (runs are pinned to that many threads)

    @property
    def text(self) -> str:
        return "\n".join(self.sections.values())

    @classmethod
    def from_workspace(cls, ws: Path) -> "Evidence":
        """Read through the artifact registry: a missing or invalid artifact (logged by
        `artifacts.read`) gives no evidence, never a pass."""
        ws = Path(ws)
        rr: RunsRecord | None = artifacts.read(ws, artifacts.RUNS)
        wr: WritingResult | None = artifacts.read(ws, artifacts.WRITING)
        plan: PlanningResult | None = artifacts.read(ws, artifacts.PLANNING)
        bp = plan.blueprint if plan else None
        runs = rr.runs if rr else []
        ok = [r for r in runs if r.status == RunStatus.SUCCEEDED]
        return cls(metrics=[m for r in ok for m in r.metrics],
                   durations=[float(r.duration_s or 0.0) for r in ok],
                   sections={s.name: s.latex for s in wr.draft.sections} if wr else {},
                   proposed=bp.proposed_method.name if bp else "",
                   baselines=[b.name for b in bp.baselines] if bp else [],
                   runs=[r.status.value for r in runs],
                   cpus=bp.compute_budget.cpus if bp else None)


class Verdict(BaseModel):
    text: str
    status: Literal["met", "unmet", "unchecked"]
    rule: str = ""
    evidence: str = ""


Rule = Callable[[re.Match, str, Evidence], tuple[bool, str]]


# ---------------------------------------------------------------------- rules
def _metric_names(ev: Evidence) -> set[str]:
    return {m.metric.lower() for m in ev.metrics}


def _has_metric(key: str, ev: Evidence) -> bool:
    return any(any(s in name for s in _METRICS.get(key, (key,))) for name in _metric_names(ev))


def rule_metrics(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    wanted = [k for k in _METRICS if re.search(rf"\b{re.escape(k)}\b", text.lower())]
    wanted = [k for k in wanted if not (k == "f1" and "macro-f1" in wanted)]
    missing = [k for k in wanted if not _has_metric(k, ev)]
    return not missing, f"metrics run: {sorted(_metric_names(ev))}; missing {missing}"


def rule_seeds(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    n = int(m.group(1))
    per = {}
    # seeds (an edge or label split is a seed) on the test split: a perturbed, learning-curve
    # or capacity score of the same seed is the same run seen under another condition
    test = [r for r in ev.metrics if r.split == "test"] or [r for r in ev.metrics if r.split != "efficiency"]
    for r in test:
        per.setdefault((r.method, r.dataset, r.metric), set()).add(r.seed)
    least = min((len(v) for v in per.values()), default=0)
    return least >= n, f"fewest seeds/splits per (method, dataset, metric) on the test split: {least}"


def rule_mean_std(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hit = re.search(r"\\pm|±|\bstd\b|standard deviation", ev.text)
    return bool(hit), "mean ± std in the paper text" if hit else "no ± / std in the paper text"


def rule_ablation(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    known = {ev.proposed.lower(), *(b.lower() for b in ev.baselines)}
    extra = sorted({r.method for r in ev.metrics if r.method.lower() not in known})
    return bool(extra), f"methods run beyond the proposed one and the baselines: {extra}"


def _sentences_with(words: tuple[str, ...], ev: Evidence) -> list[str]:
    return [s for s in _SENT.split(ev.text)
            if any(w in s.lower() for w in words) and _NUM.search(s)]


def rule_efficiency(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hits = _sentences_with(("time", "second", "runtime", "latency", "memory", "model size",
                            "parameters", "efficien"), ev)
    return bool(hits), f"{len(hits)} sentence(s)/table row(s) with a time/size figure"


def rule_duration(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    limit = float(m.group(1)) * 60
    worst = max(ev.durations, default=None)
    return worst is not None and worst <= limit, f"longest successful run {worst} s (limit {limit:.0f} s)"


def rule_figure(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    words = [w for w in re.findall(r"[a-z]+", text.lower())
             if w not in {"plot", "plots", "report", "with", "sizes", "curve", "curves", "the", "and", "vs"}]
    caps = re.findall(r"\\caption\{([^}]*)\}", ev.text)
    figs = re.findall(r"\\includegraphics", ev.text)
    hit = [c for c in caps if not words or any(w[:5] in c.lower() for w in words)]
    return bool(figs and hit), f"{len(figs)} figure(s); captions matching {words}: {len(hit)}"


def rule_robustness(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    """Perturbed test sets really ran (split "perturbed:...") and the text gives a score
    under one of them; naming noise in prose is not a robustness evaluation."""
    ran = sorted({r.split.split(":", 1)[1] for r in ev.metrics if r.split.startswith("perturbed:")})
    said = [s for s in _SENT.split(ev.text) if re.search(r"nois|shift|dropout|perturb", s, re.I) and _NUM.search(s)]
    return bool(ran) and bool(said), f"perturbed test sets run: {ran}; {len(said)} sentence(s) report one"


def _sentence_rule(pattern: str, what: str, number: bool = True) -> Rule:
    """A sentence (or table row / caption) of the section text that matches `pattern`
    (and gives a number): the paper states it, where a bare keyword anywhere would not."""
    def rule(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
        hits = [s for s in _SENT.split(ev.text) if re.search(pattern, s, re.I) and (not number or _NUM.search(s))]
        return bool(hits), f"{len(hits)} sentence(s) that state {what}"
    return rule


# a test's outcome with its value ("$p = 0.012$", "p-value 0.03", "95% confidence interval
# [0.81, 0.84]"): the word "significant" in a sentence is a claim, not a test
_P_VALUE = r"\bp\s*(?:[=<>]|\\leq?|\\geq?)\s*\$?\s*\.?\d|p-values?\s*(?:of\s*|[=<>]\s*)?\$?\d|confidence interval"
_SPLIT = r"\bsplits?\b|train/test|held[- ]out|test fraction"


def rule_reproducibility(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    """Runs recorded with their seeds and the paper states them (a sentence with "seed"
    and a number); "stated splits" also needs the split stated with its size."""
    seeds = _sentence_rule(r"\bseeds?\b|random state", "the seeds")(m, text, ev)
    split = _sentence_rule(_SPLIT, "the split with its size")(m, text, ev) if "split" in text.lower() else (True, "")
    ok = bool(ev.metrics) and seeds[0] and split[0]
    return ok, "; ".join(filter(None, [f"runs with metric records: {len(ev.metrics)}", seeds[1], split[1]]))


def rule_baselines(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    ran = {r.method for r in ev.metrics if r.method != ev.proposed}
    return len(ran) >= 2, f"baselines with results: {sorted(ran)}"


def rule_datasets(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    ds = {r.dataset for r in ev.metrics}
    return len(ds) >= 2, f"datasets with results: {sorted(ds)}"


def rule_section(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    want = m.group(1).lower()
    hit = [n for n in ev.sections if want[:6] in n.lower()]
    return bool(hit), f"sections {list(ev.sections)}"


def rule_related(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    body = next((b for n, b in ev.sections.items() if "related" in n.lower()), "")
    cites = len(re.findall(r"\\cite[pt]?\{", body))
    return cites >= 3, f"related-work citations: {cites}"


# (pattern on the requirement text, rule name, rule); the first match decides
CATALOG: list[tuple[re.Pattern, str, Rule]] = [
    (re.compile(r"under (\d+) minutes"), "duration", rule_duration),
    (re.compile(r"(\d+)\s+(?:seeds|label splits|edge splits|splits)"), "seeds", rule_seeds),
    (re.compile(r"ablation"), "ablation", rule_ablation),
    (re.compile(r"efficien|training time|inference time|fit time|model size"), "efficiency",
     rule_efficiency),
    (re.compile(r"mean and std|error bars"), "mean_std", rule_mean_std),
    (re.compile(r"\b(macro-f1|f1|accuracy|auc|mae|rmse|ece|recall|calibration)\b"), "metrics", rule_metrics),
    (re.compile(r"plot|curve"), "figure", rule_figure),
    (re.compile(r"significan"), "significance", _sentence_rule(_P_VALUE, "a p-value or confidence interval")),
    (re.compile(r"fixed seeds|reproducib"), "reproducibility", rule_reproducibility),
    (re.compile(r"stated split|split"), "split", _sentence_rule(_SPLIT, "the split with its size")),
    (re.compile(r"robust|noise"), "robustness", rule_robustness),
    (re.compile(r"strong baselines"), "baselines", rule_baselines),
    (re.compile(r"more datasets"), "datasets", rule_datasets),
    (re.compile(r"(limitation)s?"), "section", rule_section),
    (re.compile(r"related work"), "related", rule_related),
    (re.compile(r"confusion"), "confusion", _sentence_rule(r"confus", "a per-class confusion figure")),
    (re.compile(r"bias-variance"), "bias_variance",
     _sentence_rule(r"\bbias\b.*\bvariance\b|\bvariance\b.*\bbias\b", "bias and variance together", False)),
]


# the persona preferences no rule above understood: each becomes a check on the artifacts
_HYPE = re.compile(r"revolutioni[sz]|groundbreaking|unprecedented|game[- ]chang|remarkabl|"
                   r"breakthrough|astonishing|dramatically|!", re.I)
_SIMPLE = ("majority", "logistic", "linear", "ridge", "naive", "bayes", "knn", "k-nn", "nearest",
           "decision tree", "tree", "persistence", "mean", "seasonal", "common neighbo", "degree")
_INTERPRETABLE = ("logistic", "linear", "ridge", "lasso", "decision tree", "naive", "bayes", "rule")
_STRUCTURAL = ("label propagation", "label spreading", "common neighbo", "adamic", "jaccard",
               "preferential", "degree", "katz", "heuristic", "resource allocation")
_CAUSAL = re.compile(r"\b(because|since|due to|caused by|mechanism|explains?|leads? to)\b", re.I)
SHORT_PAPER_WORDS = 3000
QUICK_RUN_S = 600.0


def _methods_like(words: tuple[str, ...], ev: Evidence) -> list[str]:
    return sorted({r.method for r in ev.metrics if any(w in r.method.lower() for w in words)})


def rule_best_per_dataset(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    ds = sorted({r.dataset for r in ev.metrics})
    plain = [s.replace("\\_", "_").lower() for s in _SENT.split(ev.text)]  # "breast\_cancer" names breast_cancer
    named = [d for d in ds if any("best" in s and d.lower() in s for s in plain)]
    return bool(ds) and len(named) == len(ds), f"datasets whose best method the text names: {named} of {ds}"


def rule_one_core(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    ok = ev.cpus == 1 and any(s == RunStatus.SUCCEEDED.value for s in ev.runs)
    return ok, f"blueprint compute budget: {ev.cpus} CPU(s); successful runs: {ev.runs.count(RunStatus.SUCCEEDED.value)}"


def rule_simple_first(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hit = _methods_like(_SIMPLE, ev)
    return bool(hit), f"simple methods with results: {hit}"


def rule_formal(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hype = sorted({h.group(0).lower() for h in _HYPE.finditer(ev.text)})
    return bool(ev.text) and not hype, f"hype words/exclamations in the text: {hype}"


def rule_working_early(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    return bool(ev.runs) and ev.runs[0] == RunStatus.SUCCEEDED.value, f"runs in order: {ev.runs[:5]}"


def rule_short(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    words = len(re.findall(r"[A-Za-z]{2,}", ev.text))
    return 0 < words <= SHORT_PAPER_WORDS, f"{words} words in the sections (limit {SHORT_PAPER_WORDS})"


def rule_quick(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    worst = max(ev.durations, default=None)
    fails = sum(s != RunStatus.SUCCEEDED.value for s in ev.runs)
    ok = worst is not None and worst <= QUICK_RUN_S and fails <= 1
    return ok, f"longest successful run {worst} s (limit {QUICK_RUN_S:.0f} s); failed runs {fails}"


def rule_gain_explained(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hits = [s for s in _SENT.split(ev.text) if re.search(r"ablat|without|component", s, re.I) and _NUM.search(s)]
    ok, why = rule_ablation(m, text, ev)
    return ok and bool(hits), f"{why}; {len(hits)} sentence(s) attribute the gain with a number"


def rule_worst_case(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hits = _sentences_with(("worst", "minimum over", "min over", "lowest"), ev)
    return bool(hits), f"{len(hits)} sentence(s)/row(s) with a worst-case figure"


def rule_mechanism(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
    hits = [s for s in _SENT.split(ev.text) if "hypothes" in s.lower() and _CAUSAL.search(s)]
    return bool(hits), f"{len(hits)} hypothesis sentence(s) that state a mechanism"


def rule_methods(words: tuple[str, ...], what: str) -> Rule:
    def rule(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
        hit = _methods_like(words, ev)
        return bool(hit), f"{what} with results: {hit}"
    return rule


CATALOG += [
    (re.compile(r"best configuration"), "best_per_dataset", rule_best_per_dataset),
    (re.compile(r"\b(?:one|single) (?:cpu )?core\b"), "one_core", rule_one_core),
    (re.compile(r"simple methods"), "simple_first", rule_simple_first),
    (re.compile(r"formal|measured writing|hype"), "formal", rule_formal),
    (re.compile(r"working experiment early"), "working_early", rule_working_early),
    (re.compile(r"short papers?"), "short", rule_short),
    (re.compile(r"iterate .*quickly"), "quick", rule_quick),
    (re.compile(r"which part causes"), "gain_explained", rule_gain_explained),
    (re.compile(r"worst-case"), "worst_case", rule_worst_case),
    (re.compile(r"hypothesis with a mechanism"), "mechanism", rule_mechanism),
    (re.compile(r"structural baselines"), "structural", rule_methods(_STRUCTURAL, "structural baselines")),
    (re.compile(r"interpretable"), "interpretable", rule_methods(_INTERPRETABLE, "interpretable models")),
]


def check_text(text: str, ev: Evidence) -> Verdict:
    """The first rule whose pattern the requirement matches decides; a requirement of
    comma-separated clauses that each have a rule ("single CPU core, under 10 minutes")
    needs every clause met."""
    clauses = [c.strip() for c in re.split(r"[,;]", text) if c.strip()]
    if len(clauses) > 1:
        parts = [_check_one(c, ev) for c in clauses]
        if all(v.status != "unchecked" for v in parts):
            met = all(v.status == "met" for v in parts)
            return Verdict(text=text, status="met" if met else "unmet",
                           rule="+".join(v.rule for v in parts), evidence="; ".join(v.evidence for v in parts))
    return _check_one(text, ev)


def _check_one(text: str, ev: Evidence) -> Verdict:
    low = text.lower()
    for rx, name, rule in CATALOG:
        if m := rx.search(low):
            ok, why = rule(m, low, ev)
            # a requirement naming metrics AND seeds ("macro-F1 over 3 seeds") needs both
            if name == "seeds" and (mm := CATALOG[5][0].search(low)):
                ok2, why2 = rule_metrics(mm, low, ev)
                ok, why, name = ok and ok2, f"{why}; {why2}", "metrics+seeds"
            return Verdict(text=text, status="met" if ok else "unmet", rule=name, evidence=why)
    return Verdict(text=text, status="unchecked", evidence="no rule checks this from the artifacts")


def share_met(verdicts: list[Verdict]) -> float | None:
    checked = [v for v in verdicts if v.status != "unchecked"]
    return sum(v.status == "met" for v in checked) / len(checked) if checked else None
