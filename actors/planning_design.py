"""The experiment design, derived from the question's form by rules (so the embedded 135M
model gets it too; a strong model's draft is held to the same check):

- comparison   "Does A match / beat B and C?"             -> A vs B, C on the named data
- factorial    "Does X change which of A, B, C is best?"  -> {A, B, C} x {without X, with X};
               the paper reports the ranking in each condition, whether it changes, and the
               significance of the change
- ablation     "Does adding / component C improve M?"     -> M with and without C
- scaling      "How does ... change as the data shrinks?" -> a learning curve: every method also
               trained on shares of the training split (the seeded harness's "train_fractions");
               a capacity axis (components, buckets) is recorded as not run
- robustness   "Is A more robust ... noise / shift?"      -> clean vs perturbed test sets (the
               harness's "test_perturbations"; per modality when one modality is corrupted)
- capacity     "How many principal components ...?", "How does the number of hash buckets
               trade off ...?" -> the reference method refitted at each level of the axis
               (PCA components, with and without whitening when the question asks; hashed
               text features), against itself with all features (the harness's "capacity")

`design_issues` is the reviewer's rule: a blueprint that leaves out a named method, dataset
or metric, or lacks an arm the form needs, does not answer the question, and it says why.
"""
from __future__ import annotations

import re

from nanoresearch.types import Blueprint, DesignSpec, ResearchTopic

# method phrases as researchers write them -> the display name used in arms and the paper
METHOD_WORDS: list[tuple[str, str]] = [
    (r"\bk-?nn\b|\bk[- ]nearest[- ]neighbou?rs?\b|\bnearest[- ]neighbou?r", "k-NN"),
    (r"\bsvms?\b|\bsupport[- ]vector", "SVM"),
    (r"\blogistic regression\b", "logistic regression"),
    (r"\brandom forests?\b", "random forest"),
    (r"\bgradient[- ]boost\w*|\bboosted trees\b", "gradient boosting"),
    (r"\bdecision trees?\b", "decision tree"),
    (r"\bnaive bayes\b", "naive Bayes"),
    (r"\bmlps?\b|\bmulti-?layer perceptron", "MLP"),
    (r"\bridge regression\b", "ridge regression"),
    (r"\blinear regression\b", "linear regression"),
]
# interventions the offline scaffolds can switch on and off per arm (build.apply_condition)
FACTORS: list[tuple[str, str]] = [
    (r"(?:feature |input )?standardi[sz](?:ation|ing|e)|z-scor\w*|feature scaling|scaling of (?:the )?features",
     "standardisation"),
    (r"quantile[- ]transform\w*", "quantile transformation"),
    # cv: every training image also shifted by one pixel up, down, left and right
    (r"(?:one-pixel |pixel )?shift(?:ed)?[- ]augment\w*|augment\w* (?:by|with) (?:small |one-pixel )?shifts",
     "shift augmentation"),
]
_RANKING = re.compile(r"\b(?:which|ranking|rank|order|best|winner|favou?r)\b", re.I)
_CHANGE = re.compile(r"\b(?:change|alter|affect|flip|reverse|matter)\w*", re.I)
_SCALING = re.compile(r"\b(?:as the (?:training )?(?:set|data)|training[- ]set size|shrinks?|grows?|"
                      r"how many|number of|data[- ]size|learning curve|scal(?:e|ing) with|trade[- ]?off)\b", re.I)
_ROBUST = re.compile(r"\b(?:robust\w*|noise|noisy|corrupt\w*|perturb\w*|out-of-distribution|"
                     r"distribution shift|covariate shift|shifted test)\b", re.I)
# "Does X improve A and B?": the effect of X on each named method is the answer
_EFFECT = re.compile(r"\b(?:improve|help|hurt|benefit|raise|lower|degrade)\w*", re.I)
_ABLATE = re.compile(r"\b(?:does|do) (?:adding|using|the|per-\w+|\w+ing)\b.*\b(?:improve|help)", re.I)
METRIC_WORDS = {"accuracy": r"\baccuracy\b", "macro_f1": r"\bmacro[- ]?f1\b", "mae": r"\bmae\b|mean absolute",
                "rmse": r"\brmse\b|root mean squared", "auc": r"\bauc\b|\broc\b", "r2": r"\br2\b|r\^2",
                "f1": r"(?<!macro-)(?<!macro )\bf1\b"}


def asks_effect(question: str) -> bool:
    """A factorial question about X's effect on each method ("Does X improve A and B?"),
    not about the ranking."""
    return bool(_EFFECT.search(question)) and not _RANKING.search(question)


def named_methods(text: str) -> list[str]:
    """Methods the text names, in the order it names them."""
    hits = []
    for pat, name in METHOD_WORDS:
        m = re.search(pat, text, re.I)
        if m:
            hits.append((m.start(), name))
    return [n for _, n in sorted(hits)]


def named_metrics(topic: ResearchTopic) -> list[str]:
    text = " ".join([topic.problem_statement, *topic.user_requirements])
    return [k for k, pat in METRIC_WORDS.items() if re.search(pat, text, re.I)]


def _factors(text: str) -> list[tuple[str, str]]:
    """Every intervention the question names, in the order it names them."""
    hits = [(m.start(), m.group(0), name) for pat, name in FACTORS for m in [re.search(pat, text, re.I)] if m]
    return [(w, n) for _, w, n in sorted(hits)]


def _domain(topic: ResearchTopic) -> str:
    from nanoresearch.datasets.resolve import resolve_domain
    from nanoresearch.scaffolds import DOMAIN_SPECS
    from nanoresearch.errors import UserError

    try:
        return resolve_domain(topic.domain or "general", tuple(DOMAIN_SPECS))
    except UserError:
        return topic.domain or "general"


_DATA_SIZE = re.compile(r"\b(?:training[- ]set (?:size|shrinks?|grows?)|the training set shrinks|"
                        r"as the (?:training )?(?:set|data) (?:shrinks?|grows?)|data[- ]size|learning curves?|"
                        r"few(?:er)? (?:labels|training (?:examples|samples))|amount of (?:training )?data)\b", re.I)


def scaling_levels(q: str) -> list[str]:
    """Training-set shares of a data-size question: the percentages it names (down to its
    smallest), else 10%, 25%, 50%; always ending at the full training split."""
    pcts = sorted({float(p) for p in re.findall(r"(\d+(?:\.\d+)?)\s*%", q) if 0 < float(p) <= 100})
    lo = pcts[0] if pcts and pcts[0] < 100 else None
    fr = sorted({lo, *(x for x in (25.0, 50.0, 75.0) if x > lo)}) if lo else [10.0, 25.0, 50.0]
    return [f"{f:g}% of the training split" for f in fr] + ["100% of the training split"]


def robustness_levels(q: str, domain: str) -> list[str]:
    """Perturbed test sets a robustness question asks for (the harness's kinds): noise by
    default; dropout for missing/corrupted values; a shift for shift; per modality when the
    question says one modality is corrupted."""
    kinds = []
    if re.search(r"\bnois", q, re.I) or not re.search(r"\bshift|missing|dropout|corrupt", q, re.I):
        kinds.append("gaussian noise")
    if re.search(r"\bmissing|dropout|corrupt", q, re.I) and not kinds:
        kinds.append("feature dropout")
    if re.search(r"\bshift", q, re.I):
        kinds.append("shift")
    blocks = ["image", "text"] if domain == "multimodal" and re.search(r"\b(?:one|a|either) modality|"
                                                                       r"modalit(?:y|ies) (?:is|are) corrupt", q, re.I) else [""]
    return ["clean test set"] + [f"{k}{' on the ' + b + ' features' if b else ''} (level {lv:g})"
                                 for k in kinds for b in blocks for lv in (0.5, 1.0)]


_PCA = re.compile(r"\bprincipal components?\b|\bpca (?:components|dimensions)\b|\bnumber of (?:pca )?components\b",
                  re.I)
_HASH = re.compile(r"\bhash(?:ing)? buckets?\b|\bnumber of buckets\b|\bhashing vectori[sz]er\b.*\bbuckets?\b", re.I)
_WHITEN = re.compile(r"\bwhiten(?:ing|ed)?\b", re.I)
PCA_LEVELS = (10, 20, 50, 100, 200)
HASH_LEVELS = (2 ** 8, 2 ** 10, 2 ** 12, 2 ** 14, 2 ** 16)


def capacity_levels(q: str, domain: str) -> list[str]:
    """Levels of a capacity axis the offline harness can run: principal components (each
    also whitened when the question asks whether whitening matters) or hash buckets (text);
    [] when the question's axis is neither."""
    from nanoresearch.scaffolds.build import SUPERVISED_DOMAINS

    if domain not in SUPERVISED_DOMAINS:
        return []
    if _HASH.search(q) and domain in ("nlp", "multimodal"):
        return [f"{n} hash buckets" for n in HASH_LEVELS]
    if _PCA.search(q):
        out = [f"{n} principal components" for n in PCA_LEVELS]
        return out + ([f"{n} whitened principal components" for n in PCA_LEVELS] if _WHITEN.search(q) else [])
    return []


def derive_design(topic: ResearchTopic) -> DesignSpec:
    q = topic.problem_statement
    methods = named_methods(q)
    metrics = named_metrics(topic)
    factors = _factors(q)
    domain = _domain(topic)
    from nanoresearch.scaffolds.build import SUPERVISED_DOMAINS

    if factors and len(methods) >= 2 and (_RANKING.search(q) or _CHANGE.search(q) or _EFFECT.search(q)):
        names = [n for _, n in factors]
        levels = ([f"without {names[0]}", f"with {names[0]}"] if len(names) == 1 else
                  ["without preprocessing", *(f"with {n}" for n in names)])
        return DesignSpec(kind="factorial", methods=methods, factor=" or ".join(names), levels=levels,
                          metrics=metrics, arms=[f"{m} {lv}" for m in methods for lv in levels],
                          rationale=f"the question asks whether {' and '.join(repr(w) for w, _ in factors)} "
                                    f"change the result of {len(methods)} named methods: every method runs "
                                    "in every condition")
    if _ROBUST.search(q):
        runs = domain in SUPERVISED_DOMAINS
        return DesignSpec(kind="robustness", methods=methods, factor="test-time perturbation",
                          levels=robustness_levels(q, domain), metrics=metrics,
                          rationale="the question is about robustness to a perturbed test set: every "
                                    "method is scored on the clean and on perturbed test sets",
                          unrealised=[] if runs else [f"perturbed test sets are not generated by the "
                                                      f"offline {domain} harness"])
    if (caps := capacity_levels(q, domain)) and not _DATA_SIZE.search(q):
        axis = "hash buckets" if "hash" in caps[0] else "principal components"
        return DesignSpec(kind="capacity", methods=methods, factor=f"number of {axis}", levels=caps,
                          metrics=metrics,
                          rationale=f"the question asks how the result changes with the number of {axis}: "
                                    f"the reference method is refitted at each of {len(caps)} levels and "
                                    "compared with itself on all features")
    if _SCALING.search(q):
        data_size = bool(_DATA_SIZE.search(q)) and domain in SUPERVISED_DOMAINS
        return DesignSpec(kind="scaling", methods=methods,
                          factor="training-set size" if _DATA_SIZE.search(q) else "model or feature capacity",
                          levels=scaling_levels(q) if data_size else [], metrics=metrics,
                          rationale="the question asks how a result changes along an axis"
                                    + (": learning curves over shares of the training split" if data_size else ""),
                          unrealised=[] if data_size else [
                              "curves over this axis are not run by the offline harness; only the "
                              "full-size configuration ran"])
    if _ABLATE.search(q) and len(methods) <= 1:
        return DesignSpec(kind="ablation", methods=methods, metrics=metrics,
                          rationale="the question asks whether one component helps: run with and without it")
    return DesignSpec(kind="comparison", methods=methods, metrics=metrics,
                      rationale="the question compares methods on the named data")


def apply_design(bp: Blueprint, topic: ResearchTopic) -> list[str]:
    """Make the blueprint's arms those the design needs; returns what changed."""
    d = bp.design
    if d is None or d.kind != "factorial":
        return []
    first, *rest = d.arms
    bp.proposed_method.name = first[:120]
    bp.proposed_method.description = (f"{first}: the first arm of a {len(d.methods)} x {len(d.levels)} "
                                      f"factorial design ({', '.join(d.methods)} x {' / '.join(d.levels)})")
    from nanoresearch.types import MethodSpec

    bp.baselines = [MethodSpec(name=a, description=f"{a.split(' with')[0]} run {a[len(a.split(' with')[0]):].strip()}")
                    for a in rest]
    bp.ablations = []  # the "without" arms are the ablation of the intervention
    return [f"factorial arms: {', '.join(d.arms)}"]


def add_missing_methods(bp: Blueprint) -> list[str]:
    """A method the question names but no arm runs becomes a baseline (never dropped)."""
    from nanoresearch.types import MethodSpec

    d, added = bp.design, []
    for m in (d.methods if d else []):
        if m not in named_methods(" | ".join(_arms(bp))):
            bp.baselines.append(MethodSpec(name=m, description="named in the research question"))
            added.append(m)
    return ([f"added named method(s) {', '.join(added)}"] if added else []) + drop_covered(bp)


def drop_covered(bp: Blueprint) -> list[str]:
    """A method added because the question names it ("MLP") goes again when another
    baseline already runs it under a fuller name ("MLP (1 hidden layer)", added later by
    the reviewer): otherwise the same model runs twice, or one name silently never runs."""
    out = []
    for b in list(bp.baselines):
        key = re.escape(b.name.lower())
        inside = rf"(?<!\w){key}(?!\w)" if b.description == "named in the research question" \
            else rf"^{key}\s*\([^)]*\)$"  # any name: "MLP" beside "MLP (1 hidden layer)"
        if any(o is not b and re.search(inside, o.name.lower()) for o in [bp.proposed_method, *bp.baselines]):
            bp.baselines.remove(b)
            out.append(f"dropped {b.name!r}: another arm runs it")
    return out


def _arms(bp: Blueprint) -> list[str]:
    return [bp.proposed_method.name, *(b.name for b in bp.baselines)]


def design_issues(bp: Blueprint, topic: ResearchTopic) -> list[str]:
    """Why the blueprint does not answer the question (empty when it does)."""
    d = bp.design or derive_design(topic)
    arms = " | ".join(_arms(bp)).lower()
    out = []
    for m in d.methods:
        if m not in named_methods(arms):
            out.append(f"the question names {m!r} but no arm runs it")
    for ds in topic.datasets:
        if not any(ds == s.name or ds in s.notes for s in bp.datasets):
            out.append(f"the question's dataset {ds!r} is not used")
    for m in d.metrics:
        if m not in bp.metrics:
            out.append(f"the question measures {m!r} but the blueprint does not report it")
    if d.metrics and bp.primary_metric and bp.primary_metric not in d.metrics:
        out.append(f"the question measures {d.metrics[0]!r} but the primary metric is {bp.primary_metric!r}")
    if d.kind == "factorial":
        for arm in d.arms:
            if arm.lower() not in [a.lower() for a in _arms(bp)]:
                out.append(f"factorial arm {arm!r} is missing: without it the ranking change with "
                           f"and without {d.factor} cannot be measured")
    if d.kind in ("scaling", "robustness", "capacity") and len(d.levels) > 1 and not d.unrealised:
        from nanoresearch.scaffolds.build import design_config

        if not design_config(d.kind, d.levels, _domain(topic)):
            out.append(f"the {d.kind} design has no runnable conditions ({', '.join(d.levels)})")
    from nanoresearch.scaffolds import techniques

    for t, negated in techniques.named(topic.problem_statement):
        if not negated and not any(t.pattern.search(a) for a in _arms(bp)):
            out.append(f"the question asks about {t.name} but no arm runs it")
    if d.kind == "ablation" and not bp.ablations:
        out.append("the question asks whether a component helps, but no ablation removes it")
    return out
