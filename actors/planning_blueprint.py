"""Blueprint construction for the planning agent: the model's small JSON draft becomes a
typed Blueprint; dataset names are mapped onto the offline catalog; deterministic repairs
fix what the reviewer's rule checks flag.
"""
from __future__ import annotations

import difflib
import re
from typing import Annotated

from pydantic import BaseModel, Field

from actors.planning_design import add_missing_methods, apply_design, derive_design
from nanoresearch.literature.text import is_placeholder, tokenize
from nanoresearch.types import (Blueprint, ComputeBudget, DatasetCard, DatasetSpec, Hypothesis,
                                MethodSpec, ResearchTopic, UserProfile)

TASK_METRICS = {
    "classification": {"accuracy", "macro_f1", "f1", "micro_f1", "weighted_f1", "auc", "roc_auc",
                       "precision", "recall", "balanced_accuracy", "log_loss", "error_rate"},
    "regression": {"rmse", "mae", "mse", "r2", "mape"},
    "forecasting": {"mae", "rmse", "mse", "mape", "smape", "mase"},
    "link_prediction": {"auc", "roc_auc", "average_precision", "ap", "mrr", "hits_at_10", "accuracy"},
}
TASK_METRICS["node_classification"] = TASK_METRICS["classification"]
ALIASES = {"f1_score": "f1", "macro_f1_score": "macro_f1", "macrof1": "macro_f1", "auroc": "roc_auc",
           "auc_roc": "roc_auc", "r^2": "r2", "r_squared": "r2", "acc": "accuracy",
           "mean_absolute_error": "mae", "root_mean_squared_error": "rmse", "hits@10": "hits_at_10"}
DEFAULT_BASELINES = {"classification": ["logistic regression", "majority class"],
                     "regression": ["linear regression", "mean predictor"],
                     "forecasting": ["seasonal naive", "last value"],
                     "node_classification": ["logistic regression on node features", "label propagation"],
                     "link_prediction": ["common neighbours", "Adamic-Adar"]}


Short = Annotated[str, Field(max_length=120)]


class DraftOut(BaseModel):
    # every field bounded: grammar-constrained decoding then always terminates
    title: str = Field(default="", max_length=200)
    datasets: list[Short] = Field(default_factory=list, max_length=6)
    baselines: list[Short] = Field(default_factory=list, max_length=6)
    method: str = Field(default="", max_length=120)
    method_description: str = Field(default="", max_length=400)
    metrics: list[Short] = Field(default_factory=list, max_length=6)
    primary_metric: str = Field(default="", max_length=60)
    ablations: list[Short] = Field(default_factory=list, max_length=6)


def norm_metric(m: str) -> str:
    key = re.sub(r"[\s\-]+", "_", m.strip().lower())
    return ALIASES.get(key, key)


def fits(metric: str, task: str) -> bool:
    return task not in TASK_METRICS or norm_metric(metric) in TASK_METRICS[task]


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def map_dataset(name: str, topic: ResearchTopic, catalog: dict[str, DatasetCard],
                offline: bool) -> DatasetSpec:
    """Exact/close catalog match, else the nearest catalog dataset of the topic's domain
    (by words shared with the name), else keep the name flagged as unavailable."""
    keys = {_key(k): k for k in catalog}
    if _key(name) in keys:
        return DatasetSpec(name=keys[_key(name)])
    close = difflib.get_close_matches(_key(name), list(keys), n=1, cutoff=0.8)
    if close:
        return DatasetSpec(name=keys[close[0]], notes=f"mapped from {name!r} (close name)")
    if not offline:
        return DatasetSpec(name=name, notes="not in the offline catalog; must be downloaded")
    domain = [k for k, c in catalog.items() if c.domain == topic.domain]
    if not domain:
        return DatasetSpec(name=name, notes="not in the offline catalog and no catalog "
                                            f"dataset for domain {topic.domain!r}")
    preferred = [k for k in domain if k in topic.datasets] or domain
    words = set(tokenize(name))
    best = max(preferred, key=lambda k: (len(words & set(tokenize(
        f"{k.replace('_', ' ')} {catalog[k].description} {catalog[k].targets}"))), -preferred.index(k)))
    return DatasetSpec(name=best, notes=f"mapped from {name!r}: nearest offline {topic.domain} dataset")


def budget_from(profile: UserProfile) -> ComputeBudget:
    # half the researcher's hours go to the planned runs; the rest is left for debugging
    r = profile.resources
    return ComputeBudget(cpus=max(1, r.cpus), gpus=r.gpus, minutes=round(r.hours * 60 * 0.5, 1),
                         memory_mb=min(2048 * max(1, r.cpus), 16384))


def required_seeds(topic: ResearchTopic) -> int:
    m = re.search(r"(\d+)\s*(?:random\s+)?seeds?", " ".join(topic.user_requirements), re.I)
    return int(m.group(1)) if m else 3


_CLAIM_VERB = re.compile(r"\b(improves?|match(?:es)?|beats?|outperforms?|reduces?|keeps?|is|are|"
                         r"can|identif(?:y|ies)|lowers?|increases?|changes?|helps?|yields?|"
                         r"achieves?|leads?|makes?|has|have|does|do|will|would|should|affects?|"
                         r"raises?|boosts?|hurts?|degrades?)\b")


def short_title(statement: str, limit: int = 120) -> str:
    """The hypothesis' first sentence, cut at a word boundary within `limit` characters."""
    first = re.split(r"(?<=[.!?])\s+", statement.strip(), maxsplit=1)[0].rstrip(".")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(" ,;:")


def method_name(statement: str) -> str:
    """The subject of the hypothesis ('Spectral node embeddings with logistic regression
    match ...' -> 'Spectral node embeddings with logistic regression'), ids removed."""
    s = re.sub(r"\s*\([^)]*\)", "", statement).strip()
    if s.startswith("A controlled experiment answers"):  # an open question has no subject
        return "proposed method"
    m = _CLAIM_VERB.search(s)
    words = (s[:m.start()] if m and m.start() > 0 else s).split()[:8]
    return " ".join(words).strip(" ,.;:\"'") or "proposed method"


_GENERIC_METHOD = re.compile(r"(?:the )?(?:proposed|our|new|novel)(?: method| approach| model)?|method|approach|"
                             r"this paper\b.*|a controlled experiment\b.*", re.I)
_SUBJECT_END = re.compile(r"\b(?:as \w+ as|match(?:es)?|improves?|beats?|outperforms?|changes?|reduces?|helps?|"
                          r"hurts?|keeps?|makes?|leads?|affects?|yields?|raises?|lowers?|better|worse|more|less|than|"
                          r"versus|vs\.?|work|suffice)\b", re.I)


def question_subject(question: str) -> str:
    """The intervention a yes/no question is about ("Is decision-threshold tuning on a
    validation split as effective as ...?" -> "decision-threshold tuning on a validation
    split"); "" for an open question ("How many ...?")."""
    m = re.match(r"\s*(?:is|are|does|do|can|could|will|would|should)\s+(.+)", question, re.I)
    cut = _SUBJECT_END.search(m.group(1)) if m else None
    subject = re.sub(r"^(?:a|an|the)\s+", "", m.group(1)[:cut.start()].strip(" ,;:"), flags=re.I) if cut else ""
    return subject if 1 <= len(subject.split()) <= 10 else ""


def usable_name(name: str, metrics: tuple[str, ...] = ()) -> bool:
    """False for what a small model emits instead of a name: identifiers glued with
    underscores ("regression_bias_bias_bias"), a word repeated, a metric's name."""
    t = name.strip()
    words = re.findall(r"[a-z0-9]+", t.lower())
    if not words or (re.fullmatch(r"\w+", t) and t.count("_") >= 2):
        return False
    if any(words.count(w) >= 3 for w in set(words)):
        return False
    return norm_metric(t) not in {norm_metric(m) for m in metrics} | {"accuracy", "macro_f1", "rmse", "mae", "auc"}


def named_method(proposed: str, topic: ResearchTopic, hyp: Hypothesis) -> str:
    """The proposed method's name: the draft's, unless it is generic ("proposed method")
    or unusable; then the question's subject, then the hypothesis' subject."""
    p = proposed.strip()[:120]
    if p and usable_name(p) and not _GENERIC_METHOD.fullmatch(p):
        return p
    for cand in (question_subject(topic.problem_statement), method_name(hyp.statement)):
        if cand and usable_name(cand) and not _GENERIC_METHOD.fullmatch(cand):
            return cand[:1].upper() + cand[1:]
    return p or "proposed method"


def default_draft(topic: ResearchTopic, hyp: Hypothesis, catalog: dict[str, DatasetCard]) -> DraftOut:
    """The deterministic design: the topic's own datasets/baselines, the hypothesis as the
    method, the catalog's default metric, one ablation."""
    datasets = [d for d in topic.datasets if d in catalog] or \
        [k for k, c in catalog.items() if c.domain == topic.domain][:1] or topic.datasets[:1]
    card = catalog.get(datasets[0]) if datasets else None
    metric = card.default_metric if card else "accuracy"
    method = named_method("", topic, hyp)
    return DraftOut(title=short_title(hyp.statement), datasets=datasets,
                    baselines=topic.baselines or DEFAULT_BASELINES.get(card.task if card else "", []),
                    method=method, method_description=hyp.statement, metrics=[metric],
                    primary_metric=metric, ablations=[f"{method} without its key component"])


def scrub(d: DraftOut, fallback: DraftOut) -> tuple[DraftOut, list[str]]:
    """Replace text the model copied from the prompt's example (\"short name\", \"...\",
    the schema's name) with the fallback design's value; returns the repaired fields.
    A field the model left empty stays empty, so the reviewer still sees the gap."""
    upd: dict[str, object] = {}
    for f in ("title", "method", "method_description", "primary_metric"):
        v = getattr(d, f)
        if v.strip() and is_placeholder(v, ("DraftOut",)):
            upd[f] = getattr(fallback, f)
    for f in ("datasets", "baselines", "metrics", "ablations"):
        vals = getattr(d, f)
        kept = [v for v in vals if not is_placeholder(v, ("DraftOut",))]
        if len(kept) < len(vals):
            upd[f] = kept or getattr(fallback, f)
    return d.model_copy(update=upd), sorted(upd)


def from_blueprint(bp: Blueprint) -> DraftOut:
    """The previous blueprint as a draft (scrub's fallback): not validated against the
    model's size limits, since a factorial design may have more arms than a model may draft."""
    return DraftOut.model_construct(title=bp.title, datasets=[d.name for d in bp.datasets],
                    baselines=[b.name for b in bp.baselines], method=bp.proposed_method.name,
                    method_description=bp.proposed_method.description, metrics=bp.metrics,
                    primary_metric=bp.primary_metric, ablations=[a.name for a in bp.ablations])


def to_blueprint(d: DraftOut, topic: ResearchTopic, hyp: Hypothesis, profile: UserProfile,
                 catalog: dict[str, DatasetCard], offline: bool, version: int = 1) -> Blueprint:
    clean = lambda xs: [x.strip()[:120] for x in xs if isinstance(x, str) and x.strip()]  # noqa: E731
    specs: list[DatasetSpec] = []
    for name in clean(d.datasets)[:4]:
        s = map_dataset(name, topic, catalog, offline)
        if s.name not in {x.name for x in specs}:
            specs.append(s)
    if topic.datasets and all(n in catalog for n in topic.datasets):
        # the researcher named the data: exactly those run (a model's extra pick would
        # answer a different question)
        specs = [s for s in specs if s.name in topic.datasets] + \
            [DatasetSpec(name=n) for n in topic.datasets if n not in {s.name for s in specs}]
    metrics = list(dict.fromkeys(norm_metric(m) for m in clean(d.metrics)))
    primary = norm_metric(d.primary_metric) if d.primary_metric.strip() else (metrics[:1] or [""])[0]
    if primary and primary not in metrics:
        metrics.insert(0, primary)
    method = named_method(d.method, topic, hyp)
    design = derive_design(topic)
    task = next((catalog[s.name].task for s in specs if s.name in catalog), "")
    metrics += [m for m in design.metrics if m not in metrics and fits(m, task)]
    bp = Blueprint(
        hypothesis_id=hyp.id, title=d.title.strip() or short_title(hyp.statement), domain=topic.domain,
        datasets=specs, baselines=[MethodSpec(name=b) for b in clean(d.baselines)[:6] if usable_name(b, tuple(metrics))],
        proposed_method=MethodSpec(name=method, description=d.method_description.strip() or hyp.statement),
        metrics=metrics, primary_metric=primary,
        ablations=[MethodSpec(name=a) for a in clean(d.ablations)[:3] if usable_name(a, tuple(metrics))],
        seeds=list(range(required_seeds(topic))), compute_budget=budget_from(profile), version=version,
        design=design)
    # rule repairs of the model's draft are said in the blueprint, not passed off as its text
    if method != d.method.strip()[:120]:
        bp.resolved_inputs.append(f"method name {d.method.strip()!r} -> {method!r} (rule: the question's subject)")
    junk = [x for x in clean(d.baselines)[:6] + clean(d.ablations)[:3] if not usable_name(x, tuple(metrics))]
    if junk:
        bp.resolved_inputs.append(f"dropped unusable drafted names (rule): {', '.join(map(repr, junk))}")
    apply_design(bp, topic)
    add_missing_methods(bp)
    return bp


def as_draft_text(bp: Blueprint) -> str:
    return (f"title: {bp.title}\ndatasets: {', '.join(d.name for d in bp.datasets)}\n"
            f"baselines: {', '.join(b.name for b in bp.baselines)}\nmethod: {bp.proposed_method.name}"
            f" - {bp.proposed_method.description[:200]}\nmetrics: {', '.join(bp.metrics)} "
            f"(primary: {bp.primary_metric})\nablations: {', '.join(a.name for a in bp.ablations) or 'none'}"
            f"\nseeds: {bp.seeds}")


def estimate_minutes(bp: Blueprint, catalog: dict[str, DatasetCard]) -> float:
    """Rough cost: runs x minutes per run, where a run costs more on larger datasets."""
    per_seed = len(bp.baselines) + 1 + len(bp.ablations)
    total = 0.0
    for d in bp.datasets:
        n = (catalog[d.name].n_samples if d.name in catalog else None) or 5000
        total += per_seed * len(bp.seeds) * (0.5 + n / 50000)
    return round(total, 2)
