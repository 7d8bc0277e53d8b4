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
        ok = [r for r in rr.runs if r.status == RunStatus.SUCCEEDED] if rr else []
        return cls(metrics=[m for r in ok for m in r.metrics],
                   durations=[float(r.duration_s or 0.0) for r in ok],
                   sections={s.name: s.latex for s in wr.draft.sections} if wr else {},
                   proposed=bp.proposed_method.name if bp else "",
                   baselines=[b.name for b in bp.baselines] if bp else [])


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
    for r in ev.metrics:
        per.setdefault((r.method, r.dataset, r.metric), set()).add((r.seed, r.split))
    least = min((len(v) for v in per.values()), default=0)
    return least >= n, f"fewest seeds/splits per (method, dataset, metric): {least}"


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


def _text_rule(*words: str) -> Rule:
    def rule(m: re.Match, text: str, ev: Evidence) -> tuple[bool, str]:
        hit = [w for w in words if re.search(w, ev.text, re.I)]
        return bool(hit), f"paper text mentions {hit}" if hit else f"paper text mentions none of {list(words)}"
    return rule


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
    (re.compile(r"significan"), "significance", _text_rule(r"significan", r"p\s*[<=]", r"t-test", r"wilcoxon",
                                                           r"confidence interval")),
    (re.compile(r"fixed seeds|reproducib"), "reproducibility", _text_rule(r"\bseeds?\b.*\d", r"random state")),
    (re.compile(r"stated split|split"), "split", _text_rule(r"\bsplit", r"train/test", r"held[- ]out")),
    (re.compile(r"robust|noise"), "robustness", _text_rule(r"noise level", r"noise", r"shift")),
    (re.compile(r"strong baselines"), "baselines", rule_baselines),
    (re.compile(r"more datasets"), "datasets", rule_datasets),
    (re.compile(r"(limitation)s?"), "section", rule_section),
    (re.compile(r"related work"), "related", rule_related),
    (re.compile(r"confusion"), "confusion", _text_rule(r"confusion")),
    (re.compile(r"bias-variance"), "bias_variance", _text_rule(r"bias", r"variance")),
]


def check_text(text: str, ev: Evidence) -> Verdict:
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
